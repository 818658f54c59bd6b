//! Directives with their own syntax: `dir`, `save`, `client-output-buffer-limit`,
//! `oom-score-adj-values`, `notify-keyspace-events`, `bind`, `replicaof`,
//! `latency-tracking-info-percentiles`.

use super::{parse_memory, quote_if_needed, render_memory_human, Kind, Setting};

fn wrong_args() -> String {
    "wrong number of arguments".to_string()
}

/// `dir`: the working directory. Validated on parse; the server changes into it on apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Dir(pub String);

impl Default for Dir {
    fn default() -> Self {
        Dir(std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| ".".into()))
    }
}

impl Setting for Dir {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        let [path] = args else {
            return Err(wrong_args());
        };
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err("Not a directory".to_string()),
            Err(e) => return Err(io_error_text(&e)),
        }
        let abs = std::fs::canonicalize(path).map_err(|e| io_error_text(&e))?;
        Ok(Dir(abs.to_string_lossy().into_owned()))
    }

    fn render(&self, _: &Kind) -> String {
        self.0.clone()
    }
}

/// `strerror` text for an I/O error, as Redis prints it.
pub fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

/// `save`: snapshot after `seconds` if at least `changes` writes happened.
#[derive(Debug, Clone, PartialEq)]
pub struct SavePoints(pub Vec<(i64, i64)>);

impl Default for SavePoints {
    fn default() -> Self {
        SavePoints(vec![(3600, 1), (300, 100), (60, 10000)])
    }
}

impl Setting for SavePoints {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        let args: &[&str] = if args.len() == 1 && args[0].is_empty() {
            &[]
        } else {
            args
        };
        if !args.len().is_multiple_of(2) {
            return Err("Invalid save parameters".to_string());
        }
        let mut points = Vec::new();
        for pair in args.chunks(2) {
            let secs = pair[0].parse::<i64>().ok().filter(|s| *s >= 1);
            let changes = pair[1].parse::<i64>().ok().filter(|c| *c >= 0);
            match (secs, changes) {
                (Some(s), Some(c)) => points.push((s, c)),
                _ => return Err("Invalid save parameters".to_string()),
            }
        }
        Ok(SavePoints(points))
    }

    fn render(&self, _: &Kind) -> String {
        self.0
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn rewrite(&self, _: &Kind) -> Vec<String> {
        if self.0.is_empty() {
            vec!["\"\"".to_string()]
        } else {
            self.0.iter().map(|(s, c)| format!("{s} {c}")).collect()
        }
    }
}

/// One class's output buffer limit: hard bytes, soft bytes, soft seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    pub hard_bytes: i64,
    pub soft_bytes: i64,
    pub soft_seconds: i64,
}

/// `client-output-buffer-limit`: per client class.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputBufferLimits {
    pub normal: BufferLimit,
    pub replica: BufferLimit,
    pub pubsub: BufferLimit,
}

impl Default for OutputBufferLimits {
    fn default() -> Self {
        const MB: i64 = 1024 * 1024;
        OutputBufferLimits {
            normal: BufferLimit::default(),
            replica: BufferLimit {
                hard_bytes: 256 * MB,
                soft_bytes: 64 * MB,
                soft_seconds: 60,
            },
            pubsub: BufferLimit {
                hard_bytes: 32 * MB,
                soft_bytes: 8 * MB,
                soft_seconds: 60,
            },
        }
    }
}

impl OutputBufferLimits {
    fn classes(&self) -> [(&'static str, BufferLimit); 3] {
        [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ]
    }

    /// Applies `class hard soft seconds` groups onto `self`.
    pub fn update(&mut self, args: &[&str]) -> Result<(), String> {
        if args.is_empty() || !args.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".to_string());
        }
        let mut next = self.clone();
        for group in args.chunks(4) {
            let slot = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "slave" | "replica" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".to_string(),
                    )
                }
            };
            let hard = parse_memory(group[1]).filter(|v| *v >= 0);
            let soft = parse_memory(group[2]).filter(|v| *v >= 0);
            let secs = group[3].parse::<i64>().ok().filter(|v| *v >= 0);
            match (hard, soft, secs) {
                (Some(h), Some(s), Some(t)) => {
                    *slot = BufferLimit {
                        hard_bytes: h,
                        soft_bytes: s,
                        soft_seconds: t,
                    }
                }
                _ => return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_string(),
                ),
            }
        }
        *self = next;
        Ok(())
    }
}

