//! Map files behind one interface: the rewrite engine looks keys up through [`Map`], and
//! `makemap` builds files through [`Builder`], whatever the format.
//!
//! | type | sendmail class | files | format crate |
//! |---|---|---|---|
//! | [`MapType::Btree`] | `btree` | `NAME.db` (`.db` added unless present) | `cfmap-bdb` |
//! | [`MapType::Hash`] | `hash` (makemap's `implicit`) | `NAME.db` (same rule) | `cfmap-bdb` |
//! | [`MapType::Dbm`] | `dbm` | `NAME.dir` + `NAME.pag` (sdbm) | `cfmap-sdbm` |
//! | [`MapType::Cdb`] | `cdb` | `NAME.cdb` (`.cdb` added unless present) | `cfmap-cdb` |
//!
//! Maps here are raw bytes: no K-line flags, no case folding, no trailing NUL. Those
//! belong to the caller (the map class or makemap's input rules).
//!
//! Every builder commits through [`commit`]: the new file is written beside the old one
//! and renamed over it, and the old inode's mtime is bumped so that a running sendmail
//! holding it reopens the map by name (formats.md §3.5).

pub mod classes;
pub mod commit;
pub mod lookup;

mod bdb;
mod cdb;
mod dbm;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The on-disk map types cfmap reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapType {
    /// Berkeley DB 5.3 btree.
    Btree,
    /// Berkeley DB 5.3 hash.
    Hash,
    /// sdbm (Perl's SDBM_File), two files.
    Dbm,
    /// tinycdb constant database.
    Cdb,
}

impl MapType {
    /// Every type, in the order `makemap -l` would list them.
    pub const ALL: [MapType; 4] = [MapType::Hash, MapType::Btree, MapType::Dbm, MapType::Cdb];

    /// The name sendmail's K lines and makemap use.
    pub fn name(self) -> &'static str {
        match self {
            MapType::Btree => "btree",
            MapType::Hash => "hash",
            MapType::Dbm => "dbm",
            MapType::Cdb => "cdb",
        }
    }

    /// The files map `name` lives in, as sendmail's map class opens them: `NAME.db` for
    /// btree and hash (unless `name` already ends in `.db`), `NAME.dir` and `NAME.pag`
    /// for dbm, `NAME.cdb` for cdb (unless already there).
    pub fn files(self, name: &Path) -> Vec<PathBuf> {
        match self {
            MapType::Btree | MapType::Hash => vec![with_suffix_unless_present(name, ".db")],
            MapType::Dbm => vec![with_suffix(name, ".dir"), with_suffix(name, ".pag")],
            MapType::Cdb => vec![with_suffix_unless_present(name, ".cdb")],
        }
    }
}

