//! Carry every pair of one map over into another map (or a makemap source), so that the
//! new file answers sendmail's lookups as the old one did.
//!
//! The model: a map is a list of (key, value) byte strings. sendmail looks a key up by
//! lower-casing it (unless the K line has `-f`), then trying it without and with a trailing
//! NUL, and takes the **first** record the format's reader returns. So a conversion that
//! copies every pair byte for byte (NULs included, capitals included) gives the same answers,
//! whatever the two formats, as long as one record per key is kept: the one the old reader
//! answered. That is the default here:
//!
//! - **Bytes.** Keys and values are copied exactly; `-N`-style options add or strip one
//!   trailing NUL on every key and value ([`NulEdit`]), and [`Options::fold`] lower-cases
//!   keys (ASCII), as makemap does without `-f`.
//! - **Capitals.** A key with upper-case letters is copied as it is. Under a K line without
//!   `-f` no lookup ever reached it (lookup keys are lower-cased), and none reaches it in the
//!   new map either: tinycdb's own `cdb -q` does not fold, but sendmail's cdb class folds
//!   the lookup key just as the hash class does. Such keys are counted in
//!   [`Outcome::upper_case_keys`] so the caller can say so.
//! - **Duplicates.** Formats that can hold a key twice (Berkeley DB files made with
//!   `makemap -d`, cdb, a makemap source) are resolved to the record the old reader gives
//!   a lookup: [`crate::maps::Map::get`] of the source map (the first of the duplicate set),
//!   or for a text source the first line (makemap keeps the first and reports the others).
//!   Every dropped record is reported ([`Note::Duplicate`]). [`Options::keep_duplicates`]
//!   keeps them all instead, where the destination can hold them.
//! - **Text.** `text:PATH` is a makemap source: read with makemap's input rules
//!   ([`crate::makemap::Lines`]), written by [`text`] so that makemap with the flags named on
//!   its first line rebuilds the same pairs.
//!
//! Writing goes through [`crate::maps::builder`]: the new file is built beside the old one
//! and renamed over it under the map's exclusive lock, and the old inode's mtime is moved
//! forward so a running sendmail reopens the map (see [`crate::maps::commit`]).

pub mod text;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::makemap::{self as mm, RulesOpt};
use crate::maps::{self, MapError, MapType};

/// One side of a conversion: a map format and a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A map file of this type (`hash`, `btree`, `dbm`, `cdb`).
    Map(MapType),
    /// A makemap source (`key value` lines).
    Text,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Map(t) => t.fmt(f),
            Format::Text => f.write_str("text"),
        }
    }
}

/// `TYPE:PATH`, as Postfix writes map names (`hash:/etc/mail/access`). The path is the
/// map name as on a K line: `.db`, `.dir`/`.pag` or `.cdb` are added as sendmail adds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub format: Format,
    pub path: PathBuf,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.format, self.path.display())
    }
}

/// Why a `TYPE:PATH` does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadEndpoint(String);

impl FromStr for Endpoint {
    type Err = BadEndpoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((ty, path)) = s.split_once(':') else {
            return Err(BadEndpoint(format!(
                "{s:?}: expected TYPE:PATH (hash:, btree:, dbm:, cdb: or text:)"
            )));
        };
        if path.is_empty() {
            return Err(BadEndpoint(format!("{s:?}: no path after {ty}:")));
        }
        let format = match ty {
            "text" | "txt" => Format::Text,
            t => Format::Map(t.parse().map_err(|_| {
                BadEndpoint(format!(
                    "{s:?}: unknown type {t:?} (expected hash, btree, dbm, cdb or text)"
                ))
            })?),
        };
        Ok(Endpoint {
            format,
            path: PathBuf::from(path),
        })
    }
}

impl Endpoint {
    /// The files this endpoint is made of.
    pub fn files(&self) -> Vec<PathBuf> {
        match self.format {
            Format::Map(t) => t.files(&self.path),
            Format::Text => vec![self.path.clone()],
        }
    }
}