impl Setting for OutputBufferLimits {
    /// Parses onto the defaults; CONFIG SET merges onto the current value instead (see
    /// [`OutputBufferLimits::update`]).
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        let mut v = OutputBufferLimits::default();
        v.update(args)?;
        Ok(v)
    }

    fn render(&self, _: &Kind) -> String {
        self.classes()
            .iter()
            .map(|(n, l)| format!("{n} {} {} {}", l.hard_bytes, l.soft_bytes, l.soft_seconds))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn rewrite(&self, _: &Kind) -> Vec<String> {
        self.classes()
            .iter()
            .map(|(n, l)| {
                format!(
                    "{n} {} {} {}",
                    render_memory_human(l.hard_bytes),
                    render_memory_human(l.soft_bytes),
                    l.soft_seconds
                )
            })
            .collect()
    }
}

/// `oom-score-adj-values`: for master, replica and background child.
#[derive(Debug, Clone, PartialEq)]
pub struct OomScoreAdjValues(pub [i64; 3]);

impl Default for OomScoreAdjValues {
    fn default() -> Self {
        OomScoreAdjValues([0, 200, 800])
    }
}

impl Setting for OomScoreAdjValues {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        if args.len() != 3 {
            return Err(wrong_args());
        }
        let mut v = [0; 3];
        for (i, a) in args.iter().enumerate() {
            v[i] = a
                .parse::<i64>()
                .ok()
                .filter(|x| (-2000..=2000).contains(x))
                .ok_or_else(|| {
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                        .to_string()
                })?;
        }
        Ok(OomScoreAdjValues(v))
    }

    fn render(&self, _: &Kind) -> String {
        format!("{} {} {}", self.0[0], self.0[1], self.0[2])
    }

    fn rewrite(&self, k: &Kind) -> Vec<String> {
        vec![self.render(k)]
    }
}

/// `notify-keyspace-events`: a set of event-class flags (see `keyspace::txn::event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotifyEvents(pub u32);

impl NotifyEvents {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    /// Everything `A` stands for (not key-miss `m`, not new-key `n`).
    pub const ALL: u32 = (1 << 2)
        | (1 << 3)
        | (1 << 4)
        | (1 << 5)
        | (1 << 6)
        | (1 << 7)
        | (1 << 8)
        | (1 << 9)
        | (1 << 10)
        | (1 << 13);
    const LETTERS: [(char, u32); 13] = [
        ('g', 1 << 2),
        ('$', 1 << 3),
        ('l', 1 << 4),
        ('s', 1 << 5),
        ('h', 1 << 6),
        ('z', 1 << 7),
        ('x', 1 << 8),
        ('e', 1 << 9),
        ('t', 1 << 10),
        ('m', 1 << 11),
        ('d', 1 << 13),
        ('n', 1 << 14),
        ('K', 1 << 0),
    ];

    pub fn from_text(s: &str) -> Option<u32> {
        let mut flags = 0;
        for c in s.chars() {
            flags |= match c {
                'A' => Self::ALL,
                'E' => Self::KEYEVENT,
                c => Self::LETTERS.iter().find(|(l, _)| *l == c)?.1,
            };
        }
        Some(flags)
    }
}

impl Setting for NotifyEvents {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        let [s] = args else { return Err(wrong_args()) };
        Self::from_text(s)
            .map(NotifyEvents)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())
    }

    fn render(&self, _: &Kind) -> String {
        let f = self.0;
        let mut s = String::new();
        if f & Self::ALL == Self::ALL {
            s.push('A');
        } else {
            for (c, bit) in Self::LETTERS.iter().take(9) {
                if f & bit != 0 {
                    s.push(*c);
                }
            }
            if f & (1 << 13) != 0 {
                s.push('d');
            }
        }
        if f & Self::KEYSPACE != 0 {
            s.push('K');
        }
        if f & Self::KEYEVENT != 0 {
            s.push('E');
        }
        if f & (1 << 11) != 0 {
            s.push('m');
        }
        if f & (1 << 14) != 0 {
            s.push('n');
        }
        s
    }
}

