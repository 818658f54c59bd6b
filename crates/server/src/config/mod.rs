//! Configuration: the redis.conf directive table, parsing of config files and command-line
//! options, and the typed [`Config`] the server reads.
//!
//! Each directive is declared once in [`table`], which generates a field of `Config` (named
//! after the directive, `-` becoming `_`) and a [`Directive`] entry that knows how to parse,
//! validate and render it. The same entries serve config files, `--name value` options,
//! CONFIG GET/SET and CONFIG REWRITE, so they cannot disagree.
//!
//! Values are parsed with Redis's rules and rejected with Redis's messages: booleans are
//! `yes`/`no`; memory sizes take `k`/`kb`/`m`/`mb`/`g`/`gb` units; enums are case-insensitive.

pub mod load;
pub mod rewrite;
pub mod special;
pub mod table;

pub use load::{load_from_args, ConfigError, StartOptions};
pub use table::Config;

/// Directive flags (Redis's `*_CONFIG` flags).
pub mod flags {
    pub const MODIFIABLE: u32 = 0;
    pub const IMMUTABLE: u32 = 1 << 0;
    pub const SENSITIVE: u32 = 1 << 1;
    pub const DEBUG: u32 = 1 << 2;
    pub const MULTI_ARG: u32 = 1 << 3;
    pub const HIDDEN: u32 = 1 << 4;
    pub const PROTECTED: u32 = 1 << 5;
    pub const DENY_LOADING: u32 = 1 << 6;
    pub const VOLATILE: u32 = 1 << 7;
}

/// How a directive's value is read and written.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes, with optional units.
    Memory {
        min: i64,
        max: i64,
    },
    /// Bytes, or a percentage written `N%` and stored as `-N`.
    MemoryOrPercent {
        min: i64,
        max: i64,
    },
    Octal {
        min: i64,
        max: i64,
    },
    /// Free text. `empty_is_null`: an empty value means "unset".
    Str {
        empty_is_null: bool,
    },
    /// One of a fixed set of words (several, for multi-argument enums).
    Enum(&'static [&'static str]),
    /// Its own syntax (see [`special`]).
    Special,
}

/// A value type a directive can have.
pub trait Setting: Sized {
    /// Parses the arguments after the directive name.
    fn parse(kind: &Kind, args: &[&str]) -> Result<Self, String>;
    /// The value as CONFIG GET shows it.
    fn render(&self, kind: &Kind) -> String;
    /// The arguments CONFIG REWRITE writes (one line per element); by default, the rendered
    /// value as one argument.
    fn rewrite(&self, kind: &Kind) -> Vec<String> {
        vec![quote_if_needed(&self.render(kind))]
    }
}

/// One directive.
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub flags: u32,
    pub kind: Kind,
    pub get: fn(&Config) -> String,
    pub set: fn(&mut Config, &[&str]) -> Result<(), String>,
    pub rewrite: fn(&Config) -> Vec<String>,
    /// The default value, rendered (for CONFIG REWRITE to skip lines equal to the default).
    pub default: fn() -> Vec<String>,
}

impl Directive {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// Declares the `Config` struct and the `DIRECTIVES` table from one list.
macro_rules! directives {
    ($( $field:ident : $ty:ty = $default:expr, $name:literal, $alias:expr, $flags:expr, $kind:expr; )*) => {
        /// Every directive's current value.
        #[derive(Debug, Clone)]
        pub struct Config {
            $( pub $field: $ty, )*
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $( $field: $default, )* }
            }
        }

        /// The directive table.
        pub static DIRECTIVES: &[$crate::config::Directive] = &[
            $( $crate::config::Directive {
                name: $name,
                alias: $alias,
                flags: $flags,
                kind: $kind,
                get: |c: &Config| $crate::config::Setting::render(&c.$field, &$kind),
                set: |c: &mut Config, args: &[&str]| {
                    c.$field = <$ty as $crate::config::Setting>::parse(&$kind, args)?;
                    Ok(())
                },
                rewrite: |c: &Config| $crate::config::Setting::rewrite(&c.$field, &$kind),
                default: || { let d: $ty = $default; $crate::config::Setting::rewrite(&d, &$kind) },
            }, )*
        ];
    };
}
pub(crate) use directives;

