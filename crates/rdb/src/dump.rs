//! DUMP/RESTORE payloads (and MIGRATE's): one value serialized as in an RDB file, then a
//! footer of the RDB version (2 bytes, LE) and the CRC64 of everything before the CRC (8 bytes,
//! LE). Unlike files, payloads always carry a real checksum.

use crate::error::{Error, Result};
use crate::format::RDB_VERSION;
use crate::input::Input;
use crate::output::Output;
use crate::read_value::read_value;
use crate::value::Value;
use crate::writer::ValueWriter;

const FOOTER_LEN: usize = 10;

/// Serializes `value` as DUMP does.
pub fn encode(value: &Value, compression: bool) -> Vec<u8> {
    encode_with(compression, |w| w.value(value)).expect("writing to memory cannot fail")
}

/// Serializes the value `f` writes (for values the caller holds in its own form).
pub fn encode_with<F>(compression: bool, f: F) -> Result<Vec<u8>>
where
    F: FnOnce(ValueWriter<'_, Vec<u8>>) -> Result<()>,
{
    let mut out = Output::new(Vec::new(), true, compression);
    f(ValueWriter {
        out: &mut out,
        key: None,
    })?;
    out.write(&(RDB_VERSION as u16).to_le_bytes())?;
    let crc = out.checksum();
    out.write(&crc.to_le_bytes())?;
    Ok(out.into_inner())
}

/// Checks the footer as RESTORE does (`verifyDumpPayload`): a version this crate reads, and
/// (when `verify_checksum`) a matching CRC64. Returns the payload's RDB version.
pub fn verify(payload: &[u8], verify_checksum: bool) -> Result<u16> {
    if payload.len() < FOOTER_LEN {
        return Err(Error::Truncated {
            offset: payload.len() as u64,
            what: "the DUMP payload footer",
        });
    }
    let footer = &payload[payload.len() - FOOTER_LEN..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(version) > RDB_VERSION {
        return Err(Error::UnsupportedVersion {
            version: u32::from(version),
        });
    }
    if verify_checksum {
        let crc_at = payload.len() - 8;
        let stored = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
        let computed = crate::crc64::checksum(&payload[..crc_at]);
        if stored != computed {
            return Err(Error::ChecksumMismatch {
                offset: crc_at as u64,
                stored,
                computed,
            });
        }
    }
    Ok(version)
}

/// Checks a payload and reads its value, completely checked like a value from a file. An
/// empty collection, or bytes left between the value and the footer, are errors.
pub fn decode(payload: &[u8], verify_checksum: bool) -> Result<Value> {
    verify(payload, verify_checksum)?;
    let body = &payload[..payload.len() - FOOTER_LEN];
    let mut input = Input::new(body, false);
    let rdb_type = input.u8("the value type")?;
    let value = read_value(&mut input, rdb_type, 0)?
        .ok_or_else(|| Error::corrupt(1, "the DUMP payload holds an empty collection"))?;
    if input.offset() != body.len() as u64 {
        return Err(Error::corrupt(
            input.offset(),
            "bytes after the value in the DUMP payload",
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_dump_output() {
        // DUMP of SET k hello, from Redis 7.0.
        let redis = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
        assert_eq!(encode(&Value::String(b"hello".to_vec()), true), redis);
        assert_eq!(
            decode(redis, true).unwrap(),
            Value::String(b"hello".to_vec())
        );
    }

    #[test]
    fn rejects_bad_payloads() {
        let good = encode(&Value::Set(vec![b"a".to_vec(), b"b".to_vec()]), true);
        let mut bad_crc = good.clone();
        bad_crc[1] ^= 1;
        assert!(matches!(
            decode(&bad_crc, true),
            Err(Error::ChecksumMismatch { .. })
        ));
        let mut newer = good.clone();
        let n = newer.len();
        newer[n - 10] = 11;
        assert!(matches!(
            verify(&newer, false),
            Err(Error::UnsupportedVersion { version: 11 })
        ));
        assert!(decode(&good[..5], true).is_err());
        let empty = encode(&Value::Set(vec![]), true);
        assert!(decode(&empty, true).is_err());
        let mut trailing = good[..good.len() - FOOTER_LEN].to_vec();
        trailing.push(0);
        trailing.extend_from_slice(&good[good.len() - FOOTER_LEN..good.len() - 8]);
        let crc = crate::crc64::checksum(&trailing);
        trailing.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode(&trailing, true),
            Err(Error::Corrupt { .. })
        ));
    }
}

/// Why a FUNCTION RESTORE payload was refused, with Redis's reply texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionsPayloadError {
    /// A bad footer: unknown version or checksum mismatch.
    VersionOrChecksum,
    /// A record type could not be read.
    Type,
    /// A record is not a function library.
    NotFunction,
    /// A library's code could not be read.
    Library,
}

impl FunctionsPayloadError {
    /// The error text Redis replies with (after `ERR `).
    pub fn message(&self) -> &'static str {
        match self {
            Self::VersionOrChecksum => "DUMP payload version or checksum are wrong",
            Self::Type => "can not read data type",
            Self::NotFunction => "given type is not a function",
            Self::Library => "Failed loading library payload",
        }
    }
}

/// Serializes function libraries as FUNCTION DUMP does: each library's code as an RDB
/// function record, then the footer.
pub fn encode_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut w = crate::writer::Writer::fragment(Vec::new(), true);
    for code in codes {
        w.function(code).expect("writing to memory cannot fail");
    }
    let mut out = w.into_fragment();
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crate::crc64::checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads the libraries' code from a FUNCTION RESTORE payload, checked as Redis checks it.
pub fn decode_functions(
    payload: &[u8],
) -> std::result::Result<Vec<Vec<u8>>, FunctionsPayloadError> {
    verify(payload, true).map_err(|_| FunctionsPayloadError::VersionOrChecksum)?;
    let body = &payload[..payload.len() - FOOTER_LEN];
    let mut input = Input::new(body, false);
    let mut codes = Vec::new();
    while input.offset() < body.len() as u64 {
        let kind = input
            .u8("a function record type")
            .map_err(|_| FunctionsPayloadError::Type)?;
        if kind != crate::format::OPCODE_FUNCTION2 {
            return Err(FunctionsPayloadError::NotFunction);
        }
        let code = input
            .string("a function library")
            .map_err(|_| FunctionsPayloadError::Library)?;
        codes.push(code);
    }
    Ok(codes)
}

#[cfg(test)]
mod function_tests {
    use super::*;

    #[test]
    fn functions_round_trip() {
        let codes: Vec<&[u8]> = vec![b"#!lua name=a\nreturn 1", b""];
        let payload = encode_functions(codes.iter().copied());
        let back = decode_functions(&payload).unwrap();
        assert_eq!(back, vec![codes[0].to_vec(), codes[1].to_vec()]);
        let empty = encode_functions(std::iter::empty());
        assert_eq!(empty.len(), 10);
        let mut bad = payload.clone();
        bad[3] ^= 1;
        assert_eq!(
            decode_functions(&bad),
            Err(FunctionsPayloadError::VersionOrChecksum)
        );
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut payload = body.clone();
            payload.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
            let crc = crate::crc64::checksum(&payload);
            payload.extend_from_slice(&crc.to_le_bytes());
            let _ = decode_functions(&payload);
            let _ = decode_functions(&body);
        }

        #[test]
        fn encoded_libraries_decode(codes in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..5)) {
            let payload = encode_functions(codes.iter().map(|c| c.as_slice()));
            proptest::prop_assert_eq!(decode_functions(&payload).unwrap(), codes);
        }
    }
}