/// What happens to one trailing NUL on every key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NulEdit {
    /// Copied as they are (the default: the new map answers as the old one).
    #[default]
    Keep,
    /// A NUL is added where there is none (`makemap -N`; for a K line with `-N`).
    Add,
    /// One trailing NUL is removed where there is one (for a K line with `-O`).
    Strip,
}

/// How pairs are carried over.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub nul: NulEdit,
    /// Lower-case keys (ASCII), as makemap does without `-f`.
    pub fold: bool,
    /// Keep every record of a repeated key (destination hash/btree with `DB_DUP`, cdb, or
    /// text with `-d`) instead of the one the old reader answered.
    pub keep_duplicates: bool,
    /// How a text source is read (makemap's `-N`, `-f`, `-e`, `-t`, `-D`); the flags on
    /// the first line of a source cfmap wrote are added to these.
    pub text_rules: RulesOpt,
    /// Skip makemap's safety checks on the destination (symbolic and hard links).
    pub skip_safety: bool,
}

/// Something the caller should tell the user; none of them stops the conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A key had several records; `kept` is the one the old reader answers, `dropped`
    /// the others (in source order).
    Duplicate {
        key: Vec<u8>,
        kept: Vec<u8>,
        dropped: Vec<Vec<u8>>,
    },
    /// A text source line makemap would reject (it is left out, as makemap leaves it).
    Line { line: u32, message: Vec<u8> },
}

/// What a conversion did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Records written.
    pub pairs: usize,
    /// Records read from the source.
    pub read: usize,
    pub notes: Vec<Note>,
    /// Keys written with ASCII upper-case letters, and the first of them.
    pub upper_case_keys: usize,
    pub first_upper_case_key: Option<Vec<u8>>,
    /// For a text destination: the makemap flags that rebuild the map from it.
    pub text_flags: Option<String>,
}

/// Why a conversion failed. Nothing was changed on disk.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The source cannot be opened or read (missing, damaged, another type).
    #[error("{}", undouble(.0))]
    Source(MapError),
    /// The text source cannot be read.
    #[error("{}: {}", .0.display(), io_reason(.1))]
    SourceText(PathBuf, std::io::Error),
    /// The destination exists and is not a map of the destination type.
    #[error("{}: exists and is not a {ty} map ({why}); not replaced", .path.display())]
    NotAMap {
        path: PathBuf,
        ty: Format,
        why: String,
    },
    /// makemap's safety checks refuse the destination.
    #[error("{}: {why}", .path.display())]
    Unsafe { path: PathBuf, why: String },
    /// A pair the destination format cannot hold.
    #[error("{dst}: key {}: {why}", show(.key))]
    Unrepresentable {
        dst: String,
        key: Vec<u8>,
        why: String,
    },
    /// The pairs cannot be written as one makemap source.
    #[error("{0}")]
    Text(#[from] text::TextError),
    /// Building or committing the destination failed.
    #[error("{0}")]
    Destination(MapError),
    #[error("{}: {}", .0.display(), io_reason(.1))]
    DestinationText(PathBuf, std::io::Error),
}

impl ConvertError {
    /// The sysexits status for this error (65 data, 66 no input, 73 can't create, 74 I/O).
    pub fn exit_code(&self) -> i32 {
        match self {
            ConvertError::Source(e) if e.is_not_found() => crate::sysexits::NOINPUT,
            ConvertError::SourceText(_, e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::sysexits::NOINPUT
            }
            ConvertError::Source(_) | ConvertError::SourceText(..) => crate::sysexits::DATAERR,
            ConvertError::Unrepresentable { .. } | ConvertError::Text(_) => {
                crate::sysexits::DATAERR
            }
            ConvertError::NotAMap { .. } | ConvertError::Unsafe { .. } => {
                crate::sysexits::CANTCREAT
            }
            ConvertError::Destination(MapError::Io { source, .. })
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                crate::sysexits::CANTCREAT
            }
            ConvertError::Destination(MapError::NotRegular { .. }) => crate::sysexits::CANTCREAT,
            ConvertError::Destination(_) | ConvertError::DestinationText(..) => {
                crate::sysexits::IOERR
            }
        }
    }
}

