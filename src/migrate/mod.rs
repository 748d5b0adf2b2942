//! Moving a whole sendmail configuration off Berkeley DB: which K lines name a file class
//! that is going away (`hash`, `btree`, `dbm`, `implicit`), what their map files become,
//! how the `.cf` and `.mc` text changes, and the proof that the new configuration answers
//! as the old one (see [`proof`]).
//!
//! Everything here works on bytes and byte ranges: a K line is patched by replacing its
//! class word (and a `.db` ending on its file word) in place, so every other byte of the
//! file stays as it was, flags (`-T<TMPF>`, `-o`, `-N`, `-f`, `-a`…) included. The files
//! are converted by [`crate::convert`]; running the engine and writing files is the
//! caller's (`cli::migrate`).

pub mod diff;
pub mod mc;
pub mod proof;

use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::convert::{Endpoint, Format};
use crate::ir::{Ir, MapClass, MapDecl};
use crate::maps::MapType;

/// One replacement in a text: bytes `range` become `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: Vec<u8>,
}

/// `text` with `edits` applied (ranges must not overlap).
pub fn apply(text: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.range.start);
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut at = 0;
    for e in sorted {
        out.extend_from_slice(&text[at..e.range.start]);
        out.extend_from_slice(&e.text);
        at = e.range.end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Why a map cannot be migrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// The K line names no file.
    NoFile,
    /// A class whose data lives in a network service: cfmap can neither carry it over
    /// nor look its keys up, so the migration cannot be proved complete.
    Network(&'static str),
    /// A K line class this sendmail does not know: cfmap cannot tell what it reads.
    UnknownClass,
    /// The map file cannot be read (missing, damaged, of another class than the K line
    /// says), or the new file cannot be made (a destination that is not a map).
    File(String),
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::NoFile => f.write_str("the K line names no map file"),
            Blocker::Network(c) => write!(
                f,
                "class {c} reads a network service: cfmap cannot carry it over or check its answers"
            ),
            Blocker::UnknownClass => f.write_str("unknown map class: cfmap cannot convert it"),
            Blocker::File(s) => f.write_str(s),
        }
    }
}

/// A map of the configuration that the migration is about.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The map name as on its K line.
    pub name: Vec<u8>,
    /// The class word sendmail reads (`hash`, `ldap`…).
    pub class: String,
    /// The file as the K line gives it (expanded), for converted maps.
    pub file: Vec<u8>,
    /// Where it is read from (with `--root`) and where the new map goes.
    pub src: Option<Endpoint>,
    pub dst: Option<Endpoint>,
    /// `-f` on the K line: sendmail does not fold this map's keys.
    pub keep_case: bool,
    /// Whether the map is one to convert (a going-away class) or only blocks.
    pub convert: bool,
    pub blocker: Option<Blocker>,
    /// The K lines (byte ranges of the .cf) that declared the map.
    pub lines: Vec<Range<usize>>,
}

/// Whether sendmail built without libdb loses this class.
pub fn going_away(c: MapClass) -> bool {
    matches!(
        c,
        MapClass::Hash | MapClass::Btree | MapClass::Dbm | MapClass::Implicit
    )
}

fn class_word(c: MapClass) -> &'static str {
    match c {
        MapClass::Hash => "hash",
        MapClass::Btree => "btree",
        MapClass::Dbm => "dbm",
        MapClass::Implicit => "implicit",
        MapClass::Cdb => "cdb",
        MapClass::Ldap => "ldap",
        MapClass::Nis => "nis",
        MapClass::Nisplus => "nisplus",
        MapClass::Hesiod => "hesiod",
        MapClass::Netinfo => "netinfo",
        MapClass::Userdb => "userdb",
        _ => "other",
    }
}

/// Where a configuration path is read from: absolute paths below `root` when given.
pub fn resolve(path: &[u8], root: Option<&Path>) -> PathBuf {
    let p = Path::new(std::ffi::OsStr::from_bytes(path));
    match root {
        Some(r) if p.is_absolute() => r.join(p.strip_prefix("/").unwrap_or(p)),
        _ => p.to_path_buf(),
    }
}

/// The map name a database class opens, for the destination: `NAME.db` loses its
/// `.db` (the cdb class adds `.cdb`).
fn cdb_name(file: &[u8], class: MapClass) -> Vec<u8> {
    match class {
        MapClass::Dbm => file.to_vec(),
        _ => file.strip_suffix(b".db").unwrap_or(file).to_vec(),
    }
}