/// `bind`: listening addresses. A leading `-` marks an address that may be unavailable.
#[derive(Debug, Clone, PartialEq)]
pub struct BindAddrs(pub Vec<String>);

impl Default for BindAddrs {
    fn default() -> Self {
        BindAddrs(vec!["*".to_string(), "-::*".to_string()])
    }
}

impl Setting for BindAddrs {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        if args.len() > 16 {
            return Err("Too many bind addresses specified.".to_string());
        }
        let args: &[&str] = if args.len() == 1 && args[0].is_empty() {
            &[]
        } else {
            args
        };
        Ok(BindAddrs(args.iter().map(|s| s.to_string()).collect()))
    }

    fn render(&self, _: &Kind) -> String {
        self.0.join(" ")
    }

    fn rewrite(&self, _: &Kind) -> Vec<String> {
        vec![self
            .0
            .iter()
            .map(|a| quote_if_needed(a))
            .collect::<Vec<_>>()
            .join(" ")]
    }
}

/// `replicaof host port` (or unset).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicaOf(pub Option<(String, u16)>);

impl Setting for ReplicaOf {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        let [host, port] = args else {
            return Err(wrong_args());
        };
        if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
            return Ok(ReplicaOf(None));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| "Invalid master port".to_string())?;
        Ok(ReplicaOf(Some((host.to_string(), port))))
    }

    fn render(&self, _: &Kind) -> String {
        match &self.0 {
            Some((h, p)) => format!("{h} {p}"),
            None => String::new(),
        }
    }
}

/// A percentile as Redis writes it: `%f`, then trailing zeros (and a bare point) dropped,
/// so `99.9` is `99.9` and `50.0` is `50`.
pub fn format_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `latency-tracking-info-percentiles`.
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles(pub Vec<f64>);

impl Default for Percentiles {
    fn default() -> Self {
        Percentiles(vec![50.0, 99.0, 99.9])
    }
}

impl Setting for Percentiles {
    fn parse(_: &Kind, args: &[&str]) -> Result<Self, String> {
        let args: &[&str] = if args.len() == 1 && args[0].is_empty() {
            &[]
        } else {
            args
        };
        let mut out = Vec::new();
        for a in args {
            let p = rudis_resp::number::parse_f64(a.as_bytes()).ok_or_else(|| {
                "Invalid latency-tracking-info-percentiles parameters".to_string()
            })?;
            if !(0.0..=100.0).contains(&p) {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .to_string(),
                );
            }
            out.push(p);
        }
        Ok(Percentiles(out))
    }

    fn render(&self, _: &Kind) -> String {
        self.0
            .iter()
            .map(|p| format_percentile(*p))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn rewrite(&self, k: &Kind) -> Vec<String> {
        vec![self.render(k)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_flags_roundtrip() {
        let k = Kind::Special;
        assert_eq!(NotifyEvents::parse(&k, &["KEA"]).unwrap().render(&k), "AKE");
        assert_eq!(NotifyEvents::parse(&k, &["Kx$"]).unwrap().render(&k), "$xK");
        assert_eq!(NotifyEvents::parse(&k, &[""]).unwrap().render(&k), "");
        assert!(NotifyEvents::parse(&k, &["Q"]).is_err());
    }

    #[test]
    fn percentiles_render_like_redis() {
        let k = Kind::Special;
        assert_eq!(Percentiles::default().render(&k), "50 99 99.9");
        let p = Percentiles::parse(&k, &["0.0", "12.345", "100"]).unwrap();
        assert_eq!(p.render(&k), "0 12.345 100");
    }

    #[test]
    fn output_buffer_limits() {
        let mut l = OutputBufferLimits::default();
        l.update(&["pubsub", "1mb", "512kb", "10"]).unwrap();
        assert_eq!(l.pubsub.hard_bytes, 1 << 20);
        assert_eq!(
            l.render(&Kind::Special),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        );
        assert!(l.update(&["bogus", "1", "1", "1"]).is_err());
    }
}