/// A map error's text with its file named once (some format errors name it again).
fn undouble(e: &MapError) -> String {
    let s = e.to_string();
    let p = format!("{}: ", e.path().display());
    match s.strip_prefix(&p) {
        Some(rest) if rest.starts_with(&p) => rest.to_string(),
        _ => s,
    }
}

pub(crate) use crate::maps::io_reason;

/// A key or value for a message: printable ASCII as is, other bytes as `\xNN`.
pub fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if (0x20..0x7f).contains(&c) && c != b'\\' {
            s.push(c as char);
        } else if c == 0 {
            s.push_str("\\0");
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

/// A fast hasher for the duplicate index (keys from local files, not from an attacker).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type Index<'a> = HashMap<&'a [u8], u32, BuildHasherDefault<FxHasher>>;

/// The pairs of a source, in its natural order, with the notes made while reading.
pub struct Source {
    pub records: Vec<maps::Record>,
    pub notes: Vec<Note>,
    /// For each record, whether it is the one the source's reader answers for its key
    /// (false for the other records of a repeated key).
    answered: Vec<bool>,
}

/// Read every pair of `src`, and mark which record of a repeated key the reader answers.
pub fn read(src: &Endpoint, opts: &Options) -> Result<Source, ConvertError> {
    match src.format {
        Format::Map(ty) => {
            let map = maps::open(ty, &src.path).map_err(ConvertError::Source)?;
            let mut records = Vec::new();
            maps::for_each_pair(ty, &src.path, |k, v| {
                records.push((k.to_vec(), v.to_vec()));
                true
            })
            .map_err(ConvertError::Source)?;
            let answered =
                resolve_duplicates(&records, |k| map.get(k).map_err(ConvertError::Source))?;
            Ok(Source {
                records,
                notes: Vec::new(),
                answered,
            })
        }
        Format::Text => {
            let data = std::fs::read(&src.path)
                .map_err(|e| ConvertError::SourceText(src.path.clone(), e))?;
            let mut rules = opts.text_rules;
            text::merge_header(&data, &mut rules);
            let mut records = Vec::new();
            let mut notes = Vec::new();
            for (line, item) in mm::Lines::new(&data, rules.rules()) {
                match item {
                    Ok(r) => records.push((r.key, r.value)),
                    Err(e) => notes.push(Note::Line {
                        line,
                        message: e.message(),
                    }),
                }
            }
            // makemap keeps the first line of a repeated key.
            let answered = resolve_duplicates(&records, |_| Ok(None))?;
            Ok(Source {
                records,
                notes,
                answered,
            })
        }
    }
}

/// For each record: is it the one a lookup of its key answers? `answer` is the reader's
/// lookup (`None`: the first record wins).
fn resolve_duplicates(
    records: &[maps::Record],
    answer: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, ConvertError>,
) -> Result<Vec<bool>, ConvertError> {
    let mut answered = vec![true; records.len()];
    let mut index: Index = HashMap::with_capacity_and_hasher(records.len(), Default::default());
    // First record of a repeated key -> its other records, in source order.
    let mut repeated: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, (k, _)) in records.iter().enumerate() {
        if let Some(&first) = index.get(k.as_slice()) {
            answered[i] = false;
            repeated.entry(first).or_default().push(i as u32);
        } else {
            index.insert(k, i as u32);
        }
    }
    // For each repeated key, the record the reader gives.
    for (first, others) in repeated {
        let first = first as usize;
        let Some(v) = answer(&records[first].0)? else {
            continue;
        };
        if records[first].1 == v {
            continue;
        }
        if let Some(&j) = others.iter().find(|&&j| records[j as usize].1 == v) {
            answered[first] = false;
            answered[j as usize] = true;
        }
    }
    Ok(answered)
}