/// Every map the migration must look at, with its source and destination, in file order.
/// `to` is the new type (cdb).
pub fn plan(ir: &Ir, to: MapType, root: Option<&Path>) -> Vec<Entry> {
    let mut out = Vec::new();
    for decl in ir.maps.values() {
        let network = matches!(
            decl.class,
            MapClass::Ldap
                | MapClass::Nis
                | MapClass::Nisplus
                | MapClass::Hesiod
                | MapClass::Netinfo
                | MapClass::Userdb
        );
        if !going_away(decl.class) && !network {
            continue;
        }
        let lines = decl
            .spans
            .iter()
            .map(|s| s.start as usize..s.end as usize)
            .collect();
        let mut e = Entry {
            name: decl.name.clone(),
            class: class_word(decl.class).to_string(),
            file: decl.file.clone().unwrap_or_default(),
            src: None,
            dst: None,
            keep_case: decl.flags.keep_case,
            convert: going_away(decl.class),
            blocker: None,
            lines,
        };
        if network {
            e.blocker = Some(Blocker::Network(class_word(decl.class)));
        } else {
            fill_paths(&mut e, decl, to, root);
        }
        out.push(e);
    }
    for (name, span) in &ir.unknown_class_maps {
        let line = span.start as usize..span.end as usize;
        out.push(Entry {
            name: name.clone(),
            class: "unknown".into(),
            file: Vec::new(),
            src: None,
            dst: None,
            keep_case: false,
            convert: false,
            blocker: Some(Blocker::UnknownClass),
            lines: vec![line],
        });
    }
    out.sort_by_key(|e| e.lines.first().map_or(0, |r| r.start));
    out
}

fn fill_paths(e: &mut Entry, decl: &MapDecl, to: MapType, root: Option<&Path>) {
    let Some(file) = &decl.file else {
        e.blocker = Some(Blocker::NoFile);
        return;
    };
    let ty = match decl.class {
        MapClass::Btree => MapType::Btree,
        MapClass::Dbm => MapType::Dbm,
        _ => MapType::Hash,
    };
    e.src = Some(Endpoint {
        format: Format::Map(ty),
        path: resolve(file, root),
    });
    e.dst = Some(Endpoint {
        format: Format::Map(to),
        path: resolve(&cdb_name(file, decl.class), root),
    });
}

/// The `AliasFile` entries (`O AliasFile=[class:]path,…`, the last setting) that are read
/// through libdb: no class (implicit), `hash`, `btree` or `dbm`. They are not K lines:
/// the migration leaves them and says so.
pub fn alias_files_on_libdb(ir: &Ir) -> Vec<Vec<u8>> {
    let Some(o) = ir
        .options
        .iter()
        .rev()
        .find(|o| o.name == Some("AliasFile"))
    else {
        return Vec::new();
    };
    o.value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
        .filter(|e| match e.iter().position(|&b| b == b':') {
            Some(c) if !e[..c].contains(&b'/') => {
                matches!(&e[..c], b"hash" | b"btree" | b"dbm" | b"implicit")
            }
            _ => true,
        })
        .map(<[u8]>::to_vec)
        .collect()
}

/// The words of a K line after `K`: (start, end) byte offsets within `line`.
fn k_words(line: &[u8]) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut i = usize::from(line.first() == Some(&b'K'));
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let s = i;
        let mut quoted = false;
        while i < line.len() && (quoted || !line[i].is_ascii_whitespace()) {
            if line[i] == b'"' {
                quoted = !quoted;
            }
            i += 1;
        }
        words.push((s, i));
    }
    words
}

/// The edits that make the K line at `range` of `cf` declare class `to`: the class word
/// replaced, and the file word either given a new text (`file`) or losing a `.db`
/// ending. Empty when the line's class is not one going away.
pub fn kline_edits(cf: &[u8], range: &Range<usize>, to: &str, file: Option<&[u8]>) -> Vec<Edit> {
    let line = &cf[range.clone()];
    let words = k_words(line);
    let Some(&(cs, ce)) = words.get(1) else {
        return Vec::new();
    };
    let class = &line[cs..ce];
    if !matches!(class, b"hash" | b"btree" | b"dbm" | b"implicit") {
        return Vec::new();
    }
    let at = range.start;
    let mut edits = vec![Edit {
        range: at + cs..at + ce,
        text: to.as_bytes().to_vec(),
    }];
    // The file is the first word after the class that is not a flag.
    if let Some(&(fs, fe)) = words[2..].iter().find(|&&(s, _)| line[s] != b'-') {
        let word = &line[fs..fe];
        match file {
            Some(f) => edits.push(Edit {
                range: at + fs..at + fe,
                text: f.to_vec(),
            }),
            None if class != b"dbm" && word.ends_with(b".db") => edits.push(Edit {
                range: at + fe - 3..at + fe,
                text: Vec::new(),
            }),
            None => {}
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_lines_change_only_the_class_and_db_ending() {
        let cf = b"V10\nKaccess hash -T<TMPF> -o /etc/mail/access.db\nKx btree  -N -f\tmaps/x\n";
        let l1 = 4..cf[4..].iter().position(|&b| b == b'\n').unwrap() + 4;
        let e = kline_edits(cf, &l1, "cdb", None);
        let l2 = l1.end + 1..cf.len() - 1;
        let mut all = e.clone();
        all.extend(kline_edits(cf, &l2, "cdb", None));
        assert_eq!(
            apply(cf, &all),
            b"V10\nKaccess cdb -T<TMPF> -o /etc/mail/access\nKx cdb  -N -f\tmaps/x\n"
        );
        let e = kline_edits(cf, &l2, "cdb", Some(b"maps/.x.tmp"));
        assert_eq!(
            apply(cf, &e),
            b"V10\nKaccess hash -T<TMPF> -o /etc/mail/access.db\nKx cdb  -N -f\tmaps/.x.tmp\n"
        );
        let other = b"Kr regex -a@MATCH ^x$\n";
        assert!(kline_edits(other, &(0..other.len() - 1), "cdb", None).is_empty());
    }
}
