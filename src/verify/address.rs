//! Recipient addresses as they arrive (from a command line, a socketmap request, a milter),
//! checked before anything is sent anywhere.
//!
//! An address may come with its angle brackets (`<alice@example.com>`, as sendmail hands
//! `check_rcpt` its argument) or without. Bytes below 0x21 (CR, LF, NUL, TAB, blank) and
//! DEL would let a caller smuggle an SMTP command into the dialogue (`a@b>\r\nDATA`), so an
//! address holding one is refused here and never reaches [`super::smtp`].

use std::fmt;

/// Why an address was refused before any dialogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("empty address")]
    Empty,
    #[error("control byte or blank 0x{0:02x} in address")]
    ControlByte(u8),
    #[error("address has no @domain")]
    NoDomain,
    #[error("address longer than {0} bytes")]
    TooLong(usize),
    #[error("unbalanced angle brackets")]
    Brackets,
}

/// RFC 5321's limit on a path (4.5.3.1.3), brackets included.
pub const MAX_PATH: usize = 256;

/// A recipient address without brackets, checked: printable non-blank bytes, one `@`
/// followed by a non-empty domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    bytes: Vec<u8>,
    at: usize,
}

impl Recipient {
    /// Checks `raw`, dropping one pair of enclosing angle brackets.
    pub fn parse(raw: &[u8]) -> Result<Recipient, AddressError> {
        if let Some(&b) = raw.iter().find(|&&b| b < 0x21 || b == 0x7f) {
            return Err(AddressError::ControlByte(b));
        }
        let inner = match (raw.first(), raw.last()) {
            (Some(b'<'), Some(b'>')) if raw.len() >= 2 => &raw[1..raw.len() - 1],
            (Some(b'<'), _) | (_, Some(b'>')) => return Err(AddressError::Brackets),
            _ => raw,
        };
        if inner.contains(&b'<') || inner.contains(&b'>') {
            return Err(AddressError::Brackets);
        }
        if inner.is_empty() {
            return Err(AddressError::Empty);
        }
        if inner.len() + 2 > MAX_PATH {
            return Err(AddressError::TooLong(MAX_PATH - 2));
        }
        let at = inner
            .iter()
            .rposition(|&b| b == b'@')
            .filter(|&i| i > 0 && i + 1 < inner.len())
            .ok_or(AddressError::NoDomain)?;
        Ok(Recipient {
            bytes: inner.to_vec(),
            at,
        })
    }

    /// The address as given, without brackets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The domain, lower-cased (ASCII), for the mailertable.
    pub fn domain(&self) -> Vec<u8> {
        self.bytes[self.at + 1..].to_ascii_lowercase()
    }

    /// The cache key: the whole address lower-cased (ASCII), without brackets.
    pub fn cache_key(&self) -> Vec<u8> {
        self.bytes.to_ascii_lowercase()
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.bytes))
    }
}

/// Text from a remote server or a file, made safe to print and to put in a netstring
/// reply: bytes outside printable ASCII become `?`.
pub fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_are_dropped_and_case_kept() {
        let r = Recipient::parse(b"<Alice@Example.COM>").unwrap();
        assert_eq!(r.as_bytes(), b"Alice@Example.COM");
        assert_eq!(r.cache_key(), b"alice@example.com");
        assert_eq!(r.domain(), b"example.com");
    }

    #[test]
    fn smuggled_commands_are_refused() {
        for raw in [
            &b"a@b.c>\r\nDATA"[..],
            b"a@b.c\n",
            b"a@b\0.c",
            b"a b@c.d",
            b"a@b.c\x7f",
            b"\ta@b.c",
        ] {
            assert!(
                matches!(Recipient::parse(raw), Err(AddressError::ControlByte(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn shapes_that_are_not_addresses() {
        assert_eq!(Recipient::parse(b""), Err(AddressError::Empty));
        assert_eq!(Recipient::parse(b"<>"), Err(AddressError::Empty));
        assert_eq!(Recipient::parse(b"alice"), Err(AddressError::NoDomain));
        assert_eq!(Recipient::parse(b"alice@"), Err(AddressError::NoDomain));
        assert_eq!(Recipient::parse(b"@x.org"), Err(AddressError::NoDomain));
        assert_eq!(Recipient::parse(b"<a@b"), Err(AddressError::Brackets));
        assert_eq!(Recipient::parse(b"a<x>@b"), Err(AddressError::Brackets));
        let long = [b"a@".as_slice(), &[b'x'; 300]].concat();
        assert_eq!(Recipient::parse(&long), Err(AddressError::TooLong(254)));
    }

    #[test]
    fn printable_masks_control_bytes() {
        assert_eq!(printable(b"ok\r\n\x1b[1m\xff"), "ok???[1m?");
    }
}
