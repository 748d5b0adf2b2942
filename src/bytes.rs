//! Showing bytes to people. `.cf` files and addresses are not guaranteed UTF-8, so text is
//! kept as bytes and escaped only when printed.

/// Printable ASCII as is, `\t` `\n` `\r` `\\` as escapes, anything else as `\xNN`.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7E => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02X}")),
        }
    }
    s
}

/// A piece of a line quoted in a one-line message: printable ASCII and TAB as they are
/// (sendmail's messages keep TABs), LF as `\n`, any other byte as `\xNN`.
pub fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\t' | 0x20..=0x7E => s.push(c as char),
            b'\n' => s.push_str("\\n"),
            _ => s.push_str(&format!("\\x{c:02X}")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_keeps_one_line() {
        assert_eq!(quote(b"R$*\n\t$@ x\xe9\x01"), "R$*\\n\t$@ x\\xE9\\x01");
        assert_eq!(escape(b"a\tb"), "a\\tb");
    }
}
