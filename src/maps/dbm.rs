//! The `dbm` map type over `cfmap-sdbm` (`NAME.dir` + `NAME.pag`, Perl's SDBM_File).
//!
//! Locking (formats.md §1.13, [`commit`] module docs): every lookup and every scan holds
//! a shared `flock` on `NAME.pag`. sdbm reads `.dir` whole when it opens a pair, so a
//! map keeps the pair open between lookups (and the lock is taken on the `.pag` it
//! holds) and checks under the lock, before each one, that it is still current:
//!
//! - The open `.pag` must have the same size, modification and change times
//!   (nanoseconds) as when `.dir` was read, and still be linked. Every store writes a
//!   page (a split writes pages and `.dir`), so a writer that updates the pair in place
//!   (a Perl filter, `Sdbm::open` read-write), under the exclusive lock, changes them;
//!   and renaming another file over `NAME.pag` (a replacement,
//!   [`commit::replace_pair`], which also moves the old file's modification time
//!   forward), or the file away, changes the change time. A store within the file
//!   system's timestamp granularity of the read could leave the times equal, so when
//!   they were less than [`SETTLED`] old at the read they do not count as unchanged
//!   until they have settled.
//! - Otherwise, if `NAME.pag` names another file now (same device and inode?), the map
//!   was replaced: everything is dropped and the new pair opened, so a replaced map is
//!   seen at once. If it is the same file, `.dir` is read again.
//! - Pages are read from `.pag` at every lookup, under the lock, so in-place changes to
//!   them are always seen.
//!
//! That is four system calls per lookup (lock, `fstat`, one page read, unlock) where a
//! fresh open took about ten and read the whole `.dir`.
//!
//! A scan ([`Map::iter`]) opens the pair afresh under the lock. The builder commits
//! through [`commit::replace_pair`] (exclusive lock, `.dir` renamed before `.pag`).

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use cfmap_sdbm::Sdbm;

use super::{Builder, Map, MapError, Records, commit};

/// Mode of new `.dir`/`.pag` files before the umask, as Perl's `tie … 0666`.
const NEW_MODE: u32 = 0o666;

/// How old `.pag`'s times must be when `.dir` is read for unchanged times to prove an
/// unchanged, still current pair: far more than the coarsest timestamp tick (a jiffy, 10 ms at most).
const SETTLED: Duration = Duration::from_millis(100);

fn sdbm_error(path: &Path, source: cfmap_sdbm::Error) -> MapError {
    match source {
        cfmap_sdbm::Error::Io { path, source } => MapError::Io { path, source },
        source => MapError::Format {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    }
}

/// What identifies one state of `.pag`: the file, its size and its times.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether both times were at least [`SETTLED`] before `now`.
    fn settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let newest = self.mtime.max(self.ctime);
        let Ok(secs) = u64::try_from(newest.0) else {
            return true; // before 1970
        };
        let newest = Duration::new(secs, newest.1.clamp(0, 999_999_999) as u32);
        newest + SETTLED <= now
    }
}

/// The pair as last opened, with the `.pag` descriptor the lock is taken on.
struct OpenPair {
    db: Sdbm,
    /// `NAME.pag`, open; the lookups' shared lock is taken on it.
    pag: File,
    /// `.pag` when `.dir` was read.
    stamp: Stamp,
    /// Whether an equal [`Stamp`] proves the pair unchanged (see [`SETTLED`]).
    settled: bool,
}

/// A shared `flock` held on an open `.pag`, released when dropped.
struct Shared<'a>(&'a File);

impl<'a> Shared<'a> {
    #[allow(clippy::incompatible_msrv)] // File::lock_shared: Rust 1.89
    fn take(file: &'a File, path: &Path) -> Result<Shared<'a>, MapError> {
        file.lock_shared().map_err(|e| MapError::io(path, e))?;
        Ok(Shared(file))
    }
}

impl Drop for Shared<'_> {
    #[allow(clippy::incompatible_msrv)] // File::unlock: Rust 1.89
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

pub(super) struct DbmMap {
    dir: PathBuf,
    pag: PathBuf,
    open: Mutex<Option<OpenPair>>,
}

impl DbmMap {
    /// Opens the pair (under the shared lock); lookups keep it open and revalidate it.
    pub(super) fn open(dir: &Path, pag: &Path) -> Result<DbmMap, MapError> {
        let map = DbmMap {
            dir: dir.to_path_buf(),
            pag: pag.to_path_buf(),
            open: Mutex::new(None),
        };
        {
            let mut open = map.open.lock().unwrap_or_else(|e| e.into_inner());
            map.current(&mut open, |_| Ok(()))?;
        }
        Ok(map)
    }

