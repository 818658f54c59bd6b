//! The streaming RDB file reader (`rdbLoadRio`): yields the file's items one at a time, so a
//! file of any size loads in the memory of its largest value.
//!
//! Invariants: the reader consumes exactly the RDB bytes, through the checksum trailer and no
//! further (an AOF tail after an RDB preamble stays in the source, see [`Reader::into_inner`]);
//! after an error or the end it yields nothing more; expiry, idle and frequency opcodes attach
//! to the next key only; empty collections, which Redis skips when loading, are skipped and
//! counted.
//!
//! What stays with the loader: keys that have already expired are returned (a Redis master
//! drops them on load, a replica keeps them), duplicate keys and database numbers beyond the
//! configured count are not detected, and compact values are returned whatever their size
//! (Redis converts a listpack or intset beyond its configured limits on load).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::*;
use crate::input::Input;
use crate::read_value::read_value;
use crate::value::{Entry, EntryMeta, Value};

/// One item of an RDB file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An auxiliary field (`redis-ver`, `ctime`, `repl-id`, ...). Unknown ones are to be
    /// ignored by the loader, as the format requires.
    Aux { key: Vec<u8>, value: Vec<u8> },
    /// The following keys belong to database `db`.
    SelectDb { db: u64 },
    /// Size hint for the current database.
    ResizeDb { keys: u64, expires: u64 },
    /// A function library's source code (FUNCTION LOAD payload).
    Function { code: Vec<u8> },
    /// A key, its value and its metadata.
    Entry(Entry),
}

/// How the checksum trailer turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// The trailer matched the data.
    Verified(u64),
    /// The file was written with `rdbchecksum no` (a zero trailer).
    Disabled,
    /// Verification was turned off by the caller.
    NotChecked,
    /// RDB versions before 5 have no trailer.
    Absent,
}

/// Reader settings.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Compute the CRC64 and compare it with the trailer (Redis's `rdbchecksum`).
    pub verify_checksum: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            verify_checksum: true,
        }
    }
}

enum State {
    Items,
    Done,
}

pub struct Reader<R> {
    input: Input<R>,
    version: u32,
    state: State,
    checksum: Option<Checksum>,
    empty_keys_skipped: u64,
    /// Names of the keys skipped since the last [`Reader::take_skipped_keys`].
    skipped_keys: Vec<Vec<u8>>,
}

impl Reader<BufReader<File>> {
    /// Opens an RDB file for reading, buffered.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io { offset: 0, source })?;
        Reader::new(BufReader::with_capacity(256 * 1024, file))
    }
}

impl<R: Read> Reader<R> {
    /// Reads and checks the header. `source` is read in small pieces: give a buffered one.
    pub fn new(source: R) -> Result<Self> {
        Reader::with_options(source, ReadOptions::default())
    }

