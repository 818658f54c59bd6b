//! The quoting rules shared by inline commands and redis.conf lines: tokens separated by
//! blanks, `"double quotes"` with C escapes (`\n`, `\r`, `\t`, `\b`, `\a`, `\xHH`), and
//! `'single quotes'` where only `\'` is special. A closing quote must be followed by a blank
//! or the end of the line. As in C, a NUL byte ends the line.

/// Why a line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbalancedQuotes;

/// Splits one line into arguments. Returns `Err` on unbalanced quotes, or a closing quote
/// followed directly by a non-blank.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, UnbalancedQuotes> {
    let end = line.iter().position(|&c| c == 0).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(args);
        }
        let mut current = Vec::new();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = at(i);
            if in_double {
                if c == b'\\'
                    && at(i + 1) == b'x'
                    && hex(at(i + 2)).is_some()
                    && hex(at(i + 3)).is_some()
                {
                    current.push(hex(at(i + 2)).unwrap_or(0) * 16 + hex(at(i + 3)).unwrap_or(0));
                    i += 3;
                } else if c == b'\\' && at(i + 1) != 0 {
                    i += 1;
                    current.push(match at(i) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            i += 1;
                        }
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => current.push(c),
                }
            }
            i += 1;
        }
        args.push(current);
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Quotes `s` so that [`split_args`] reads it back as one argument (Redis's `sdscatrepr`).
pub fn repr(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{:02x}", c).as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>, UnbalancedQuotes> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    #[test]
    fn splits_like_redis() {
        assert_eq!(split("set a b").unwrap(), ["set", "a", "b"]);
        assert_eq!(
            split("  set   \"a b\"  'c d' ").unwrap(),
            ["set", "a b", "c d"]
        );
        assert_eq!(split("\"\\x41\\n\"").unwrap(), ["A\n"]);
        assert_eq!(split("'it\\'s'").unwrap(), ["it's"]);
        assert_eq!(split("a\"b c\"").unwrap(), ["ab c"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert!(split("\"abc").is_err());
        assert!(split("\"abc\"d").is_err());
        assert!(split("'abc").is_err());
    }

    proptest::proptest! {
        #[test]
        fn repr_roundtrips(s: Vec<u8>) {
            proptest::prop_assume!(!s.contains(&0));
            let mut out = Vec::new();
            repr(&s, &mut out);
            proptest::prop_assert_eq!(split_args(&out).unwrap(), vec![s]);
        }

        #[test]
        fn never_panics(s: Vec<u8>) {
            let _ = split_args(&s);
        }
    }
}
