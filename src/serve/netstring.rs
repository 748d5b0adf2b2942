//! Netstrings (`LEN:BYTES,`), the framing of sendmail's socket map protocol: `LEN` is the
//! decimal length of `BYTES`, with no sign and no blanks.
//!
//! The reader is bounded: a length over the server's limit is refused as soon as its
//! digits are read, before any payload byte is, so a client cannot make the server hold
//! more than the limit. After a malformed netstring the stream cannot be resynchronised;
//! the server answers once and closes the connection.

use std::io::{self, Read};

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NetstringError {
    /// The connection ended between requests (not an error for the client).
    #[error("connection closed")]
    Closed,
    /// The connection ended inside a netstring.
    #[error("connection closed inside a request")]
    Truncated,
    #[error("malformed netstring: {0}")]
    Malformed(String),
    #[error("request of {len} bytes is over the limit of {max}")]
    TooLong { len: u64, max: usize },
    /// Reading failed or timed out (the caller's timeouts surface here).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Encodes `payload` as a netstring.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{}:", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.push(b',');
    out
}

/// Reads one netstring of at most `max` payload bytes. The first byte read starts the
/// request: an end of stream before it is [`NetstringError::Closed`].
pub fn read<R: Read + ?Sized>(src: &mut R, max: usize) -> Result<Vec<u8>, NetstringError> {
    let mut len: u64 = 0;
    let mut digits = 0;
    loop {
        let mut b = [0u8; 1];
        if src.read(&mut b)? == 0 {
            return Err(if digits == 0 {
                NetstringError::Closed
            } else {
                NetstringError::Truncated
            });
        }
        match b[0] {
            d @ b'0'..=b'9' => {
                if digits > 0 && len == 0 {
                    return Err(NetstringError::Malformed(
                        "length with a leading zero".into(),
                    ));
                }
                len = len * 10 + u64::from(d - b'0');
                digits += 1;
                if len > max as u64 {
                    return Err(NetstringError::TooLong { len, max });
                }
            }
            b':' if digits > 0 => break,
            other => {
                return Err(NetstringError::Malformed(format!(
                    "expected a digit{}, got byte 0x{other:02x}",
                    if digits > 0 { " or ':'" } else { "" }
                )));
            }
        }
    }
    let mut payload = vec![0u8; len as usize];
    let mut got = 0;
    while got < payload.len() {
        match src.read(&mut payload[got..])? {
            0 => return Err(NetstringError::Truncated),
            k => got += k,
        }
    }
    let mut comma = [0u8; 1];
    if src.read(&mut comma)? == 0 {
        return Err(NetstringError::Truncated);
    }
    if comma[0] != b',' {
        return Err(NetstringError::Malformed(format!(
            "expected ',' after {len} bytes, got byte 0x{:02x}",
            comma[0]
        )));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Result<Vec<u8>, NetstringError> {
        read(&mut &bytes[..], 64)
    }

    #[test]
    fn round_trip() {
        assert_eq!(encode(b"vrc a@b"), b"7:vrc a@b,");
        assert_eq!(one(b"7:vrc a@b,").unwrap(), b"vrc a@b");
        assert_eq!(one(b"0:,").unwrap(), b"");
        let mut two = &b"1:a,2:bc,"[..];
        assert_eq!(read(&mut two, 64).unwrap(), b"a");
        assert_eq!(read(&mut two, 64).unwrap(), b"bc");
        assert!(matches!(read(&mut two, 64), Err(NetstringError::Closed)));
    }

    #[test]
    fn bad_ones() {
        assert!(matches!(one(b""), Err(NetstringError::Closed)));
        assert!(matches!(one(b"3:ab"), Err(NetstringError::Truncated)));
        assert!(matches!(one(b"12"), Err(NetstringError::Truncated)));
        assert!(matches!(one(b":x,"), Err(NetstringError::Malformed(_))));
        assert!(matches!(one(b"x:,"), Err(NetstringError::Malformed(_))));
        assert!(matches!(one(b"-1:,"), Err(NetstringError::Malformed(_))));
        assert!(matches!(one(b"01:a,"), Err(NetstringError::Malformed(_))));
        assert!(matches!(one(b"2:ab;"), Err(NetstringError::Malformed(_))));
        assert!(matches!(
            one(b"65:"),
            Err(NetstringError::TooLong { len: 65, max: 64 })
        ));
        // Refused at the digits: a huge claim never allocates.
        assert!(matches!(
            one(b"99999999999999999999999:"),
            Err(NetstringError::TooLong { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn encoded_payloads_read_back(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let wire = encode(&payload);
            let mut src = &wire[..];
            proptest::prop_assert_eq!(read(&mut src, 200).unwrap(), payload);
            proptest::prop_assert!(src.is_empty());
        }

        #[test]
        fn any_bytes_give_a_payload_within_the_limit_or_an_error(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(p) = read(&mut &bytes[..], 16) {
                proptest::prop_assert!(p.len() <= 16);
            }
        }
    }
}