    pub fn with_options(source: R, options: ReadOptions) -> Result<Self> {
        let mut input = Input::new(source, options.verify_checksum);
        let magic: [u8; 9] = input.array("the RDB signature").map_err(|e| match e {
            Error::Truncated { .. } => Error::BadSignature,
            other => other,
        })?;
        if &magic[..5] != b"REDIS" || !magic[5..].iter().all(u8::is_ascii_digit) {
            return Err(Error::BadSignature);
        }
        let version = magic[5..]
            .iter()
            .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        if !(1..=RDB_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion { version });
        }
        Ok(Reader {
            input,
            version,
            state: State::Items,
            checksum: None,
            empty_keys_skipped: 0,
            skipped_keys: Vec::new(),
        })
    }

    /// The file's RDB version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// How the checksum trailer turned out; `None` until the end is reached.
    pub fn checksum(&self) -> Option<Checksum> {
        self.checksum
    }

    /// Keys skipped because their value was an empty collection.
    pub fn empty_keys_skipped(&self) -> u64 {
        self.empty_keys_skipped
    }

    /// The names of the keys skipped as empty since the last call (for the loader's log).
    /// They come from the data already read, so they hold no more than the file did.
    pub fn take_skipped_keys(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.skipped_keys)
    }

    /// The source, positioned just after the RDB data once the end has been reached.
    pub fn into_inner(self) -> R {
        self.input.into_inner()
    }

    /// The next item, or `None` after the end of the file (checksum verified).
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        if let State::Done = self.state {
            return Ok(None);
        }
        let result = self.read_item();
        if !matches!(result, Ok(Some(_))) {
            self.state = State::Done;
        }
        result
    }

    fn read_item(&mut self) -> Result<Option<Item>> {
        let mut meta = EntryMeta::default();
        loop {
            let at = self.input.offset();
            let opcode = self.input.u8("an opcode")?;
            let item = match opcode {
                OPCODE_EXPIRETIME => {
                    let secs = i32::from_le_bytes(self.input.array("an expire time")?);
                    meta.expire_at_ms = Some(i64::from(secs) * 1000);
                    continue;
                }
                OPCODE_EXPIRETIME_MS => {
                    meta.expire_at_ms = Some(self.input.i64_le("an expire time")?);
                    continue;
                }
                OPCODE_FREQ => {
                    meta.lfu_freq = Some(self.input.u8("an LFU frequency")?);
                    continue;
                }
                OPCODE_IDLE => {
                    meta.lru_idle_secs = Some(self.input.len("an LRU idle time")?);
                    continue;
                }
                OPCODE_EOF => return self.finish(at),
                OPCODE_SELECTDB => Item::SelectDb {
                    db: self.input.len("a database number")?,
                },
                OPCODE_RESIZEDB => Item::ResizeDb {
                    keys: self.input.len("a database size")?,
                    expires: self.input.len("a database expires size")?,
                },
                OPCODE_AUX => Item::Aux {
                    key: self.input.string("an aux field name")?,
                    value: self.input.string("an aux field value")?,
                },
                OPCODE_MODULE_AUX => {
                    return Err(Error::Unsupported {
                        offset: at,
                        what: "module auxiliary data (Rudis loads no modules)",
                    })
                }
                OPCODE_FUNCTION2 => Item::Function {
                    code: self.input.string("a function library")?,
                },
                OPCODE_FUNCTION_PRE_GA => self.read_pre_ga_function()?,
                rdb_type => match self.read_entry(rdb_type, at)? {
                    (key, Some(value)) => Item::Entry(Entry { key, value, meta }),
                    (key, None) => {
                        self.empty_keys_skipped += 1;
                        self.skipped_keys.push(key);
                        meta = EntryMeta::default();
                        continue;
                    }
                },
            };
            return Ok(Some(item));
        }
    }

    /// A key and its value (`None`: an empty collection, to be skipped).
    fn read_entry(&mut self, rdb_type: u8, type_at: u64) -> Result<(Vec<u8>, Option<Value>)> {
        let key = self.input.string("a key")?;
        let value = read_value(&mut self.input, rdb_type, type_at)?;
        Ok((key, value))
    }

    /// A function as Redis 7.0 release candidates saved it (name, engine, optional
    /// description, code), rewritten into the library format as Redis does.
    fn read_pre_ga_function(&mut self) -> Result<Item> {
        let name = self.input.string("a function name")?;
        let engine = self.input.string("a function engine")?;
        if self.input.len("a function description flag")? != 0 {
            self.input.string("a function description")?;
        }
        let body = self.input.string("a function body")?;
        let mut code = b"#!".to_vec();
        code.extend_from_slice(&engine);
        code.extend_from_slice(b" name=");
        code.extend_from_slice(&name);
        code.push(b'\n');
        code.extend_from_slice(&body);
        Ok(Item::Function { code })
    }

    /// Reads and checks the trailer after the EOF opcode at `eof_at`.
    fn finish(&mut self, eof_at: u64) -> Result<Option<Item>> {
        if self.version < 5 {
            self.checksum = Some(Checksum::Absent);
            return Ok(None);
        }
        let computed = self.input.checksum();
        let trailer_at = self.input.offset();
        let stored = u64::from_le_bytes(self.input.array("the checksum trailer")?);
        debug_assert_eq!(trailer_at, eof_at + 1);
        self.checksum = Some(match computed {
            _ if stored == 0 => Checksum::Disabled,
            None => Checksum::NotChecked,
            Some(c) if c == stored => Checksum::Verified(c),
            Some(computed) => {
                return Err(Error::ChecksumMismatch {
                    offset: trailer_at,
                    stored,
                    computed,
                })
            }
        });
        Ok(None)
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Result<Item>> {
        self.next_item().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &[u8]) -> Vec<u8> {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(body);
        f.push(OPCODE_EOF);
        let crc = crate::crc64::checksum(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    fn items(bytes: &[u8]) -> Result<Vec<Item>> {
        Reader::new(bytes)?.collect()
    }

    #[test]
    fn header_checks() {
        assert!(matches!(items(b"REDIX0010"), Err(Error::BadSignature)));
        assert!(matches!(items(b"RED"), Err(Error::BadSignature)));
        assert!(matches!(
            items(b"REDIS0011\xff"),
            Err(Error::UnsupportedVersion { version: 11 })
        ));
        assert!(matches!(
            items(b"REDIS0000\xff"),
            Err(Error::UnsupportedVersion { version: 0 })
        ));
    }

    #[test]
    fn metadata_attaches_to_the_next_key_only() {
        let body = [
            &[OPCODE_SELECTDB, 2, OPCODE_RESIZEDB, 2, 1][..],
            &[OPCODE_EXPIRETIME_MS],
            &1_700_000_000_123i64.to_le_bytes(),
            &[OPCODE_IDLE, 10, OPCODE_FREQ, 5],
            &[TYPE_STRING, 1, b'a', 1, b'1'],
            &[TYPE_STRING, 1, b'b', 0],
        ]
        .concat();
        let got = items(&file(&body)).unwrap();
        assert_eq!(got[0], Item::SelectDb { db: 2 });
        assert_eq!(
            got[1],
            Item::ResizeDb {
                keys: 2,
                expires: 1
            }
        );
        let Item::Entry(a) = &got[2] else { panic!() };
        assert_eq!(a.meta.expire_at_ms, Some(1_700_000_000_123));
        assert_eq!(a.meta.lru_idle_secs, Some(10));
        assert_eq!(a.meta.lfu_freq, Some(5));
        let Item::Entry(b) = &got[3] else { panic!() };
        assert_eq!(b.meta, EntryMeta::default());
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn checksums() {
        let mut f = file(&[TYPE_STRING, 1, b'k', 1, b'v']);
        let mut r = Reader::new(&f[..]).unwrap();
        while r.next_item().unwrap().is_some() {}
        assert!(matches!(r.checksum(), Some(Checksum::Verified(_))));
        let n = f.len();
        f[n - 8..].copy_from_slice(&[0; 8]);
        let mut r = Reader::new(&f[..]).unwrap();
        while r.next_item().unwrap().is_some() {}
        assert_eq!(r.checksum(), Some(Checksum::Disabled));
        f[n - 1] = 1;
        assert!(
            matches!(items(&f), Err(Error::ChecksumMismatch { offset, .. }) if offset == n as u64 - 8)
        );
        let mut r = Reader::with_options(
            &f[..],
            ReadOptions {
                verify_checksum: false,
            },
        )
        .unwrap();
        while r.next_item().unwrap().is_some() {}
        assert_eq!(r.checksum(), Some(Checksum::NotChecked));
    }

    #[test]
    fn old_versions_have_no_trailer_and_second_expiries() {
        let mut f = b"REDIS0004".to_vec();
        f.extend_from_slice(&[OPCODE_EXPIRETIME]);
        f.extend_from_slice(&1_700_000_000i32.to_le_bytes());
        f.extend_from_slice(&[TYPE_STRING, 1, b'k', 1, b'v', OPCODE_EOF]);
        f.extend_from_slice(b"tail");
        let mut r = Reader::new(&f[..]).unwrap();
        let Some(Item::Entry(e)) = r.next_item().unwrap() else {
            panic!()
        };
        assert_eq!(e.meta.expire_at_ms, Some(1_700_000_000_000));
        assert!(r.next_item().unwrap().is_none());
        assert_eq!(r.checksum(), Some(Checksum::Absent));
        assert_eq!(r.into_inner(), b"tail");
    }

    #[test]
    fn stops_after_the_trailer() {
        let mut f = file(&[]);
        f.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let mut r = Reader::new(&f[..]).unwrap();
        assert!(r.next_item().unwrap().is_none());
        assert!(r.next_item().unwrap().is_none());
        assert_eq!(r.into_inner(), b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn empty_collections_are_skipped() {
        let body = [
            TYPE_SET,
            1,
            b's',
            0,
            TYPE_LIST,
            1,
            b'l',
            0,
            TYPE_STRING,
            1,
            b'k',
            0,
        ];
        let f = file(&body);
        let mut r = Reader::new(&f[..]).unwrap();
        let Some(Item::Entry(e)) = r.next_item().unwrap() else {
            panic!()
        };
        assert_eq!(e.key, b"k");
        assert_eq!(r.empty_keys_skipped(), 2);
        assert_eq!(r.take_skipped_keys(), [b"s".to_vec(), b"l".to_vec()]);
        assert!(r.take_skipped_keys().is_empty());
    }

    #[test]
    fn unsupported_and_unknown_content() {
        let e = items(&file(&[OPCODE_MODULE_AUX, 1])).unwrap_err();
        assert!(matches!(e, Error::Unsupported { offset: 9, .. }), "{e}");
        let e = items(&file(&[TYPE_MODULE_2, 1, b'k', 1])).unwrap_err();
        assert!(matches!(e, Error::Unsupported { offset: 9, .. }), "{e}");
        let e = items(&file(&[8, 1, b'k'])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt RDB data at byte offset 9: unknown value type 8"
        );
    }

    #[test]
    fn pre_ga_functions_are_rewritten() {
        let body = [
            &[OPCODE_FUNCTION_PRE_GA, 3][..],
            b"lib",
            &[3],
            b"LUA",
            &[1, 1, b'd', 4],
            b"code",
        ]
        .concat();
        let got = items(&file(&body)).unwrap();
        assert_eq!(
            got,
            vec![Item::Function {
                code: b"#!LUA name=lib\ncode".to_vec()
            }]
        );
    }

    #[test]
    fn nothing_after_an_error() {
        let f = file(&[TYPE_STRING, 1]);
        let mut r = Reader::new(&f[..f.len() - 9]).unwrap();
        assert!(r.next_item().is_err());
        assert!(r.next_item().unwrap().is_none());
    }
}