fn edit_nul(b: &mut Vec<u8>, nul: NulEdit) {
    match nul {
        NulEdit::Keep => {}
        NulEdit::Add => {
            if b.last() != Some(&0) {
                b.push(0);
            }
        }
        NulEdit::Strip => {
            if b.last() == Some(&0) {
                b.pop();
            }
        }
    }
}

/// The records to write, in source order: NUL and case edits applied, one record per key
/// unless `keep_duplicates`, with the notes about what was dropped.
pub fn prepare(source: Source, opts: &Options) -> (Vec<maps::Record>, Vec<Note>) {
    let Source {
        records,
        mut notes,
        answered,
    } = source;
    let mut out: Vec<maps::Record> = Vec::with_capacity(records.len());
    let mut was_lower: Vec<bool> = Vec::with_capacity(records.len());
    let mut groups: HashMap<Vec<u8>, (usize, Vec<Vec<u8>>)> = HashMap::new();
    // First pass: edits; keep the answered record of each source key (or all of them).
    let mut dropped_src: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for ((mut k, mut v), ans) in records.into_iter().zip(answered) {
        if !ans && !opts.keep_duplicates {
            dropped_src.push((k, v));
            continue;
        }
        let lower = !k.iter().any(u8::is_ascii_uppercase);
        if opts.fold {
            k.make_ascii_lowercase();
        }
        edit_nul(&mut k, opts.nul);
        edit_nul(&mut v, opts.nul);
        out.push((k, v));
        was_lower.push(lower);
    }
    // Duplicates of the source, reported against the record kept.
    if !dropped_src.is_empty() {
        let mut by_key: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
        let mut order = Vec::new();
        for (k, v) in dropped_src {
            let e = by_key.entry(k.clone()).or_default();
            if e.is_empty() {
                order.push(k);
            }
            e.push(v);
        }
        let mut kept: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut first: Index = HashMap::with_capacity_and_hasher(out.len(), Default::default());
        for (i, (k, _)) in out.iter().enumerate() {
            first.entry(k.as_slice()).or_insert(i as u32);
        }
        // The kept record, found by its source key (before the edits).
        for k in &order {
            let mut probe = k.clone();
            if opts.fold {
                probe.make_ascii_lowercase();
            }
            edit_nul(&mut probe, opts.nul);
            if let Some(&i) = first.get(probe.as_slice()) {
                kept.insert(k.clone(), out[i as usize].1.clone());
            }
        }
        for k in order {
            let dropped = by_key.remove(&k).unwrap_or_default();
            notes.push(Note::Duplicate {
                kept: kept.remove(&k).unwrap_or_default(),
                key: k,
                dropped,
            });
        }
    }
    // Folding (or NUL edits) can make two source keys one: keep the record a folding
    // lookup found before (a key that was already lower case), else the first.
    if (opts.fold || opts.nul != NulEdit::Keep) && !opts.keep_duplicates {
        let mut index: Index = HashMap::with_capacity_and_hasher(out.len(), Default::default());
        let mut keep = vec![true; out.len()];
        for i in 0..out.len() {
            match index.get(out[i].0.as_slice()) {
                None => {
                    index.insert(&out[i].0, i as u32);
                }
                Some(&first) => {
                    let first = first as usize;
                    let winner = if !was_lower[first] && was_lower[i] {
                        i
                    } else {
                        first
                    };
                    let loser = if winner == i { first } else { i };
                    keep[loser] = false;
                    let g = groups
                        .entry(out[i].0.clone())
                        .or_insert_with(|| (winner, Vec::new()));
                    g.0 = winner;
                    g.1.push(out[loser].1.clone());
                    if winner == i {
                        index.insert(&out[i].0, i as u32);
                    }
                }
            }
        }
        drop(index);
        if !groups.is_empty() {
            let mut gs: Vec<_> = groups.into_iter().collect();
            gs.sort_by_key(|g| g.1.0);
            for (key, (winner, dropped)) in gs {
                notes.push(Note::Duplicate {
                    key,
                    kept: out[winner].1.clone(),
                    dropped,
                });
            }
            let mut i = 0;
            out.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
    }
    (out, notes)
}

/// Refuse a destination file that exists but is not a map of its type, or that
/// makemap's safety checks refuse (a symbolic link, other hard links).
pub fn check_destination(dst: &Endpoint, skip_safety: bool) -> Result<(), ConvertError> {
    for f in dst.files() {
        let m = match std::fs::symlink_metadata(&f) {
            Ok(m) => m,
            Err(_) => continue,
        };
        if m.file_type().is_symlink() && !skip_safety {
            return Err(ConvertError::Unsafe {
                path: f,
                why: "Symbolic links not allowed".into(),
            });
        }
        let m = std::fs::metadata(&f).map_err(|e| ConvertError::Unsafe {
            path: f.clone(),
            why: io_reason(&e),
        })?;
        if !m.is_file() {
            return Err(ConvertError::NotAMap {
                path: f,
                ty: dst.format,
                why: "not a regular file".into(),
            });
        }
        if m.nlink() != 1 && !skip_safety {
            return Err(ConvertError::Unsafe {
                path: f,
                why: "Hard links not allowed".into(),
            });
        }
    }
    match dst.format {
        Format::Map(ty) => {
            let files = dst.files();
            let any = files.iter().any(|f| f.exists());
            if any {
                let bad = |why: String| ConvertError::NotAMap {
                    path: files[0].clone(),
                    ty: dst.format,
                    why,
                };
                // Opening checks the header (magic, meta page, table positions); the
                // first record shows the data is where the header says.
                // (An sdbm pair has no header: its reader reads every page to iterate,
                // so it is only opened.)
                let map = maps::open(ty, &dst.path).map_err(|e| bad(reason_of(&e)))?;
                if ty != MapType::Dbm
                    && let Some(Err(e)) = map.iter().next()
                {
                    return Err(bad(reason_of(&e)));
                }
            }
            Ok(())
        }
        Format::Text => {
            // A text destination is replaced only when it is empty or one cfmap wrote.
            match std::fs::read(&dst.path) {
                Ok(data) if !data.is_empty() && !text::has_header(&data) => {
                    Err(ConvertError::NotAMap {
                        path: dst.path.clone(),
                        ty: Format::Text,
                        why: "not a makemap source written by cfmap convert".into(),
                    })
                }
                _ => Ok(()),
            }
        }
    }
}

fn reason_of(e: &MapError) -> String {
    let s = undouble(e);
    let p = format!("{}: ", e.path().display());
    s.strip_prefix(&p).map(str::to_string).unwrap_or(s)
}

/// A builder for map `dst` of type `ty` (keeping repeated keys when `dups`).
fn open_builder(
    ty: MapType,
    dst: &Endpoint,
    dups: bool,
) -> Result<Box<dyn maps::Builder>, ConvertError> {
    if dups {
        maps::builder_keeping_duplicates(ty, &dst.path)
    } else {
        maps::builder(ty, &dst.path)
    }
    .map_err(ConvertError::Destination)
}

/// Add one pair, refusing what the format cannot hold (sdbm: 1008 bytes a pair).
fn insert_checked(
    b: &mut dyn maps::Builder,
    ty: MapType,
    dst: &Endpoint,
    k: &[u8],
    v: &[u8],
) -> Result<(), ConvertError> {
    if ty == MapType::Dbm && k.len() + v.len() > 1008 {
        return Err(ConvertError::Unrepresentable {
            dst: dst.to_string(),
            key: k.to_vec(),
            why: format!(
                "{} bytes of key and value: dbm (sdbm) holds at most 1008 per pair",
                k.len() + v.len()
            ),
        });
    }
    b.insert(k, v).map_err(ConvertError::Destination)
}

/// Put the new map in place. Readers that lock the map (sendmail: a shared flock per
/// lookup) wait for the swap, as with cfmap makemap; dbm's commit takes the .pag lock
/// itself.
fn commit_locked(
    b: Box<dyn maps::Builder>,
    ty: MapType,
    dst: &Endpoint,
) -> Result<(), ConvertError> {
    match maps::commit_locked(b, ty, &dst.path) {
        Ok(()) | Err(MapError::OldNotNotified { .. }) => Ok(()),
        Err(e) => Err(ConvertError::Destination(e)),
    }
}

/// Write `records` to `dst` atomically. `like` is a file whose mode and owner a new
/// destination takes (the source map, so the new file is as readable as the old one).
pub fn write(
    dst: &Endpoint,
    records: &[maps::Record],
    keep_duplicates: bool,
    like: Option<&Path>,
    rebuild_hint: &str,
) -> Result<Option<String>, ConvertError> {
    let existed = dst.files().iter().any(|f| f.exists());
    let flags = match dst.format {
        Format::Map(ty) => {
            let dups_allowed = matches!(ty, MapType::Btree | MapType::Hash | MapType::Cdb);
            let has_dups = keep_duplicates && {
                let mut seen: Index = HashMap::default();
                records.iter().any(|(k, _)| seen.insert(k, 0).is_some())
            };
            if has_dups && !dups_allowed {
                let mut seen: Index = HashMap::default();
                let k = records
                    .iter()
                    .find(|(k, _)| seen.insert(k, 0).is_some())
                    .map(|r| r.0.clone())
                    .unwrap_or_default();
                return Err(ConvertError::Unrepresentable {
                    dst: dst.to_string(),
                    key: k,
                    why: format!("repeated key: type {ty} cannot hold duplicates"),
                });
            }
            let mut sink = Sink::open(ty, dst, has_dups)?;
            for (k, v) in records {
                sink.insert(ty, dst, k, v)?;
            }
            sink.commit(ty, dst)?;
            None
        }
        Format::Text => {
            let (bytes, flags) = text::render(records, keep_duplicates, rebuild_hint)?;
            maps::commit::replace_file(&dst.path, 0o666, |f, p| {
                use std::io::Write;
                f.write_all(&bytes).map_err(|e| MapError::io(p, e))
            })
            .map_err(|e| match e {
                MapError::Io { path, source } => ConvertError::DestinationText(path, source),
                e => ConvertError::Destination(e),
            })?;
            Some(flags)
        }
    };
    if !existed && let Some(like) = like {
        copy_owner_and_mode(like, &dst.files());
    }
    Ok(flags)
}

/// Whether map `ty` at `name` cannot hold a key twice: sdbm never does, a Berkeley DB
/// file only with the DUP flag in its meta page (flags at offset 48, in the byte order
/// its magic number shows).
fn cannot_repeat_keys(ty: MapType, name: &Path) -> bool {
    use std::io::Read;
    match ty {
        MapType::Dbm => true,
        MapType::Cdb => false,
        MapType::Btree | MapType::Hash => {
            let mut b = [0u8; 52];
            let Ok(mut f) = std::fs::File::open(&ty.files(name)[0]) else {
                return false;
            };
            if f.read_exact(&mut b).is_err() {
                return false;
            }
            let w = |at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
            let magic_le = u32::from_le_bytes(w(12));
            let flags = match magic_le {
                0x0005_3162 | 0x0006_1561 => u32::from_le_bytes(w(48)),
                0x6231_0500 | 0x6115_0600 => u32::from_be_bytes(w(48)),
                _ => return false,
            };
            flags & 1 == 0
        }
    }
}

/// Where the streaming conversion puts pairs: a cdb is written into its temporary file
/// as the pairs come ([`maps::CdbStream`]); other types collect them in their builder.
enum Sink {
    Cdb(Box<maps::CdbStream>),
    Built(Box<dyn maps::Builder>),
}

impl Sink {
    /// `dups`: keep repeated keys (cdb always does).
    fn open(ty: MapType, dst: &Endpoint, dups: bool) -> Result<Sink, ConvertError> {
        match ty {
            MapType::Cdb => maps::cdb_stream(&dst.path)
                .map(|s| Sink::Cdb(Box::new(s)))
                .map_err(ConvertError::Destination),
            _ => open_builder(ty, dst, dups).map(Sink::Built),
        }
    }

    fn insert(
        &mut self,
        ty: MapType,
        dst: &Endpoint,
        k: &[u8],
        v: &[u8],
    ) -> Result<(), ConvertError> {
        match self {
            Sink::Cdb(s) => s.insert(k, v).map_err(ConvertError::Destination),
            Sink::Built(b) => insert_checked(b.as_mut(), ty, dst, k, v),
        }
    }

    fn commit(self, ty: MapType, dst: &Endpoint) -> Result<(), ConvertError> {
        match self {
            Sink::Cdb(s) => match s.commit() {
                Ok(()) | Err(MapError::OldNotNotified { .. }) => Ok(()),
                Err(e) => Err(ConvertError::Destination(e)),
            },
            Sink::Built(b) => commit_locked(b, ty, dst),
        }
    }
}

/// The streaming conversion: a map that cannot repeat keys, copied unchanged into
/// another map type, pair by pair straight into the destination (no copy kept in
/// between).
fn stream(
    src: &Endpoint,
    ty_in: MapType,
    dst: &Endpoint,
    ty: MapType,
) -> Result<Outcome, ConvertError> {
    // Opened first, so that a source that cannot be read is reported before anything
    // about the destination.
    drop(maps::open(ty_in, &src.path).map_err(ConvertError::Source)?);
    check_destination(dst, false)?;
    let existed = dst.files().iter().any(|f| f.exists());
    let mut sink = Sink::open(ty, dst, false)?;
    let mut o = Outcome::default();
    let mut failed = None;
    maps::for_each_pair(ty_in, &src.path, |k, v| {
        if k.iter().any(u8::is_ascii_uppercase) {
            o.upper_case_keys += 1;
            if o.first_upper_case_key.is_none() {
                o.first_upper_case_key = Some(k.to_vec());
            }
        }
        if let Err(e) = sink.insert(ty, dst, k, v) {
            failed = Some(e);
            return false;
        }
        o.read += 1;
        true
    })
    .map_err(ConvertError::Source)?;
    if let Some(e) = failed {
        return Err(e);
    }
    o.pairs = o.read;
    sink.commit(ty, dst)?;
    if !existed {
        copy_owner_and_mode(&ty_in.files(&src.path)[0], &dst.files());
    }
    Ok(o)
}

/// Give new files the mode bits and owner of `like` (best effort: only root may chown).
fn copy_owner_and_mode(like: &Path, files: &[PathBuf]) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(m) = std::fs::metadata(like) else {
        return;
    };
    for f in files {
        let _ = std::os::unix::fs::chown(f, Some(m.uid()), Some(m.gid()));
        let _ = std::fs::set_permissions(f, std::fs::Permissions::from_mode(m.mode() & 0o7777));
    }
}