/// Finds a directive by name or alias, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static Directive> {
    table::DIRECTIVES.iter().find(|d| {
        d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

fn one_arg<'a>(args: &[&'a str]) -> Result<&'a str, String> {
    match args {
        [one] => Ok(one),
        _ => Err("wrong number of arguments".to_string()),
    }
}

impl Setting for bool {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        match one_arg(args)?.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err("argument must be 'yes' or 'no'".to_string()),
        }
    }

    fn render(&self, _: &Kind) -> String {
        if *self { "yes" } else { "no" }.to_string()
    }
}

/// Parses a memory size with Redis's units (`memtoull`): `b`, `k`=1000, `kb`=1024, `m`, `mb`,
/// `g`, `gb`, case-insensitive. As in Redis, a sign is an error and missing digits read as 0
/// (`""` and `"kb"` are 0).
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(digits_end);
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    n.checked_mul(mul)
}

/// Renders a byte count with the largest exact unit, as CONFIG REWRITE does.
pub fn render_memory_human(v: i64) -> String {
    const GB: i64 = 1024 * 1024 * 1024;
    const MB: i64 = 1024 * 1024;
    if v != 0 && v % GB == 0 {
        format!("{}gb", v / GB)
    } else if v != 0 && v % MB == 0 {
        format!("{}mb", v / MB)
    } else if v != 0 && v % 1024 == 0 {
        format!("{}kb", v / 1024)
    } else {
        v.to_string()
    }
}

impl Setting for i64 {
    fn parse(kind: &Kind, args: &[&str]) -> Result<Self, String> {
        let s = one_arg(args)?;
        let (v, min, max) = match *kind {
            Kind::Int { min, max } => {
                let v = s
                    .parse::<i64>()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                (v, min, max)
            }
            Kind::Memory { min, max } => (
                parse_memory(s).ok_or_else(|| "argument must be a memory value".to_string())?,
                min,
                max,
            ),
            Kind::MemoryOrPercent { min, max } => {
                let v = match s.strip_suffix('%') {
                    Some(p) => {
                        -p.parse::<i64>().ok().filter(|p| *p >= 0).ok_or_else(|| {
                            "argument must be a memory or percent value".to_string()
                        })?
                    }
                    None => parse_memory(s)
                        .ok_or_else(|| "argument must be a memory or percent value".to_string())?,
                };
                if v < 0 && -v > -min {
                    return Err(format!(
                        "percentage argument must be less or equal to {}",
                        -min
                    ));
                }
                return if v > max {
                    Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ))
                } else {
                    Ok(v)
                };
            }
            Kind::Octal { min, max } => {
                let v = i64::from_str_radix(s, 8)
                    .map_err(|_| "argument couldn't be parsed as an octal number".to_string())?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min:o} and {max:o} inclusive"
                    ));
                }
                return Ok(v);
            }
            _ => unreachable!("i64 directive with kind {kind:?}"),
        };
        if v < min || v > max {
            return Err(format!(
                "argument must be between {min} and {max} inclusive"
            ));
        }
        Ok(v)
    }

    fn render(&self, kind: &Kind) -> String {
        match kind {
            Kind::Octal { .. } => format!("{:o}", self),
            Kind::MemoryOrPercent { .. } if *self < 0 => format!("{}%", -self),
            _ => self.to_string(),
        }
    }

    fn rewrite(&self, kind: &Kind) -> Vec<String> {
        match kind {
            Kind::Memory { .. } => vec![render_memory_human(*self)],
            Kind::MemoryOrPercent { .. } if *self >= 0 => vec![render_memory_human(*self)],
            _ => vec![self.render(kind)],
        }
    }
}

impl Setting for String {
    fn parse(kind: &Kind, args: &[&str]) -> Result<Self, String> {
        match kind {
            Kind::Enum(words) => {
                if args.is_empty() {
                    return Err("wrong number of arguments".to_string());
                }
                let mut chosen = vec![false; words.len()];
                for a in args {
                    let lower = a.to_ascii_lowercase();
                    let Some(i) = words.iter().position(|w| *w == lower) else {
                        return Err(format!(
                            "argument(s) must be one of the following: {}",
                            words.join(", ")
                        ));
                    };
                    chosen[i] = true;
                }
                // Several words make a set of flags (shutdown-on-sigint): Redis shows them in
                // its table's order, and its first word, the empty set, only alone.
                if chosen.iter().filter(|c| **c).count() > 1 {
                    chosen[0] = false;
                }
                let out: Vec<&str> = words
                    .iter()
                    .zip(&chosen)
                    .filter_map(|(w, c)| c.then_some(*w))
                    .collect();
                Ok(out.join(" "))
            }
            _ => Ok(one_arg(args)?.to_string()),
        }
    }

