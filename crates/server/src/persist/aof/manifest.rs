//! The AOF manifest (`<appendfilename>.manifest` in `appenddirname`): which files make up the
//! append only file, in Redis 7's format. One line per file,
//! `file <name> seq <n> type <b|h|i>`: the base first, then history files, then the
//! incremental files in increasing sequence. A name that holds blanks, quotes or
//! unprintable bytes is written quoted and escaped; lines are split as Redis splits config
//! lines. Parsing is strict, with Redis's messages: the manifest is outside input.

use super::reader::leading_number;
use rudis_resp::inline::{repr, split_args};

/// Longest line Redis reads from a manifest.
const MAX_LINE_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

/// One file of the AOF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: i64,
    pub kind: FileKind,
}

/// The files of the AOF and the last sequence numbers handed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub history: Vec<AofFile>,
    pub incrs: Vec<AofFile>,
    pub base_seq: i64,
    pub incr_seq: i64,
}

/// Why a manifest was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub message: &'static str,
    /// (line number, the line) when a line is at fault.
    pub line: Option<(usize, String)>,
}

impl Manifest {
    /// Parses a manifest file's contents.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return Err(error("Found an empty AOF manifest", None));
        }
        for (i, raw) in text.split_inclusive(|&b| b == b'\n').enumerate() {
            if raw.first() == Some(&b'#') {
                continue;
            }
            let shown = || Some((i + 1, String::from_utf8_lossy(raw).trim().to_string()));
            if raw.len() > MAX_LINE_BYTES || raw.last() != Some(&b'\n') {
                return Err(error(
                    "The AOF manifest file contains too long line",
                    shown(),
                ));
            }
            let file = parse_line(raw).map_err(|message| error(message, shown()))?;
            m.add(file).map_err(|message| error(message, shown()))?;
        }
        Ok(m)
    }

    fn add(&mut self, file: AofFile) -> Result<(), &'static str> {
        match file.kind {
            FileKind::Base => {
                if self.base.is_some() {
                    return Err("Found duplicate base file information");
                }
                self.base_seq = file.seq;
                self.base = Some(file);
            }
            FileKind::History => self.history.push(file),
            FileKind::Incr => {
                if self.incrs.last().is_some_and(|last| file.seq <= last.seq) || file.seq <= 0 {
                    return Err("Found a non-monotonic sequence number");
                }
                self.incr_seq = file.seq;
                self.incrs.push(file);
            }
        }
        Ok(())
    }

    /// The manifest as Redis writes it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incrs);
        for f in files {
            let name = if needs_repr(&f.name) {
                let mut q = Vec::new();
                repr(f.name.as_bytes(), &mut q);
                String::from_utf8_lossy(&q).into_owned()
            } else {
                f.name.clone()
            };
            out.push_str(&format!(
                "file {name} seq {} type {}\n",
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// True when the manifest names no base and no incremental file.
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }

    /// Makes a new base file current (`<prefix>.<seq>.base.rdb|aof`), the old base becoming
    /// history. Returns its name.
    pub fn new_base(&mut self, prefix: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileKind::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = format!(
            "{prefix}.{}.base.{}",
            self.base_seq,
            if rdb { "rdb" } else { "aof" }
        );
        self.base = Some(AofFile {
            name: name.clone(),
            seq: self.base_seq,
            kind: FileKind::Base,
        });
        name
    }

    /// Adds a new incremental file (`<prefix>.<seq>.incr.aof`). Returns its name.
    pub fn new_incr(&mut self, prefix: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{prefix}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofFile {
            name: name.clone(),
            seq: self.incr_seq,
            kind: FileKind::Incr,
        });
        name
    }

    /// Every incremental file but the last (the one being written) becomes history.
    pub fn retire_incrs_but_last(&mut self) {
        let keep = self.incrs.pop();
        for mut f in self.incrs.drain(..).rev() {
            f.kind = FileKind::History;
            self.history.insert(0, f);
        }
        self.incrs.extend(keep);
    }
}

fn error(message: &'static str, line: Option<(usize, String)>) -> ManifestError {
    ManifestError { message, line }
}

