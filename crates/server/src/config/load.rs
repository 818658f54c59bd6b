//! Start-up configuration: `rudis-server [configfile] [--directive value ...]`, read exactly as
//! redis-server reads it. The file's lines come first, then each `--name args` option as one
//! more line, so options override the file. The first error stops start-up with Redis's
//! report: the file, the line number, the line, and the reason.

use std::fmt;

use super::Config;

/// Options that are not directives.
#[derive(Debug, Default, Clone)]
pub struct StartOptions {
    pub config_file: Option<String>,
    pub sentinel: bool,
    pub version: bool,
    pub help: bool,
    /// `rename-command` lines, applied to the command table after loading.
    pub renames: Vec<(String, String)>,
    /// `include`d files, for CONFIG REWRITE to leave alone.
    pub includes: Vec<String>,
    /// A `save` line was read: later ones add save points instead of replacing them.
    save_seen: bool,
}

/// A fatal configuration error, printed like Redis's "FATAL CONFIG FILE ERROR".
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: Option<String>,
    pub line_number: usize,
    pub line: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Rudis {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        match &self.file {
            Some(file) => writeln!(
                f,
                "Reading the configuration file {file}, at line {}",
                self.line_number
            )?,
            None => writeln!(
                f,
                "Reading the configuration file, at line {}",
                self.line_number
            )?,
        }
        writeln!(f, ">>> '{}'", self.line)?;
        write!(f, "{}", self.reason)
    }
}

/// Directives Redis still accepts and ignores.
const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Reads the command line (without the program name) and the config file it names.
pub fn load_from_args(args: &[String]) -> Result<(Config, StartOptions), ConfigError> {
    let mut opts = StartOptions::default();
    let mut rest = args;
    if let Some(first) = rest.first() {
        match first.as_str() {
            "-v" | "--version" => {
                opts.version = true;
                return Ok((Config::default(), opts));
            }
            "-h" | "--help" => {
                opts.help = true;
                return Ok((Config::default(), opts));
            }
            _ => {}
        }
        if !first.starts_with("--") || first == "-" {
            opts.config_file = Some(first.clone());
            rest = &rest[1..];
        }
    }
    let mut option_lines = Vec::new();
    for arg in rest {
        if arg == "--sentinel" {
            opts.sentinel = true;
            continue;
        }
        if let Some(name) = arg
            .strip_prefix("--")
            .filter(|n| !n.is_empty() && option_lines_accepts_name(arg))
        {
            option_lines.push(format!("{name} "));
        } else {
            let line = option_lines.last_mut();
            let mut quoted = Vec::new();
            rudis_resp::inline::repr(arg.as_bytes(), &mut quoted);
            match line {
                Some(l) => {
                    l.push_str(&String::from_utf8_lossy(&quoted));
                    l.push(' ');
                }
                None => {
                    return Err(ConfigError {
                        file: None,
                        line_number: 0,
                        line: arg.clone(),
                        reason: "Invalid option: expected --directive".to_string(),
                    })
                }
            }
        }
    }
    let mut config = Config::default();
    if let Some(path) = opts.config_file.clone() {
        let text = read_config_file(&path)?;
        apply_text(&mut config, &mut opts, &text, Some(&path))?;
    }
    apply_text(&mut config, &mut opts, &option_lines.join("\n"), None)?;
    Ok((config, opts))
}

/// `--name` starts a new option unless it looks like a negative number value.
fn option_lines_accepts_name(arg: &str) -> bool {
    !arg[2..].starts_with(|c: char| c.is_ascii_digit())
}

fn read_config_file(path: &str) -> Result<String, ConfigError> {
    let read = if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    read.map_err(|e| ConfigError {
        file: Some(path.to_string()),
        line_number: 0,
        line: String::new(),
        reason: format!(
            "Fatal error, can't open config file '{path}': {}",
            super::special::io_error_text(&e)
        ),
    })
}

