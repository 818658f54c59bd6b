//! Glob-style matching with Redis's exact rules (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET,
//! CLIENT KILL patterns): `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]` (ends may come
//! in either order), `\x` a literal `x`. An unterminated `[` set runs to the end of the
//! pattern. Matching is bytewise; `nocase` folds ASCII case.

/// True if `string` matches `pattern`.
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_impl(mut p: &[u8], mut s: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, nocase, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // No match for the rest anywhere in the string: a longer match for an
                // earlier `*` cannot help either.
                *skip_longer = true;
                return false;
            }
            b'?' => {
                p = &p[1..];
                s = &s[1..];
            }
            b'[' => {
                let (matched, rest) = match_set(&p[1..], s[0], nocase);
                if !matched {
                    return false;
                }
                p = rest;
                s = &s[1..];
            }
            c => {
                let (lit, rest) = if c == b'\\' && p.len() >= 2 {
                    (p[1], &p[2..])
                } else {
                    (c, &p[1..])
                };
                if !eq(lit, s[0], nocase) {
                    return false;
                }
                p = rest;
                s = &s[1..];
            }
        }
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// Matches `c` against a `[...]` set whose body starts at `p` (after the `[`). Returns whether
/// it matched and the pattern after the closing `]` (empty if the set was not closed).
fn match_set(mut p: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    let negate = p.first() == Some(&b'^');
    if negate {
        p = &p[1..];
    }
    let mut matched = false;
    loop {
        match p {
            [] => return (matched != negate, p),
            [b']', rest @ ..] => return (matched != negate, rest),
            [b'\\', x, rest @ ..] => {
                matched |= *x == c;
                p = rest;
            }
            [lo, b'-', hi, rest @ ..] => {
                let (mut lo, mut hi, mut x) = (*lo, *hi, c);
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                if nocase {
                    lo = lo.to_ascii_lowercase();
                    hi = hi.to_ascii_lowercase();
                    x = x.to_ascii_lowercase();
                }
                matched |= (lo..=hi).contains(&x);
                p = rest;
            }
            [x, rest @ ..] => {
                matched |= eq(*x, c, nocase);
                p = rest;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn redis_glob_rules() {
        assert!(!m("*", ""), "as in Redis: callers special-case a lone *");
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("foo*bar*", "foo_x_bar_y"));
        assert!(m("[abc", "a"));
        assert!(!m("abc", "ab"));
        assert!(m("ab*", "ab"));
        assert!(matches(b"HELLO", b"hello", true));
        assert!(!matches(b"HELLO", b"hello", false));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let s = "a".repeat(100);
        let p = "*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let start = std::time::Instant::now();
        assert!(!m(p, &s));
        assert!(start.elapsed().as_millis() < 500);
    }
}