fn parse_line(raw: &[u8]) -> Result<AofFile, &'static str> {
    const INVALID: &str = "Invalid AOF manifest file format";
    let line = raw.trim_ascii();
    if line.is_empty() {
        return Err(INVALID);
    }
    let args = split_args(line).map_err(|_| INVALID)?;
    if args.len() < 6 || args.len() % 2 != 0 {
        return Err(INVALID);
    }
    let (mut name, mut seq, mut kind) = (None, 0i64, None);
    for pair in args.chunks(2) {
        let (key, value) = (&pair[0], &pair[1]);
        if key.eq_ignore_ascii_case(b"file") {
            let n = String::from_utf8(value.clone()).map_err(|_| INVALID)?;
            if n.contains('/') {
                return Err("File can't be a path, just a filename");
            }
            name = Some(n);
        } else if key.eq_ignore_ascii_case(b"seq") {
            seq = leading_number(value.trim_ascii_start());
        } else if key.eq_ignore_ascii_case(b"type") {
            kind = value.first().copied();
        }
    }
    let (Some(name), Some(kind)) = (name.filter(|n| !n.is_empty()), kind) else {
        return Err(INVALID);
    };
    if seq == 0 {
        return Err(INVALID);
    }
    let kind = match kind {
        b'b' => FileKind::Base,
        b'h' => FileKind::History,
        b'i' => FileKind::Incr,
        _ => return Err("Unknown AOF file type"),
    };
    Ok(AofFile { name, seq, kind })
}

/// Whether the name is quoted in the manifest: where Redis quotes it, and also when it holds
/// a single quote (Redis writes such a name bare, and then cannot read its own manifest).
fn needs_repr(name: &str) -> bool {
    name.bytes().any(|c| {
        matches!(c, b'\\' | b'"' | b'\'' | b'\n' | b'\r' | b'\t' | 7 | 8)
            || !(0x20..0x7f).contains(&c)
            || c.is_ascii_whitespace()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_renders_redis_format() {
        let text = b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.3.incr.aof seq 3 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base_seq, 2);
        assert_eq!(m.incr_seq, 4);
        assert_eq!(m.render().as_bytes(), text);
    }

    #[test]
    fn quotes_names_like_redis() {
        let mut m = Manifest::default();
        m.new_base("a b", true);
        assert_eq!(m.render(), "file \"a b.1.base.rdb\" seq 1 type b\n");
        assert_eq!(Manifest::parse(m.render().as_bytes()).unwrap(), m);
    }

    #[test]
    fn refuses_bad_manifests_with_redis_messages() {
        let msg = |t: &[u8]| Manifest::parse(t).unwrap_err().message;
        assert_eq!(msg(b""), "Found an empty AOF manifest");
        assert_eq!(
            msg(b"file a seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
        assert_eq!(msg(b"\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(
            msg(b"file a/b seq 1 type b\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(
            msg(b"file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
        assert_eq!(
            msg(b"file a seq 2 type i\nfile b seq 1 type i\n"),
            "Found a non-monotonic sequence number"
        );
        // Comments are skipped; extra key/value pairs are accepted.
        assert!(Manifest::parse(b"# hi\nfile a seq 1 type b other x\n").is_ok());
    }

    #[test]
    fn rewrite_steps() {
        let mut m = Manifest::default();
        m.new_base("x", true);
        m.new_incr("x");
        m.new_incr("x");
        m.new_base("x", false);
        m.retire_incrs_but_last();
        assert_eq!(
            m.render(),
            "file x.2.base.aof seq 2 type b\nfile x.1.incr.aof seq 1 type h\nfile x.1.base.rdb seq 1 type h\nfile x.2.incr.aof seq 2 type i\n"
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Manifest::parse(&bytes);
        }

        #[test]
        fn render_parse_round_trip(names in proptest::collection::vec("[ -~]{1,12}", 1..5)) {
            let mut m = Manifest::default();
            for n in names.iter().filter(|n| !n.contains('/') && !n.trim().is_empty()) {
                m.new_base(n, true);
                m.new_incr(n);
            }
            prop_assume!(!m.is_empty());
            prop_assert_eq!(Manifest::parse(m.render().as_bytes()).unwrap(), m);
        }
    }
}