    /// Runs `f` on the current pair, with the shared lock held: the cached one when it
    /// is still current, else the pair read again.
    fn current<T>(
        &self,
        open: &mut Option<OpenPair>,
        f: impl FnOnce(&Sdbm) -> Result<T, MapError>,
    ) -> Result<T, MapError> {
        loop {
            let Some(pair) = open.as_mut() else {
                *open = Some(self.open_locked()?);
                continue;
            };
            let lock = Shared::take(&pair.pag, &self.pag)?;
            let held = pair
                .pag
                .metadata()
                .map_err(|e| MapError::io(&self.pag, e))?;
            let stamp = Stamp::of(&held);
            if held.nlink() > 0 && pair.settled && stamp == pair.stamp {
                // Not written, and still linked where it was: renaming another file
                // over the name, or this one away, changes its change time.
                return f(&pair.db);
            }
            match std::fs::metadata(&self.pag) {
                Ok(named) if (named.dev(), named.ino()) == (stamp.dev, stamp.ino) => {}
                Ok(_) => {
                    // Replaced: open the new pair.
                    drop(lock);
                    *open = None;
                    continue;
                }
                Err(e) => return Err(MapError::io(&self.pag, e)),
            }
            // Changed in place, or too recent to tell: read `.dir` again, under the lock
            // already held on this `.pag`.
            let pag = pair
                .pag
                .try_clone()
                .map_err(|e| MapError::io(&self.pag, e))?;
            pair.db = self.read_pair(pag)?;
            pair.settled = stamp.settled(SystemTime::now());
            pair.stamp = stamp;
            return f(&pair.db);
        }
    }

    /// Opens `NAME.pag`, takes the shared lock and checks that the locked file is still
    /// the one named `NAME.pag` (retrying if a writer renamed another over it), then
    /// reads the pair.
    fn open_locked(&self) -> Result<OpenPair, MapError> {
        loop {
            let pag = File::open(&self.pag).map_err(|e| MapError::io(&self.pag, e))?;
            let lock = Shared::take(&pag, &self.pag)?;
            let held = Stamp::of(&pag.metadata().map_err(|e| MapError::io(&self.pag, e))?);
            match std::fs::metadata(&self.pag) {
                Ok(now) if (now.dev(), now.ino()) == (held.dev, held.ino) => {}
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(MapError::io(&self.pag, e)),
            }
            let clone = pag.try_clone().map_err(|e| MapError::io(&self.pag, e))?;
            let db = self.read_pair(clone)?;
            let settled = held.settled(SystemTime::now());
            drop(lock);
            return Ok(OpenPair {
                db,
                pag,
                stamp: held,
                settled,
            });
        }
    }

    /// Reads `.dir` and sets up the pair on `pag` (whose lock the caller holds).
    fn read_pair(&self, pag: File) -> Result<Sdbm, MapError> {
        let dir = File::open(&self.dir).map_err(|e| MapError::io(&self.dir, e))?;
        Sdbm::from_open_files(dir, &self.dir, pag, &self.pag, false)
            .map_err(|e| sdbm_error(&self.pag, e))
    }
}

impl Map for DbmMap {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        self.current(&mut open, |db| {
            db.fetch(key).map_err(|e| sdbm_error(&self.pag, e))
        })
    }

    fn iter(&self) -> Records<'_> {
        // One consistent scan under the lock, on the pair opened afresh; the pairs are
        // then handed out.
        let all = commit::lock_pag(&self.pag, false).and_then(|_lock| {
            let db =
                Sdbm::open(&self.dir, &self.pag, false).map_err(|e| sdbm_error(&self.pag, e))?;
            Ok(db
                .iter()
                .map(|r| r.map_err(|e| sdbm_error(&self.pag, e)))
                .collect::<Vec<_>>())
        });
        match all {
            Ok(v) => Box::new(v.into_iter()),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
}

/// Collects the pairs, then lays out the whole database at once ([`cfmap_sdbm::Builder`],
/// the same bytes as storing them one by one) and swaps the new pair of files in.
pub(super) struct DbmBuilder {
    dir: PathBuf,
    pag: PathBuf,
    pairs: cfmap_sdbm::Builder,
}

impl DbmBuilder {
    pub(super) fn new(dir: PathBuf, pag: PathBuf) -> DbmBuilder {
        DbmBuilder {
            dir,
            pag,
            pairs: cfmap_sdbm::Builder::new(),
        }
    }
}

impl Builder for DbmBuilder {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        // A pair over the limit is refused here and left out, as a store refuses it.
        self.pairs
            .push(key, value)
            .map_err(|e| sdbm_error(&self.pag, e))
    }

