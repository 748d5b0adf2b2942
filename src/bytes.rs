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

/// Lossy UTF-8 for messages that quote a short piece of a line.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
