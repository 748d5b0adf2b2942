//! The `text` class: a plain file of columns, read again on every lookup (text_map_open,
//! text_map_lookup, get_column).
//!
//! * The file name must be absolute; it passes the safe-file checks at open.
//! * `-k` (key column) and `-v` (value column) are numbers, both 0 by default, so a map
//!   without `-v` answers with the key column itself.
//! * The file is read in pieces of at most 2047 bytes (sendmail's 2048-byte line buffer):
//!   a longer line becomes several "lines". A piece starting with `#` is skipped.
//! * Columns: without `-z`, separators are runs of SP, TAB and LF, and column 0 skips
//!   leading blanks while later columns count a leading blank as a separator; with
//!   `-z<c>` every `<c>` separates (empty columns exist, and a line starting with `<c>`
//!   has no column 0).
//! * The key column is compared case-insensitively; the value column is cut to 256 bytes.

use std::io::Read;

use super::safefile;
use super::{Common, Ctx, MAXNAME};
use crate::maps::lookup::Answer;
use crate::sysexits;

#[derive(Default)]
pub(crate) struct TextMap {
    path: std::path::PathBuf,
    sm_path: Vec<u8>,
    key_col: usize,
    value_col: usize,
}

/// A leading number as C's atoi reads it (digits only; the caller checked the first).
fn atoi(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0usize, |n, &c| {
            n.saturating_mul(10).saturating_add(usize::from(c - b'0'))
        })
}

impl TextMap {
    pub(crate) fn open(
        &mut self,
        ctx: &Ctx,
        name: &[u8],
        file: &[u8],
        common: &Common,
    ) -> Result<(), Option<Vec<u8>>> {
        let name = String::from_utf8_lossy(name);
        let file_s = String::from_utf8_lossy(file);
        if file.is_empty() {
            return Err(Some(
                format!("text map \"{name}\": file name required").into_bytes(),
            ));
        }
        if file[0] != b'/' {
            return Err(Some(
                format!("text map \"{name}\": file name must be fully qualified").into_bytes(),
            ));
        }
        if let Err(p) = safefile::check_map_file(ctx, file) {
            // sendmail's errno is the file's own stat error when a directory was the
            // problem and the file is missing too; otherwise 0 (no text).
            let suffix = match std::fs::metadata(ctx.resolve(file)) {
                Err(e) if !p.is_missing() => format!(": {}", super::strerror(&e)),
                _ => String::new(),
            };
            return Err(Some(
                format!("text map \"{name}\": unsafe map file {file_s}{suffix}").into_bytes(),
            ));
        }
        for (flag, col, slot) in [
            ("-k", &common.key_col, &mut self.key_col),
            ("-v", &common.value_col, &mut self.value_col),
        ] {
            *slot = match col {
                None => 0,
                Some(c) if c.first().is_some_and(u8::is_ascii_digit) => atoi(c),
                Some(c) => {
                    return Err(Some(
                        format!(
                            "text map \"{name}\", file {file_s}: {flag} should specify a number, not {}",
                            String::from_utf8_lossy(c)
                        )
                        .into_bytes(),
                    ));
                }
            };
        }
        self.path = ctx.resolve(file);
        self.sm_path = file.to_vec();
        Ok(())
    }

    pub(crate) fn lookup(
        &self,
        ctx: &Ctx,
        common: &Common,
        key: &[u8],
        args: &[Vec<u8>],
    ) -> Answer {
        let search = &key[..key.len().min(MAXNAME)];
        let mut data = Vec::new();
        // safefopen checks the file again on every lookup.
        let readable = safefile::check_map_file(ctx, &self.sm_path).is_ok()
            && std::fs::File::open(&self.path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .is_ok();
        if !readable {
            return Answer::status(sysexits::UNAVAILABLE);
        }
        for piece in pieces(&data) {
            if piece.first() == Some(&b'#') {
                continue;
            }
            let line = super::cstr(piece);
            let line = match line.iter().position(|&b| b == b'\n') {
                Some(p) => &line[..p],
                None => line,
            };
            let Some(k) = get_column(line, self.key_col, common.delim) else {
                continue;
            };
            if !k.eq_ignore_ascii_case(search) {
                continue;
            }
            return match get_column(line, self.value_col, common.delim) {
                Some(v) => Answer::found(common.result(key, &v, args)),
                None => Answer::not_found(),
            };
        }
        Answer::not_found()
    }
}

/// What successive `fgets(buf, 2048)` calls return: up to and including a newline, at
/// most 2047 bytes.
pub(crate) fn pieces(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cap = rest.len().min(2047);
        let end = rest[..cap]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(cap, |p| p + 1);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// sendmail's get_column: column `col` of `line` (delimiter 0 = white space), at most 256
/// bytes.
pub(crate) fn get_column(line: &[u8], col: usize, delim: u8) -> Option<Vec<u8>> {
    let is_delim = |b: u8| {
        if delim == 0 {
            matches!(b, b'\n' | b'\t' | b' ')
        } else {
            b == delim
        }
    };
    if line.is_empty() {
        return None;
    }
    if line[0] == delim && col == 0 {
        return None;
    }
    let mut begin = 0;
    if col == 0 && delim == 0 {
        while begin < line.len() && is_space(line[begin]) {
            begin += 1;
        }
    }
    for _ in 0..col {
        let p = line[begin..].iter().position(|&b| is_delim(b))?;
        begin += p + 1;
        if delim == 0 {
            while begin < line.len() && is_space(line[begin]) {
                begin += 1;
            }
        }
    }
    let rest = &line[begin..];
    let len = rest.iter().position(|&b| is_delim(b)).unwrap_or(rest.len());
    Some(rest[..len.min(MAXNAME)].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(line: &str, c: usize, d: u8) -> Option<String> {
        get_column(line.as_bytes(), c, d).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn columns_as_get_column_cuts_them() {
        assert_eq!(col(" delta four", 0, 0).as_deref(), Some("delta"));
        assert_eq!(col(" delta four", 1, 0).as_deref(), Some("delta"));
        assert_eq!(col("a  b\tc", 1, 0).as_deref(), Some("b"));
        assert_eq!(col("a  b\tc", 2, 0).as_deref(), Some("c"));
        assert_eq!(col("a", 1, 0), None);
        assert_eq!(col("a::c", 1, b':').as_deref(), Some(""));
        assert_eq!(col(":x", 0, b':'), None);
        assert_eq!(col(":x", 1, b':').as_deref(), Some("x"));
        assert_eq!(col("", 0, 0), None);
        assert_eq!(get_column(&[b'k'; 300], 0, 0).unwrap().len(), 256);
    }

    #[test]
    fn long_lines_come_in_pieces() {
        let mut data = vec![b'x'; 3000];
        data.push(b'\n');
        data.extend_from_slice(b"#c\nlast");
        let p: Vec<usize> = pieces(&data).map(<[u8]>::len).collect();
        assert_eq!(p, [2047, 954, 3, 4]);
    }
}