    fn commit(self: Box<Self>) -> Result<(), MapError> {
        let DbmBuilder { dir, pag, pairs } = *self;
        commit::replace_pair(&dir, &pag, NEW_MODE, |dtmp, ptmp| {
            // Built in memory and written once; the commit fsyncs both temporaries.
            pairs
                .write_files(dtmp, ptmp)
                .map_err(|e| sdbm_error(ptmp, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::{MapType, builder, open};
    use cfmap_sdbm::StoreMode;

    fn build(name: &Path, pairs: &[(&str, &str)]) {
        let mut b = builder(MapType::Dbm, name).unwrap();
        for (k, v) in pairs {
            b.insert(k.as_bytes(), v.as_bytes()).unwrap();
        }
        b.commit().unwrap();
    }

    fn get(m: &dyn Map, key: &str) -> Option<String> {
        m.get(key.as_bytes())
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }

    /// Writes into the pair in place, as a Perl filter would: exclusive lock, open
    /// read-write, store.
    fn store_in_place(name: &Path, pairs: impl IntoIterator<Item = (String, String)>) {
        let files = MapType::Dbm.files(name);
        let _lock = cfmap_sdbm::lock_exclusive(&files[1]).unwrap();
        let mut db = Sdbm::open(&files[0], &files[1], true).unwrap();
        for (k, v) in pairs {
            db.store(k.as_bytes(), v.as_bytes(), StoreMode::Replace)
                .unwrap();
        }
        db.sync().unwrap();
    }

    #[test]
    fn a_replaced_map_is_seen_by_the_next_lookup() {
        let d = tempfile::tempdir().unwrap();
        let name = d.path().join("m");
        build(&name, &[("k", "v1"), ("old", "x")]);
        let m = open(MapType::Dbm, &name).unwrap();
        assert_eq!(get(&*m, "k").as_deref(), Some("v1"));
        for round in 2..5 {
            let v = format!("v{round}");
            build(&name, &[("k", &v), ("new", "y")]);
            assert_eq!(get(&*m, "k"), Some(v));
            assert_eq!(get(&*m, "old"), None);
            assert_eq!(get(&*m, "new").as_deref(), Some("y"));
        }
        // Removed: an error naming the file; back again: found.
        let files = MapType::Dbm.files(&name);
        std::fs::remove_file(&files[1]).unwrap();
        let e = m.get(b"k").unwrap_err();
        assert!(e.is_not_found(), "{e}");
        build(&name, &[("k", "back")]);
        assert_eq!(get(&*m, "k").as_deref(), Some("back"));
    }

    #[test]
    fn a_settled_map_sees_replacements_even_with_another_link() {
        let d = tempfile::tempdir().unwrap();
        let name = d.path().join("m");
        let files = MapType::Dbm.files(&name);
        build(&name, &[("k", "v1")]);
        let m = open(MapType::Dbm, &name).unwrap();
        let settle = |m: &dyn Map| {
            std::thread::sleep(SETTLED + Duration::from_millis(50));
            // This lookup finds the times settled and trusts them from now on.
            get(m, "k");
        };
        // A second name keeps the old .pag linked after the replacement.
        std::fs::hard_link(&files[1], d.path().join("keep.pag")).unwrap();
        settle(&*m);
        assert_eq!(get(&*m, "k").as_deref(), Some("v1"));
        build(&name, &[("k", "v2")]);
        assert_eq!(get(&*m, "k").as_deref(), Some("v2"));
        // A pair renamed over by hand (no time moved forward on purpose): the renamed
        // .pag's old inode loses a link, which changes its change time.
        std::fs::hard_link(&files[1], d.path().join("keep2.pag")).unwrap();
        settle(&*m);
        let other = d.path().join("other");
        build(&other, &[("k", "v3")]);
        let others = MapType::Dbm.files(&other);
        std::fs::rename(&others[0], &files[0]).unwrap();
        std::fs::rename(&others[1], &files[1]).unwrap();
        assert_eq!(get(&*m, "k").as_deref(), Some("v3"));
        // Deleted: an error, as for a fresh open.
        settle(&*m);
        std::fs::remove_file(&files[1]).unwrap();
        assert!(m.get(b"k").unwrap_err().is_not_found());
    }

    #[test]
    fn in_place_changes_are_seen_right_away_and_after_settling() {
        let d = tempfile::tempdir().unwrap();
        let name = d.path().join("m");
        build(&name, &[("k", "v1")]);
        let m = open(MapType::Dbm, &name).unwrap();
        assert_eq!(get(&*m, "k").as_deref(), Some("v1"));
        // Right after the build: pages are read at every lookup, `.dir` too while the
        // pair is this fresh.
        store_in_place(&name, (0..3000).map(|i| (format!("a{i}"), format!("{i}"))));
        assert_eq!(get(&*m, "a2999").as_deref(), Some("2999"));
        // Once the pair has settled and the map trusts its copy, a change that splits
        // pages (rewrites `.dir` in place) is still seen.
        std::thread::sleep(SETTLED + Duration::from_millis(50));
        assert_eq!(get(&*m, "a0").as_deref(), Some("0"));
        let dir = &MapType::Dbm.files(&name)[0];
        let before = std::fs::read(dir).unwrap();
        store_in_place(&name, (0..6000).map(|i| (format!("b{i}"), format!("{i}"))));
        assert!(
            std::fs::read(dir).unwrap() != before,
            "the test needs splits"
        );
        for i in (0..6000).step_by(7) {
            assert_eq!(get(&*m, &format!("b{i}")), Some(format!("{i}")), "b{i}");
        }
        assert_eq!(get(&*m, "k").as_deref(), Some("v1"));
        assert_eq!(m.iter().count(), 1 + 3000 + 6000);
    }

    #[test]
    fn cached_lookups_follow_replacements_and_in_place_writes() {
        use std::collections::BTreeMap;
        // A fixed xorshift sequence of rebuilds, in-place stores and lookups; the map
        // opened once must always answer as the model (and as a fresh open).
        let d = tempfile::tempdir().unwrap();
        let name = d.path().join("m");
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        model.insert("seed".into(), "0".into());
        let pairs: Vec<(String, String)> = model.clone().into_iter().collect();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        build(&name, &refs);
        let m = open(MapType::Dbm, &name).unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for step in 0..300 {
            match next(10) {
                0 => {
                    // Rebuild with some of the keys and new values.
                    model.retain(|_, _| next(3) != 0);
                    for _ in 0..next(400) {
                        model.insert(format!("k{}", next(2000)), format!("r{step}"));
                    }
                    let pairs: Vec<(String, String)> = model.clone().into_iter().collect();
                    let refs: Vec<(&str, &str)> =
                        pairs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
                    build(&name, &refs);
                }
                1 | 2 => {
                    // Stores in place, enough to split pages now and then.
                    let new: Vec<(String, String)> = (0..next(300))
                        .map(|_| (format!("k{}", next(2000)), format!("s{step}")))
                        .collect();
                    model.extend(new.iter().cloned());
                    store_in_place(&name, new);
                }
                _ => {
                    for _ in 0..20 {
                        let k = format!("k{}", next(2000));
                        assert_eq!(get(&*m, &k), model.get(&k).cloned(), "step {step}: {k}");
                    }
                }
            }
        }
        let fresh = open(MapType::Dbm, &name).unwrap();
        for (k, v) in &model {
            assert_eq!(get(&*m, k).as_ref(), Some(v));
            assert_eq!(get(&*fresh, k).as_ref(), Some(v));
        }
        assert_eq!(m.iter().count(), model.len());
    }

    #[test]
    fn a_lookup_waits_for_a_writer_holding_the_lock() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let d = tempfile::tempdir().unwrap();
        let name = d.path().join("m");
        build(&name, &[("k", "v1")]);
        let files = MapType::Dbm.files(&name);
        let m = DbmMap::open(&files[0], &files[1]).unwrap();
        assert_eq!(get(&m, "k").as_deref(), Some("v1"));
        let writer = cfmap_sdbm::lock_exclusive(&files[1]).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let t = {
            let done = done.clone();
            std::thread::spawn(move || {
                let v = get(&m, "k");
                done.store(true, Ordering::SeqCst);
                v
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(!done.load(Ordering::SeqCst), "lookup did not wait");
        {
            let mut db = Sdbm::open(&files[0], &files[1], true).unwrap();
            db.store(b"k", b"v2", StoreMode::Replace).unwrap();
        }
        drop(writer);
        assert_eq!(t.join().unwrap().as_deref(), Some("v2"));
    }
}

#[cfg(test)]
mod stamp_tests {
    use super::*;

    fn at(t: SystemTime) -> Stamp {
        let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let ts = (d.as_secs() as i64, i64::from(d.subsec_nanos()));
        Stamp {
            dev: 1,
            ino: 2,
            size: 0,
            mtime: ts,
            ctime: ts,
        }
    }

    #[test]
    fn settled_needs_both_times_old_enough() {
        let now = SystemTime::now();
        assert!(!at(now).settled(now));
        assert!(!at(now - SETTLED / 2).settled(now));
        assert!(at(now - SETTLED).settled(now));
        assert!(at(now - Duration::from_secs(3600)).settled(now));
        // In the future (clock stepped back): not trusted.
        assert!(!at(now + Duration::from_secs(5)).settled(now));
        // A recent change time alone is enough to distrust it.
        let mut s = at(now - Duration::from_secs(3600));
        s.ctime = at(now).ctime;
        assert!(!s.settled(now));
    }
}