/// Convert `src` into `dst`: read, resolve, check the destination, write atomically.
pub fn convert(src: &Endpoint, dst: &Endpoint, opts: &Options) -> Result<Outcome, ConvertError> {
    // makemap -s: a symbolic link is followed and its target replaced (one-file maps).
    let followed;
    let dst = match dst.format {
        Format::Map(MapType::Dbm) => dst,
        _ if opts.skip_safety => {
            let f = dst.files().swap_remove(0);
            match std::fs::symlink_metadata(&f) {
                Ok(m) if m.file_type().is_symlink() => {
                    let target = std::fs::canonicalize(&f).map_err(|e| ConvertError::Unsafe {
                        path: f.clone(),
                        why: io_reason(&e),
                    })?;
                    followed = Endpoint {
                        format: dst.format,
                        path: target,
                    };
                    &followed
                }
                _ => dst,
            }
        }
        _ => dst,
    };
    if let (Format::Map(ty_in), Format::Map(ty)) = (src.format, dst.format)
        && !opts.fold
        && opts.nul == NulEdit::Keep
        && !opts.skip_safety
        && cannot_repeat_keys(ty_in, &src.path)
    {
        return stream(src, ty_in, dst, ty);
    }
    let source = read(src, opts)?;
    let read_n = source.records.len();
    check_destination(dst, opts.skip_safety)?;
    let (records, notes) = prepare(source, opts);
    let mut upper = 0;
    let mut first_upper = None;
    for (k, _) in &records {
        if k.iter().any(u8::is_ascii_uppercase) {
            upper += 1;
            if first_upper.is_none() {
                first_upper = Some(k.clone());
            }
        }
    }
    let like = match src.format {
        Format::Map(ty) => Some(ty.files(&src.path).swap_remove(0)),
        Format::Text => None,
    };
    let hint = match src.format {
        Format::Map(ty) => format!("{ty} {}", src.path.display()),
        Format::Text => "hash NAME".to_string(),
    };
    let text_flags = write(dst, &records, opts.keep_duplicates, like.as_deref(), &hint)?;
    Ok(Outcome {
        pairs: records.len(),
        read: read_n,
        notes,
        upper_case_keys: upper,
        first_upper_case_key: first_upper,
        text_flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(k: &str, v: &str) -> maps::Record {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn endpoints_parse() {
        let e: Endpoint = "hash:/etc/mail/access".parse().unwrap();
        assert_eq!(e.format, Format::Map(MapType::Hash));
        assert_eq!(e.path, Path::new("/etc/mail/access"));
        assert_eq!(e.to_string(), "hash:/etc/mail/access");
        assert_eq!(
            "text:a:b".parse::<Endpoint>().unwrap().path,
            Path::new("a:b")
        );
        assert!("ndbm:x".parse::<Endpoint>().is_err());
        assert!("/etc/mail/access".parse::<Endpoint>().is_err());
        assert!("cdb:".parse::<Endpoint>().is_err());
    }

    #[test]
    fn duplicates_keep_what_the_reader_answers() {
        let recs = vec![rec("a", "1"), rec("b", "x"), rec("a", "2"), rec("a", "3")];
        let ans = resolve_duplicates(&recs, |_| Ok(Some(b"2".to_vec()))).unwrap();
        assert_eq!(ans, [false, true, true, false]);
        let ans = resolve_duplicates(&recs, |_| Ok(None)).unwrap();
        assert_eq!(ans, [true, true, false, false]);
        let source = Source {
            records: recs,
            notes: vec![],
            answered: ans,
        };
        let (out, notes) = prepare(source, &Options::default());
        assert_eq!(out, [rec("a", "1"), rec("b", "x")]);
        assert_eq!(
            notes,
            [Note::Duplicate {
                key: b"a".to_vec(),
                kept: b"1".to_vec(),
                dropped: vec![b"2".to_vec(), b"3".to_vec()]
            }]
        );
    }

    #[test]
    fn folding_prefers_the_key_a_folded_lookup_found() {
        let recs = vec![
            rec("MiXed", "upper"),
            rec("mixed", "lower"),
            rec("Only", "o"),
        ];
        let n = recs.len();
        let source = Source {
            records: recs,
            notes: vec![],
            answered: vec![true; n],
        };
        let opts = Options {
            fold: true,
            ..Options::default()
        };
        let (out, notes) = prepare(source, &opts);
        assert_eq!(out, [rec("mixed", "lower"), rec("only", "o")]);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn nul_edits() {
        let recs = vec![
            (b"k\0".to_vec(), b"v\0".to_vec()),
            (b"p".to_vec(), b"".to_vec()),
        ];
        let source = |r: &Vec<maps::Record>| Source {
            records: r.clone(),
            notes: vec![],
            answered: vec![true; 2],
        };
        let add = Options {
            nul: NulEdit::Add,
            ..Options::default()
        };
        let (out, _) = prepare(source(&recs), &add);
        assert_eq!(out[0], (b"k\0".to_vec(), b"v\0".to_vec()));
        assert_eq!(out[1], (b"p\0".to_vec(), b"\0".to_vec()));
        let strip = Options {
            nul: NulEdit::Strip,
            ..Options::default()
        };
        let (out, _) = prepare(source(&recs), &strip);
        assert_eq!(out[0], rec("k", "v"));
        assert_eq!(out[1], rec("p", ""));
    }
}