fn with_suffix(name: &Path, suffix: &str) -> PathBuf {
    let mut s = name.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn with_suffix_unless_present(name: &Path, suffix: &str) -> PathBuf {
    if name
        .as_os_str()
        .as_encoded_bytes()
        .ends_with(suffix.as_bytes())
    {
        name.to_path_buf()
    } else {
        with_suffix(name, suffix)
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not a map type cfmap knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown map type {0:?} (expected btree, hash, dbm or cdb)")]
pub struct UnknownMapType(pub String);

impl FromStr for MapType {
    type Err = UnknownMapType;

    /// `btree`, `hash`, `implicit` (= hash, as in makemap), `dbm`, `cdb`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "btree" => Ok(MapType::Btree),
            "hash" | "implicit" => Ok(MapType::Hash),
            "dbm" => Ok(MapType::Dbm),
            "cdb" => Ok(MapType::Cdb),
            _ => Err(UnknownMapType(s.to_string())),
        }
    }
}

/// Why a map could not be opened, read, built or committed. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A system call on the file failed.
    #[error("{}: {}", .path.display(), io_reason(.source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The cdb file is damaged or too large.
    #[error("{}: {source}", .path.display())]
    Cdb {
        path: PathBuf,
        #[source]
        source: cfmap_cdb::Error,
    },
    /// A Berkeley DB or sdbm file is damaged, or the format refused a record.
    #[error("{}: {source}", .path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// This build of cfmap cannot read or write this type yet.
    #[error("{}: map type {ty} is not supported yet", .path.display())]
    Unsupported { ty: MapType, path: PathBuf },
    /// The map file exists but is not a regular file (a symbolic link, a directory, …):
    /// replacing it by rename would not do what the user expects.
    #[error("{}: not a regular file", .path.display())]
    NotRegular { path: PathBuf },
    /// The new map is in place, but the old file's mtime could not be moved forward, so a
    /// process that has the old file open keeps using it until it reopens by name.
    #[error(
        "{}: new map in place, but running readers of the old one were not told: {}",
        .path.display(),
        io_reason(.source)
    )]
    OldNotNotified {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl MapError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> MapError {
        MapError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            MapError::Io { path, .. }
            | MapError::Cdb { path, .. }
            | MapError::Format { path, .. }
            | MapError::Unsupported { path, .. }
            | MapError::NotRegular { path }
            | MapError::OldNotNotified { path, .. } => path,
        }
    }

    /// Whether the file does not exist (makemap's and sendmail's "cannot open").
    pub fn is_not_found(&self) -> bool {
        match self {
            MapError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            MapError::Cdb {
                source: cfmap_cdb::Error::Io(e),
                ..
            } => e.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// An io::Error's text as the C tools print it (strerror): without Rust's
/// " (os error N)" tail. The one place every layer takes it from.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// One record: (key, value).
pub type Record = (Vec<u8>, Vec<u8>);

/// The records of a map, from [`Map::iter`].
pub type Records<'a> = Box<dyn Iterator<Item = Result<Record, MapError>> + 'a>;

/// A map opened for lookups.
pub trait Map {
    /// The value of the first record with exactly this key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError>;
    /// Every record, in the format's natural order (cdb: insertion order; btree: key
    /// order; hash and dbm: bucket order).
    fn iter(&self) -> Records<'_>;
}

/// A new map being built; nothing is visible under the map's name until [`commit`].
///
/// [`commit`]: Builder::commit
pub trait Builder {
    /// Add a record after the ones already added. What a repeated key does is the
    /// format's business (cdb keeps both); apply a duplicate policy before calling.
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), MapError>;
    /// Write the map and put it in place atomically ([`commit::replace_file`]).
    fn commit(self: Box<Self>) -> Result<(), MapError>;
}

/// Commit `builder`, the new map `name` of type `ty`, holding the exclusive lock that
/// readers take (sendmail: a shared flock per lookup), so they wait for the swap
/// instead of failing; dbm's commit ([`commit::replace_pair`]) takes the `.pag` lock itself.
pub fn commit_locked(builder: Box<dyn Builder>, ty: MapType, name: &Path) -> Result<(), MapError> {
    let lock = match ty {
        MapType::Dbm => None,
        _ => commit::lock_pag(&ty.files(name)[0], true).ok().flatten(),
    };
    let committed = builder.commit();
    drop(lock);
    committed
}

pub use cdb::CdbStream;

/// Start writing cdb map `name` record by record ([`CdbStream`]): its temporary file is
/// created now, beside the map; the map appears (or replaces the old one) at
/// [`CdbStream::commit`].
pub fn cdb_stream(name: &Path) -> Result<CdbStream, MapError> {
    CdbStream::begin(&MapType::Cdb.files(name)[0])
}

/// Open map `name` of type `ty` for lookups (`name` as on a K line: suffixes are added
/// per [`MapType::files`]).
pub fn open(ty: MapType, name: &Path) -> Result<Box<dyn Map>, MapError> {
    match ty {
        MapType::Cdb => Ok(Box::new(cdb::CdbMap::open(&ty.files(name)[0])?)),
        MapType::Btree => Ok(Box::new(bdb::BtreeMap::open(&ty.files(name)[0])?)),
        MapType::Hash => Ok(Box::new(bdb::HashMap::open(&ty.files(name)[0])?)),
        MapType::Dbm => {
            let f = ty.files(name);
            Ok(Box::new(dbm::DbmMap::open(&f[0], &f[1])?))
        }
    }
}

/// Call `f` with every pair of map `name` of type `ty`, borrowed, in the order of
/// [`Map::iter`], until it returns `false`; the errors are [`open`]'s and `iter`'s. For
/// a `hash` map this is the fast way through the whole file (pages read in runs, no
/// copy per pair: [`cfmap_bdb::hash::Reader::for_each_pair`]).
pub fn for_each_pair(
    ty: MapType,
    name: &Path,
    mut f: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), MapError> {
    match ty {
        MapType::Hash => {
            let path = &ty.files(name)[0];
            let r = cfmap_bdb::hash::Reader::open(path).map_err(|e| bdb::bdb_error(path, e))?;
            r.for_each_pair(f).map_err(|e| bdb::bdb_error(path, e))
        }
        _ => {
            for r in open(ty, name)?.iter() {
                let (k, v) = r?;
                if !f(&k, &v) {
                    break;
                }
            }
            Ok(())
        }
    }
}

/// Start building map `name` of type `ty`; the file appears (or replaces the old one)
/// at [`Builder::commit`].
pub fn builder(ty: MapType, name: &Path) -> Result<Box<dyn Builder>, MapError> {
    match ty {
        MapType::Cdb => Ok(Box::new(cdb::CdbBuilder::new(
            ty.files(name).swap_remove(0),
        ))),
        MapType::Btree => Ok(Box::new(bdb::BdbBuilder::btree(
            ty.files(name).swap_remove(0),
        ))),
        MapType::Hash => Ok(Box::new(bdb::BdbBuilder::hash(
            ty.files(name).swap_remove(0),
        ))),
        MapType::Dbm => {
            let mut f = ty.files(name);
            let pag = f.pop().expect("dbm has two files");
            let dir = f.pop().expect("dbm has two files");
            Ok(Box::new(dbm::DbmBuilder::new(dir, pag)))
        }
    }
}

/// [`builder`] for a map that keeps every value of a repeated key, in insertion order
/// (makemap `-d`): btree and hash files are made with libdb's `DB_DUP`; cdb keeps
/// repeated records anyway; dbm cannot hold them (its builder replaces).
pub fn builder_keeping_duplicates(ty: MapType, name: &Path) -> Result<Box<dyn Builder>, MapError> {
    match ty {
        MapType::Btree => Ok(Box::new(
            bdb::BdbBuilder::btree(ty.files(name).swap_remove(0)).keep_duplicates(),
        )),
        MapType::Hash => Ok(Box::new(
            bdb::BdbBuilder::hash(ty.files(name).swap_remove(0)).keep_duplicates(),
        )),
        MapType::Cdb | MapType::Dbm => builder(ty, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for ty in MapType::ALL {
            assert_eq!(ty.name().parse::<MapType>().unwrap(), ty);
        }
        assert_eq!("implicit".parse::<MapType>().unwrap(), MapType::Hash);
        assert!("ndbm".parse::<MapType>().is_err());
    }

    #[test]
    fn file_names_follow_sendmail() {
        let p = Path::new;
        assert_eq!(
            MapType::Hash.files(p("/etc/mail/access")),
            [p("/etc/mail/access.db")]
        );
        assert_eq!(MapType::Btree.files(p("access.db")), [p("access.db")]);
        assert_eq!(MapType::Dbm.files(p("m")), [p("m.dir"), p("m.pag")]);
        assert_eq!(MapType::Cdb.files(p("m")), [p("m.cdb")]);
        assert_eq!(MapType::Cdb.files(p("m.cdb")), [p("m.cdb")]);
    }

    #[test]
    fn cdb_build_then_open() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("m");
        let mut b = builder(MapType::Cdb, &name).unwrap();
        b.insert(b"k", b"v1").unwrap();
        b.insert(b"k", b"v2").unwrap();
        b.insert(b"", b"").unwrap();
        b.commit().unwrap();
        let m = open(MapType::Cdb, &name).unwrap();
        assert_eq!(m.get(b"k").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(m.get(b"").unwrap(), Some(Vec::new()));
        assert_eq!(m.get(b"x").unwrap(), None);
        let all: Vec<_> = m.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn cdb_stream_gives_the_builders_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut s = cdb_stream(&a).unwrap();
        let mut bl = builder(MapType::Cdb, &b).unwrap();
        for (k, v) in [
            (&b"k"[..], &b"v1"[..]),
            (b"k", b"v2"),
            (b"", b""),
            (b"x", b"y"),
        ] {
            s.insert(k, v).unwrap();
            bl.insert(k, v).unwrap();
        }
        assert!(
            !dir.path().join("a.cdb").exists(),
            "nothing visible before commit"
        );
        s.commit().unwrap();
        bl.commit().unwrap();
        let got = std::fs::read(dir.path().join("a.cdb")).unwrap();
        assert!(got == std::fs::read(dir.path().join("b.cdb")).unwrap());
        let names = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(names, 2, "no temporaries left");
        // Dropped without commit: no file, no temporary.
        let mut s = cdb_stream(&dir.path().join("c")).unwrap();
        s.insert(b"k", b"v").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn cdb_stream_of_many_chunks_gives_the_builders_file() {
        // Several chunks: the writing thread is used; and a record larger than a chunk.
        let dir = tempfile::tempdir().unwrap();
        let mut s = cdb_stream(&dir.path().join("a")).unwrap();
        s.reserve(10);
        let mut b = cfmap_cdb::Builder::new();
        for i in 0..60_000u32 {
            let k = format!("key{}", i % 50_000).into_bytes();
            let v = if i == 777 {
                vec![b'x'; 3 * cdb::STREAM_CHUNK]
            } else {
                format!("value {i}").into_bytes()
            };
            s.insert(&k, &v).unwrap();
            b.insert(&k, &v).unwrap();
        }
        s.commit().unwrap();
        let got = std::fs::read(dir.path().join("a.cdb")).unwrap();
        assert!(got == b.to_bytes());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Abandoned while the thread runs: no file, no temporary, no hang.
        let mut s = cdb_stream(&dir.path().join("c")).unwrap();
        for i in 0..100_000u32 {
            s.insert(format!("k{i}").as_bytes(), b"v").unwrap();
        }
        drop(s);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("missing");
        let e = open(MapType::Cdb, &name).err().unwrap();
        assert!(e.is_not_found());
        assert_eq!(e.path(), dir.path().join("missing.cdb"));
        assert!(
            e.to_string()
                .ends_with("missing.cdb: No such file or directory"),
            "{e}"
        );
        for ty in [MapType::Btree, MapType::Hash, MapType::Dbm] {
            let e = open(ty, &name).err().unwrap();
            assert!(e.is_not_found(), "{ty}: {e}");
        }
    }
}