/// Applies config-file text line by line.
pub fn apply_text(
    config: &mut Config,
    opts: &mut StartOptions,
    text: &str,
    file: Option<&str>,
) -> Result<(), ConfigError> {
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |reason: String| ConfigError {
            file: file.map(str::to_string),
            line_number: i + 1,
            line: line.to_string(),
            reason,
        };
        let args = rudis_resp::inline::split_args(line.as_bytes())
            .map_err(|_| fail("Unbalanced quotes in configuration line".to_string()))?;
        let args: Vec<String> = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        let Some((name, values)) = args.split_first() else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        apply_line(config, opts, &name, &values).map_err(fail)?;
    }
    Ok(())
}

fn apply_line(
    config: &mut Config,
    opts: &mut StartOptions,
    name: &str,
    values: &[&str],
) -> Result<(), String> {
    if super::lookup(name).is_some() {
        if name == "save" {
            // The first `save` line replaces the defaults; later ones add points; `save ""`
            // clears them.
            let before = std::mem::take(&mut config.save.0);
            config.set(name, values)?;
            if opts.save_seen && !(values.len() == 1 && values[0].is_empty()) {
                let added = std::mem::replace(&mut config.save.0, before);
                config.save.0.extend(added);
            }
            opts.save_seen = true;
            return Ok(());
        }
        if name == "client-output-buffer-limit" {
            // Each line adjusts one class on top of what is already set.
            let mut limits = config.client_output_buffer_limit.clone();
            let split;
            let values = if values.len() == 1 {
                split = rudis_resp::inline::split_args(values[0].as_bytes())
                    .map_err(|_| "Unbalanced quotes".to_string())?;
                split
                    .iter()
                    .map(|v| std::str::from_utf8(v).unwrap_or(""))
                    .collect::<Vec<_>>()
            } else {
                values.to_vec()
            };
            limits.update(&values)?;
            config.client_output_buffer_limit = limits;
            return Ok(());
        }
        return config.set(name, values);
    }
    if DEPRECATED.contains(&name) {
        return Ok(());
    }
    match (name, values) {
        ("include", [path]) => {
            let text = read_config_file(path).map_err(|e| e.reason)?;
            opts.includes.push(path.to_string());
            apply_text(config, opts, &text, Some(path)).map_err(|e| e.to_string())
        }
        ("rename-command", [from, to]) => {
            opts.renames.push((from.to_string(), to.to_string()));
            Ok(())
        }
        ("sentinel", []) => {
            opts.sentinel = true;
            Ok(())
        }
        ("sentinel", _) if !opts.sentinel => {
            Err("sentinel directive while not in sentinel mode".to_string())
        }
        ("sentinel", _) | ("user", [_, ..]) | ("loadmodule", [_, ..]) => Ok(()),
        _ => Err("Bad directive or wrong number of arguments".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_override_file() {
        let dir = std::env::temp_dir().join(format!("rudis-conf-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.conf");
        std::fs::write(
            &file,
            "# comment\nport 7000\nsave 900 1\nsave 300 10\nbind 127.0.0.1 ::1\n",
        )
        .unwrap();
        let (c, o) = load_from_args(&args(&[
            file.to_str().unwrap(),
            "--port",
            "7001",
            "--maxmemory",
            "10mb",
        ]))
        .unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.save.0, vec![(900, 1), (300, 10)]);
        assert_eq!(c.maxmemory, 10 << 20);
        assert_eq!(c.bind.0, vec!["127.0.0.1", "::1"]);
        assert_eq!(o.config_file.as_deref(), file.to_str());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_line_and_reason() {
        let e = load_from_args(&args(&["--port", "notanumber"])).unwrap_err();
        assert_eq!(e.line_number, 1);
        assert_eq!(e.line, "port \"notanumber\"");
        assert_eq!(e.reason, "argument couldn't be parsed into an integer");
        let e = load_from_args(&args(&["--frobnicate", "yes"])).unwrap_err();
        assert_eq!(e.reason, "Bad directive or wrong number of arguments");
        assert!(e.to_string().contains("FATAL CONFIG FILE ERROR"));
    }

    #[test]
    fn empty_save_option() {
        let (c, _) = load_from_args(&args(&["--save", "", "--appendonly", "no"])).unwrap();
        assert!(c.save.0.is_empty());
    }
}
