//! `cfmap makemap TYPE NAME < source`: build a map file from `key value` lines.
//!
//! A first, simple version of makemap's input rules (formats.md §3.2): lines end at
//! `\n` (a CR before it stays in the value); blank lines and lines starting with `#` are
//! skipped; the key runs to the first ASCII white space and is folded to lower case
//! unless `-f`; the value is the rest of the line after the separators. A line starting
//! with white space, or without a value, is reported and skipped; a repeated key keeps
//! its first value and is reported. Reported lines make the exit status 65, but the map
//! is still written with the good lines, as makemap does. Not yet: `-N`, `-t`, `-D`,
//! `-e`, `-o`, `-r`, `-d`, `-u`, the 1024-byte line limit.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::maps::{self, MapError, MapType};

/// sysexits EX_CANTCREAT: the map cannot be created (makemap's status for that).
const CANTCREAT: i32 = 73;

/// Build a map from `key value` lines on standard input.
///
/// The map is written beside the old one and renamed into place; the old file's mtime is
/// then moved forward so that a running sendmail reopens it. Exit status: 0, 65 when some
/// lines were rejected (the others are in the map), 73 when the map cannot be created,
/// 74 on an I/O error.
#[derive(Debug, Args)]
pub struct MakemapArgs {
    /// Do not fold keys to lower case.
    #[arg(short = 'f')]
    pub no_fold: bool,
    /// Map type: btree, hash, dbm or cdb.
    #[arg(value_name = "TYPE")]
    pub map_type: MapType,
    /// Map name; the file is NAME.db (btree, hash), NAME.dir + NAME.pag (dbm) or
    /// NAME.cdb (cdb).
    #[arg(value_name = "NAME")]
    pub name: PathBuf,
}

/// A line makemap would reject, with its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Split `source` into (key, value) pairs by makemap's default rules (module docs), in
/// input order, first of each key kept; rejected lines are returned beside them.
pub fn parse_source(source: &[u8], fold: bool) -> (Vec<maps::Record>, Vec<LineError>) {
    let mut pairs = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut lines: Vec<&[u8]> = source.split(|&b| b == b'\n').collect();
    if source.ends_with(b"\n") || source.is_empty() {
        lines.pop();
    }
    for (i, line) in lines.into_iter().enumerate() {
        let n = i + 1;
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        if is_space(line[0]) {
            errors.push(LineError {
                line: n,
                message: "syntax error (leading space)".into(),
            });
            continue;
        }
        let kend = line.iter().position(|&b| is_space(b)).unwrap_or(line.len());
        let mut key = line[..kend].to_vec();
        if fold {
            key.make_ascii_lowercase();
        }
        let rest = &line[kend..];
        let vstart = rest
            .iter()
            .position(|&b| !is_space(b))
            .unwrap_or(rest.len());
        let value = &rest[vstart..];
        if value.is_empty() {
            errors.push(LineError {
                line: n,
                message: format!("no RHS for LHS {}", String::from_utf8_lossy(&key)),
            });
            continue;
        }
        if !seen.insert(key.clone()) {
            errors.push(LineError {
                line: n,
                message: format!("key {}: duplicate key", String::from_utf8_lossy(&key)),
            });
            continue;
        }
        pairs.push((key, value.to_vec()));
    }
    (pairs, errors)
}

fn status_of(e: &MapError) -> i32 {
    match e {
        MapError::Unsupported { .. } | MapError::NotRegular { .. } => CANTCREAT,
        MapError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            CANTCREAT
        }
        _ => exit::IOERR,
    }
}

pub fn run(a: MakemapArgs) -> i32 {
    let mut source = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut source) {
        eprintln!("cfmap: standard input: {e}");
        return exit::IOERR;
    }
    let (pairs, errors) = parse_source(&source, !a.no_fold);
    let name = a.name.display();
    for e in &errors {
        eprintln!("cfmap: {name}: line {}: {}", e.line, e.message);
    }
    let result = maps::builder(a.map_type, &a.name).and_then(|mut b| {
        for (k, v) in &pairs {
            b.insert(k, v)?;
        }
        b.commit()
    });
    match result {
        Err(e) => {
            eprintln!("cfmap: {e}");
            status_of(&e)
        }
        Ok(()) if errors.is_empty() => exit::OK,
        Ok(()) => exit::DATAERR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(src: &[u8], fold: bool) -> Vec<(String, String)> {
        parse_source(src, fold)
            .0
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn makemap_line_rules() {
        let src =
            b"# comment\n\nKey\tValue  with  blanks \nb  c\r\nnovalue\n lead x\nk#x y\nlast z";
        let (p, e) = parse_source(src, true);
        assert_eq!(
            pairs(src, true),
            [
                ("key".into(), "Value  with  blanks ".into()),
                ("b".into(), "c\r".into()),
                ("k#x".into(), "y".into()),
                ("last".into(), "z".into()),
            ]
        );
        assert_eq!(p.len(), 4);
        assert_eq!(
            e,
            [
                LineError {
                    line: 5,
                    message: "no RHS for LHS novalue".into()
                },
                LineError {
                    line: 6,
                    message: "syntax error (leading space)".into()
                },
            ]
        );
    }

    #[test]
    fn folding_and_duplicates() {
        let src = b"A@B.example one\na@b.example two\nC x\n";
        assert_eq!(
            pairs(src, true),
            [
                ("a@b.example".into(), "one".into()),
                ("c".into(), "x".into())
            ]
        );
        let (_, e) = parse_source(src, true);
        assert_eq!(e[0].line, 2);
        assert_eq!(e[0].message, "key a@b.example: duplicate key");
        assert_eq!(pairs(src, false).len(), 3);
    }
}