    fn render(&self, _: &Kind) -> String {
        self.clone()
    }
}

/// Quotes a value for a config file line when it is empty or has blanks or quotes.
pub fn quote_if_needed(s: &str) -> String {
    if s.is_empty()
        || s.bytes()
            .any(|c| c.is_ascii_whitespace() || c == b'"' || c == b'\'' || !c.is_ascii_graphic())
    {
        let mut out = Vec::new();
        rudis_resp::inline::repr(s.as_bytes(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    } else {
        s.to_string()
    }
}

impl Config {
    /// CONFIG GET's value of a directive by name or alias.
    pub fn get(&self, name: &str) -> Option<String> {
        lookup(name).map(|d| (d.get)(self))
    }

    /// Sets one directive from its arguments (config-file semantics: a multi-argument
    /// directive given one argument has it split on blanks).
    pub fn set(&mut self, name: &str, args: &[&str]) -> Result<(), String> {
        let d =
            lookup(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        if d.has(flags::MULTI_ARG) {
            if let [one] = args {
                if !one.is_empty() {
                    let split = rudis_resp::inline::split_args(one.as_bytes())
                        .map_err(|_| "Unbalanced quotes in configuration line".to_string())?;
                    let owned: Vec<String> = split
                        .into_iter()
                        .map(|a| String::from_utf8_lossy(&a).into_owned())
                        .collect();
                    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                    return (d.set)(self, &refs);
                }
            }
        } else if args.len() != 1 {
            return Err("wrong number of arguments".to_string());
        }
        (d.set)(self, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_redis() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.databases, 16);
        assert!(c.protected_mode);
        assert_eq!(c.get("maxmemory-policy").unwrap(), "noeviction");
        assert_eq!(c.get("proto-max-bulk-len").unwrap(), "536870912");
        assert_eq!(c.get("save").unwrap(), "3600 1 300 100 60 10000");
        assert_eq!(c.get("bind").unwrap(), "* -::*");
        assert_eq!(c.get("slave-read-only").unwrap(), "yes");
        assert_eq!(c.get("unixsocketperm").unwrap(), "0");
    }

    #[test]
    fn parse_errors_use_redis_texts() {
        let mut c = Config::default();
        assert_eq!(
            c.set("port", &["abc"]).unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            c.set("port", &["70000"]).unwrap_err(),
            "argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(
            c.set("protected-mode", &["maybe"]).unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert!(c
            .set("loglevel", &["loud"])
            .unwrap_err()
            .starts_with("argument(s) must be one of the following: debug"));
        c.set("maxmemory", &["1GB"]).unwrap();
        assert_eq!(c.maxmemory, 1 << 30);
        assert_eq!(
            c.set("maxmemory", &["-1"]).unwrap_err(),
            "argument must be a memory value"
        );
        c.set("maxmemory", &[""]).unwrap();
        assert_eq!(c.maxmemory, 0);
        c.set("save", &["900 1 300 10"]).unwrap();
        assert_eq!(c.get("save").unwrap(), "900 1 300 10");
        c.set("save", &[""]).unwrap();
        assert_eq!(c.get("save").unwrap(), "");
        c.set("shutdown-on-sigint", &["FORCE now nosave now"])
            .unwrap();
        assert_eq!(c.get("shutdown-on-sigint").unwrap(), "nosave now force");
        c.set("shutdown-on-sigint", &["default save"]).unwrap();
        assert_eq!(c.get("shutdown-on-sigint").unwrap(), "save");
        c.set("shutdown-on-sigint", &["default"]).unwrap();
        assert_eq!(c.get("shutdown-on-sigint").unwrap(), "default");
    }

    #[test]
    fn every_default_parses_back() {
        for d in table::DIRECTIVES {
            let mut c = Config::default();
            let value = (d.get)(&c);
            let r = c.set(d.name, &[value.as_str()]);
            assert!(
                r.is_ok() || d.name == "dir" || d.name == "replicaof",
                "{}: {:?} -> {:?}",
                d.name,
                value,
                r
            );
        }
    }
}
