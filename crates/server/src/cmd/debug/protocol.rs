//! DEBUG PROTOCOL <type>: one sample reply of each RESP3 type, for testing clients. In RESP2
//! each lowers as any reply of that type would (a map to a flat array, a double to a bulk
//! string...); attributes are dropped and pushes refused.

use rudis_resp::ReplyBuf;

use crate::command::error::CmdError;

/// Writes the sample reply of `kind`.
pub fn reply_sample(r: &mut ReplyBuf, kind: &[u8]) -> Result<(), CmdError> {
    let name = kind.to_ascii_lowercase();
    match name.as_slice() {
        b"string" => r.bulk(b"Hello World"),
        b"integer" => r.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => r.double(3.141),
        b"bignum" => r.big_number(b"1234567999999999999999999999999999999"),
        b"null" => r.null(),
        b"array" | b"set" => {
            if name == b"set" {
                r.set(3);
            } else {
                r.array(3);
            }
            (0..3).for_each(|i| r.int(i));
        }
        b"map" => {
            r.map(3);
            for i in 0..3 {
                r.int(i);
                r.bool(i == 1);
            }
        }
        b"attrib" => {
            if r.is_resp3() {
                r.attribute(1);
                r.bulk(b"key-popularity");
                r.array(2);
                r.bulk(b"key:123");
                r.int(90);
            }
            r.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !r.is_resp3() {
                return Err("ERR RESP2 is not supported by this command".into());
            }
            r.push(2);
            r.bulk(b"server-cpu-usage");
            r.int(42);
            r.bulk(b"Some real reply following the push reply");
        }
        b"true" => r.bool(true),
        b"false" => r.bool(false),
        b"verbatim" => r.verbatim("txt", b"This is a verbatim\nstring"),
        _ => return Err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: &str, resp3: bool) -> Vec<u8> {
        let mut r = ReplyBuf::new();
        r.set_resp3(resp3);
        match reply_sample(&mut r, kind.as_bytes()) {
            Ok(()) => r.as_bytes().to_vec(),
            Err(e) => e.text().as_bytes().to_vec(),
        }
    }

    #[test]
    fn resp3_and_resp2_forms() {
        assert_eq!(
            sample("MAP", true),
            b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"
        );
        assert_eq!(
            sample("map", false),
            b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"
        );
        assert_eq!(sample("double", false), b"$5\r\n3.141\r\n");
        assert_eq!(
            sample("attrib", false),
            b"$39\r\nSome real reply following the attribute\r\n"
        );
        assert!(sample("push", false).starts_with(b"ERR RESP2"));
        assert!(sample("nope", true).starts_with(b"ERR Wrong protocol type name"));
    }
}
