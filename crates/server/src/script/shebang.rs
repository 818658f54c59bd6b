//! Script flags: the `#!lua flags=...` shebang of an EVAL script and the flags of a
//! registered function, with Redis's names and errors.

/// The script may not write.
pub const NO_WRITES: u32 = 1 << 0;
/// The script may run even when memory is over `maxmemory`.
pub const ALLOW_OOM: u32 = 1 << 1;
/// The script may run on a stale replica.
pub const ALLOW_STALE: u32 = 1 << 2;
/// The script may not run in cluster mode.
pub const NO_CLUSTER: u32 = 1 << 3;
/// The script may touch keys of several slots.
pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
/// No shebang: an EVAL script in the compatibility mode of Redis 6 (checks per command).
pub const EVAL_COMPAT: u32 = 1 << 5;

/// The flags and their names, in Redis's order.
pub const NAMES: &[(u32, &str)] = &[
    (NO_WRITES, "no-writes"),
    (ALLOW_OOM, "allow-oom"),
    (ALLOW_STALE, "allow-stale"),
    (NO_CLUSTER, "no-cluster"),
    (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
];

/// Parses the shebang of an EVAL script: its flags and the length of the shebang line
/// (the newline stays, so line numbers don't move).
pub fn parse(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts: Vec<&str> = line.split(' ').filter(|p| !p.is_empty()).collect();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if *engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        for name in list.split(',') {
            match NAMES.iter().find(|(_, n)| *n == name) {
                Some((f, _)) => flags |= f,
                None => return Err(format!("Unexpected flag in script shebang: {name}")),
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(parse(b"return 1"), Ok((EVAL_COMPAT, 0)));
        assert_eq!(parse(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(
            parse(b"#!lua flags=no-writes,allow-oom\nx"),
            Ok((NO_WRITES | ALLOW_OOM, 31))
        );
        assert_eq!(parse(b"#!lua"), Err("Invalid script shebang".into()));
        assert_eq!(
            parse(b"#!py\n"),
            Err("Unexpected engine in script shebang: #!py".into())
        );
        assert_eq!(
            parse(b"#!lua x=1\n"),
            Err("Unknown lua shebang option: x=1".into())
        );
        assert_eq!(
            parse(b"#!lua flags=bad\n"),
            Err("Unexpected flag in script shebang: bad".into())
        );
    }
}
