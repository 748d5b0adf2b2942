//! The database classes: `hash` and `btree` (Berkeley DB files, `NAME.db`), `dbm` (sdbm
//! `NAME.dir` + `NAME.pag`), `cdb` (`NAME.cdb`) and `implicit` (`NAME.db` as hash).
//!
//! Lookup, as db_map_lookup / ndbm_map_lookup / cdb_map_lookup do it: the key is cut to
//! 256 bytes and lower-cased (ASCII) unless `-f`; if the file's mtime moved forward since
//! the open, the map is reopened (a failed reopen turns it bogus); then the key is tried
//! without and with a trailing NUL, in that order, as the map's adaptive flags allow: the
//! first hit of one kind stops the other kind for the rest of the process.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use std::collections::HashMap;

use super::safefile;
use super::{Common, Ctx, MAXNAME};
use crate::ir::MapClass;
use crate::maps::lookup::Answer;
use crate::maps::{Map, MapType};
use crate::shorthash::FastState;
use crate::sysexits;

pub(crate) struct DbMap {
    class: MapClass,
    map: Option<Box<dyn Map>>,
    /// The file whose mtime decides a reopen (the `.db`, `.pag` or `.cdb`).
    watched: PathBuf,
    mtime: i64,
    /// What to reopen with.
    reopen: Option<(PathBuf, MapType)>,
    /// libdb's return buffer for this handle: each value found is copied to its start,
    /// and what a longer earlier value left behind stays after it. sendmail's
    /// map_rewrite reads on into it after a value that ends in a lone `%`.
    ret_buf: Vec<u8>,
    /// The watched file, held open: sendmail fstat()s its descriptor on every lookup,
    /// and a rebuild bumps the old inode's mtime (maps::commit), so the open file tells
    /// without a path lookup each time.
    watch_fd: Option<std::fs::File>,
    /// The file was looked at during this test line ([`DbMap::next_command`]).
    checked: bool,
    /// The coarse clock's tick when the file was last looked at.
    checked_tick: Option<(i64, i64)>,
    /// What the file gave for keys already looked up (the lower-cased, cut key): test
    /// input asks for the same domains over and over. Emptied when the map is reopened
    /// or its adaptive NUL flags change, and when it grows past [`MEMO_MAX`].
    memo: Memo,
    /// The key of the lookup under way (kept for its buffer).
    key_buf: Vec<u8>,
    /// Changes whenever the answers may have changed (a reopen, the adaptive NUL flags).
    generation: u64,
    /// The last lookup's value found (when it held no `%`, so did not depend on the
    /// return buffer), `Some(None)` when it found nothing; `None`: not reusable.
    last_found: Option<Option<Vec<u8>>>,
    /// Values found go to `ret_buf` (libdb classes without `-m`).
    fills_ret_buf: bool,
}

/// Values found (or not) by key.
type Memo = HashMap<Box<[u8]>, Option<Box<[u8]>>, FastState>;

/// How many keys a [`DbMap`] remembers.
const MEMO_MAX: usize = 4096;

impl DbMap {
    pub(crate) fn new(class: MapClass) -> DbMap {
        DbMap {
            class,
            map: None,
            watched: PathBuf::new(),
            mtime: 0,
            reopen: None,
            ret_buf: Vec::new(),
            watch_fd: None,
            checked: false,
            checked_tick: None,
            memo: HashMap::default(),
            generation: 0,
            last_found: None,
            fills_ret_buf: false,
            key_buf: Vec::new(),
        }
    }

    /// The class's open; `Err(Some(text))` is sendmail's message, `Err(None)` a silent
    /// failure.
    pub(crate) fn open(
        &mut self,
        ctx: &Ctx,
        name: &[u8],
        file: &[u8],
        common: &Common,
    ) -> Result<(), Option<Vec<u8>>> {
        let name = String::from_utf8_lossy(name);
        let file_s = String::from_utf8_lossy(file).into_owned();
        match self.class {
            MapClass::Hash | MapClass::Btree | MapClass::Implicit => {
                let class = if self.class == MapClass::Btree {
                    "btree"
                } else {
                    "hash"
                };
                let ty = if self.class == MapClass::Btree {
                    MapType::Btree
                } else {
                    MapType::Hash
                };
                let sm_path = if file.len() >= 3 && file.ends_with(b".db") {
                    file.to_vec()
                } else {
                    [file, b".db"].concat()
                };
                let shown = String::from_utf8_lossy(&sm_path).into_owned();
                // implicit opens its hash quietly (it sets MF_OPTIONAL around the try).
                let quiet = self.class == MapClass::Implicit || common.optional;
                let st = match safefile::check_map_file(ctx, &sm_path) {
                    Ok(st) => st,
                    Err(p) => {
                        let prob = if p.is_missing() { "missing" } else { "unsafe" };
                        return Err((!quiet).then(|| {
                            format!(
                                "{class} map \"{name}\": {prob} map file {shown}: {}",
                                p.text()
                            )
                            .into_bytes()
                        }));
                    }
                };
                let real = ctx.resolve(&sm_path);
                match crate::maps::open(ty, &real) {
                    Ok(m) => {
                        self.map = Some(m);
                        self.mtime = st.mtime();
                        self.watched = real.clone();
                        self.reopen = Some((real, ty));
                        Ok(())
                    }
                    Err(e) => Err((!quiet).then(|| {
                        // libdb names a database of the other access method first.
                        let other = if ty == MapType::Btree {
                            HASH_MAGIC
                        } else {
                            BTREE_MAGIC
                        };
                        let libdb = if magic(&real) == Some(other) {
                            format!(
                                "BDB0641 __db_meta_setup: {shown}: unexpected file type or format\n"
                            )
                        } else {
                            String::new()
                        };
                        format!(
                            "{libdb}Cannot open {class} database {shown}: {}",
                            open_errno_text(&e)
                        )
                        .into_bytes()
                    })),
                }
            }
            MapClass::Dbm => {
                let dir = [file, b".dir"].concat();
                let pag = [file, b".pag"].concat();
                let checked = safefile::check_map_file(ctx, &dir)
                    .and_then(|_| safefile::check_map_file(ctx, &pag));
                let st = match checked {
                    Ok(st) => st,
                    Err(p) => {
                        let prob = if p.is_missing() { "missing" } else { "unsafe" };
                        return Err(Some(
                            format!("dbm map \"{name}\": {prob} map file {file_s}").into_bytes(),
                        ));
                    }
                };
                let real = ctx.resolve(file);
                match crate::maps::open(MapType::Dbm, &real) {
                    Ok(m) => {
                        self.map = Some(m);
                        self.mtime = st.mtime();
                        self.watched = ctx.resolve(&pag);
                        self.reopen = Some((real, MapType::Dbm));
                        Ok(())
                    }
                    Err(e) => Err(Some(
                        format!("Cannot open DBM database {file_s}: {}", open_errno_text(&e))
                            .into_bytes(),
                    )),
                }
            }
            MapClass::Cdb => {
                let sm_path = if file.ends_with(b".cdb") {
                    file.to_vec()
                } else {
                    [file, b".cdb"].concat()
                };
                let shown = String::from_utf8_lossy(&sm_path).into_owned();
                let st = match safefile::check_map_file(ctx, &sm_path) {
                    Ok(st) => st,
                    Err(p) => {
                        let prob = if p.is_missing() { "missing" } else { "unsafe" };
                        let t = p.text();
                        // cdb_map_open's format string shifts its arguments by one.
                        return Err(Some(
                            format!("{name} map \"{prob}\": {shown} map file {t}: {t}")
                                .into_bytes(),
                        ));
                    }
                };
                let real = ctx.resolve(&sm_path);
                match crate::maps::open(MapType::Cdb, &real) {
                    Ok(m) => {
                        self.map = Some(m);
                        self.mtime = st.mtime();
                        self.watched = real.clone();
                        self.reopen = Some((real, MapType::Cdb));
                        Ok(())
                    }
                    Err(e) => Err(Some(
                        format!(
                            "cdb_map_open: cannot open database {shown}: {}",
                            open_errno_text(&e)
                        )
                        .into_bytes(),
                    )),
                }
            }
            _ => Err(None),
        }
    }

    /// The database kind in "Cannot reopen KIND database FILE".
    pub(crate) fn reopen_kind(&self) -> &'static str {
        match self.class {
            MapClass::Dbm => "NDBM",
            MapClass::Cdb => "CDB",
            _ => "DB",
        }
    }

    /// A new test line: the next lookup looks at the file again, once the coarse clock
    /// has moved on since it last did.
    /// `now` is the coarse clock, read by the first map that needs it.
    pub(crate) fn next_command(&mut self, now: &mut Option<(i64, i64)>) {
        if self.checked && self.checked_tick != Some(*now.get_or_insert_with(coarse_tick)) {
            self.checked = false;
        }
    }

    /// [`crate::maps::lookup::Maps::stable_generation`]: once the file was looked at in
    /// this line and tick, answers change only with the generation.
    pub(crate) fn stable_generation(&self) -> Option<u64> {
        (self.checked && self.map.is_some()).then_some(self.generation)
    }

    /// What the last lookup found, when its answer may be reused
    /// ([`DbMap::stable_generation`]).
    pub(crate) fn reusable_find(&self) -> Option<Option<&[u8]>> {
        self.last_found.as_ref().map(Option::as_deref)
    }

    /// A reused answer: the return buffer as the lookup that found `found` leaves it.
    pub(crate) fn replay(&mut self, found: Option<&[u8]>) {
        if let Some(v) = found
            && self.fills_ret_buf
        {
            if self.ret_buf.len() < v.len() {
                self.ret_buf.resize(v.len(), 0);
            }
            self.ret_buf[..v.len()].copy_from_slice(v);
        }
    }

    /// The lookup; the flag says the reopen after an mtime change failed (the caller
    /// turns the map bogus and prints sendmail's message).
    pub(crate) fn lookup(
        &mut self,
        common: &mut Common,
        key: &[u8],
        args: &[Vec<u8>],
    ) -> (Answer, bool) {
        // ndbm_map_lookup cuts the key only when it folds it.
        let mut k = std::mem::take(&mut self.key_buf);
        k.clear();
        if self.class == MapClass::Dbm && common.keep_case {
            k.extend_from_slice(key);
        } else {
            k.extend_from_slice(&key[..key.len().min(MAXNAME)]);
        }
        if !common.keep_case {
            k.make_ascii_lowercase();
        }
        let answer = self.lookup_key(common, key, &mut k, args);
        self.key_buf = k;
        answer
    }

    /// [`DbMap::lookup`] of the key as the file holds it (`k`, cut and folded).
    fn lookup_key(
        &mut self,
        common: &mut Common,
        key: &[u8],
        k: &mut Vec<u8>,
        args: &[Vec<u8>],
    ) -> (Answer, bool) {
        if self.watch_fd.is_none() {
            self.watch_fd = std::fs::File::open(&self.watched).ok();
        }
        // Once the file was seen unchanged (or reopened) during this line, it is not
        // looked at again until the next line; a failed reopen is retried each time.
        let changed = !self.checked
            && match self.watch_fd.as_ref().map(fd_mtime) {
                Some(Some(mtime)) => mtime > self.mtime,
                _ => true,
            };
        self.last_found = None;
        if changed {
            self.memo.clear();
            self.generation += 1;
            let Some((path, ty)) = self.reopen.clone() else {
                return (Answer::status(sysexits::TEMPFAIL), true);
            };
            match (
                std::fs::metadata(&self.watched),
                crate::maps::open(ty, &path),
            ) {
                (Ok(st), Ok(m)) => {
                    self.map = Some(m);
                    self.mtime = st.mtime();
                    self.watch_fd = std::fs::File::open(&self.watched).ok();
                    self.checked = true;
                    self.checked_tick = Some(coarse_tick());
                }
                _ => {
                    self.map = None;
                    let status = if common.optional {
                        sysexits::OK
                    } else {
                        sysexits::TEMPFAIL
                    };
                    return (Answer::status(status), true);
                }
            }
        }
        let Some(map) = &self.map else {
            return (Answer::status(sysexits::TEMPFAIL), false);
        };
        if !self.checked {
            // The file was looked at just now (above).
            self.checked = true;
            self.checked_tick = Some(coarse_tick());
        }
        let fetched;
        let found = match self.memo.get(k.as_slice()) {
            Some(found) => found.as_deref(),
            None => {
                let flags = (common.try0, common.try1);
                let (found, failed) = fetch(map.as_ref(), k, common);
                if !failed {
                    // What was found under other flags may not be found under these.
                    if (common.try0, common.try1) != flags || self.memo.len() >= MEMO_MAX {
                        self.memo.clear();
                        self.generation += 1;
                    }
                    let kept = found.as_deref().map(Box::from);
                    self.memo.insert(k.as_slice().into(), kept);
                }
                fetched = found;
                fetched.as_deref()
            }
        };
        if !found.is_some_and(|v| v.contains(&b'%')) {
            self.last_found = Some(found.map(<[u8]>::to_vec));
        }
        self.fills_ret_buf = libdb_fills(self.class, common);
        let answer = answer(self.class, &mut self.ret_buf, common, key, found, args);
        (answer, false)
    }
}

/// The key tried without and with a trailing NUL, as the map's adaptive flags allow
/// (the first hit of one kind stops the other kind); whether a read failed.
fn fetch(map: &dyn Map, k: &mut Vec<u8>, common: &mut Common) -> (Option<Vec<u8>>, bool) {
    let mut failed = false;
    if common.try0 {
        match map.get(k) {
            Ok(Some(v)) => {
                common.try1 = false;
                return (Some(v), false);
            }
            Ok(None) => {}
            Err(_) => failed = true,
        }
    }
    if common.try1 {
        let plain = k.len();
        k.push(0);
        let got = map.get(k);
        k.truncate(plain);
        match got {
            Ok(Some(v)) => {
                common.try0 = false;
                return (Some(v), failed);
            }
            Ok(None) => {}
            Err(_) => failed = true,
        }
    }
    (None, failed)
}

/// Whether a value found goes through libdb's return buffer (its classes, unless `-m`
/// answers with the key).
fn libdb_fills(class: MapClass, common: &Common) -> bool {
    matches!(class, MapClass::Hash | MapClass::Btree | MapClass::Implicit) && !common.match_only
}

/// The answer for a value found (or not): `%n` and `-a` applied as the class does.
fn answer(
    class: MapClass,
    ret_buf: &mut Vec<u8>,
    common: &Common,
    key: &[u8],
    found: Option<&[u8]>,
    args: &[Vec<u8>],
) -> Answer {
    // A lookup that finds nothing leaves the status alone: OK in `/map`.
    let Some(v) = found else {
        return Answer::status(sysexits::OK);
    };
    if !libdb_fills(class, common) {
        return Answer::found(common.result(key, v, args));
    }
    if ret_buf.len() < v.len() {
        ret_buf.resize(v.len(), 0);
    }
    ret_buf[..v.len()].copy_from_slice(v);
    let tail = &ret_buf[v.len()..];
    Answer::found(common.rewrite_with_tail(v, args, tail))
}

const BTREE_MAGIC: u32 = 0x0005_3162;
const HASH_MAGIC: u32 = 0x0006_1561;

/// The Berkeley DB magic number of a file (either byte order), if it has one.
fn magic(path: &std::path::Path) -> Option<u32> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open(path).ok()?.read_exact(&mut b).ok()?;
    let w = [b[12], b[13], b[14], b[15]];
    [u32::from_le_bytes(w), u32::from_be_bytes(w)]
        .into_iter()
        .find(|&m| m == BTREE_MAGIC || m == HASH_MAGIC)
}

/// The errno text libdb (or sendmail's cdb/ndbm code) leaves for a file it cannot read as
/// a database.
fn open_errno_text(e: &crate::maps::MapError) -> String {
    match e {
        crate::maps::MapError::Io { source, .. }
            if matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            super::strerror(source)
        }
        // libdb answers EINVAL for anything that is not its kind of database.
        _ => "Invalid argument".to_string(),
    }
}

/// The coarse monotonic clock (a vDSO read, no system call): its value moves once per
/// kernel tick.
pub(crate) fn coarse_tick() -> (i64, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec, ts.tv_nsec)
}

/// The mtime of an open file, by `fstat` (one lookup each: `File::metadata` asks
/// `statx` with an empty path, which costs the kernel a path walk).
fn fd_mtime(f: &std::fs::File) -> Option<i64> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `st` when it returns 0; the descriptor is open (borrowed).
    let rc = unsafe { libc::fstat(f.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: initialized by the successful fstat above.
    Some(unsafe { st.assume_init() }.st_mtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(base: PathBuf) -> Ctx {
        Ctx {
            base_dir: base,
            root: None,
            passwd: PathBuf::new(),
            hosts_file: PathBuf::new(),
            switch_file: PathBuf::new(),
            blame: super::super::DontBlame {
                map_in_unsafe_dir_path: true,
                ..Default::default()
            },
            switch: None,
            host_cache: Default::default(),
            hosts: Default::default(),
            warnings: Default::default(),
            uid: 0,
        }
    }

    fn build(ty: MapType, path: &std::path::Path, pairs: &[(&[u8], &[u8])]) {
        let mut b = crate::maps::builder(ty, path).unwrap();
        for (k, v) in pairs {
            b.insert(k, v).unwrap();
        }
        b.commit().unwrap();
    }

    fn common() -> Common {
        Common {
            try0: true,
            try1: true,
            ..Common::default()
        }
    }

    /// A map `m` of `class` in `dir`, built from `pairs` and opened.
    fn opened(
        dir: &std::path::Path,
        class: MapClass,
        ty: MapType,
        pairs: &[(&[u8], &[u8])],
    ) -> (Ctx, DbMap, Common) {
        build(ty, &dir.join("m"), pairs);
        let c = ctx(dir.to_path_buf());
        let mut m = DbMap::new(class);
        let co = common();
        m.open(&c, b"m", b"m", &co).unwrap();
        (c, m, co)
    }

    #[test]
    fn nul_tries_are_adaptive_and_permanent() {
        let d = tempfile::tempdir().unwrap();
        let pairs: &[(&[u8], &[u8])] = &[(b"plain", b"P"), (b"withnul\0", b"N\0")];
        let (_c, mut m, mut co) = opened(d.path(), MapClass::Hash, MapType::Hash, pairs);
        let a = |v: &str| vec![v.as_bytes().to_vec()];
        // Found with NUL first: from now on only NUL keys are tried.
        let (r, _) = m.lookup(&mut co, b"WithNul", &a("WithNul"));
        assert_eq!(r.value.as_deref(), Some(&b"N"[..]));
        assert!(!co.try0 && co.try1);
        let (r, _) = m.lookup(&mut co, b"plain", &a("plain"));
        assert_eq!(r, Answer::status(sysexits::OK));
    }

    #[test]
    fn missing_and_bad_files_say_what_sendmail_says() {
        let d = tempfile::tempdir().unwrap();
        let c = ctx(d.path().to_path_buf());
        let mut m = DbMap::new(MapClass::Hash);
        let e = m.open(&c, b"m", b"nosuch", &common()).unwrap_err().unwrap();
        assert_eq!(
            String::from_utf8(e).unwrap(),
            "hash map \"m\": missing map file nosuch.db: No such file or directory"
        );
        let mut m = DbMap::new(MapClass::Implicit);
        assert_eq!(m.open(&c, b"m", b"nosuch", &common()), Err(None));
    }

    #[test]
    fn dbm_and_cdb_follow_the_same_rules() {
        let d = tempfile::tempdir().unwrap();
        let c = ctx(d.path().to_path_buf());
        let a = |v: &str| vec![v.as_bytes().to_vec()];
        for (class, ty) in [(MapClass::Dbm, MapType::Dbm), (MapClass::Cdb, MapType::Cdb)] {
            build(
                ty,
                &d.path().join("m"),
                &[(b"key\0", b"v %0\0"), (b"other", b"o")],
            );
            let mut m = DbMap::new(class);
            let mut co = common();
            m.open(&c, b"m", b"m", &co).unwrap();
            let (r, _) = m.lookup(&mut co, b"KEY", &a("KEY"));
            assert_eq!(r.value.as_deref(), Some(&b"v KEY"[..]), "{ty}");
            // The NUL kind won: keys without NUL are not tried any more.
            assert_eq!(
                m.lookup(&mut co, b"other", &a("other")).0.value,
                None,
                "{ty}"
            );
            let mut m = DbMap::new(class);
            let e = m.open(&c, b"x", b"nosuch", &common()).unwrap_err().unwrap();
            let want = match class {
                MapClass::Dbm => "dbm map \"x\": missing map file nosuch",
                _ => {
                    "x map \"missing\": nosuch.cdb map file No such file or directory: No such file or directory"
                }
            };
            assert_eq!(String::from_utf8(e).unwrap(), want);
        }
        assert_eq!(DbMap::new(MapClass::Dbm).reopen_kind(), "NDBM");
    }

    #[test]
    fn reopens_when_the_file_changes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m");
        build(MapType::Btree, &p, &[(b"k", b"one")]);
        let c = ctx(d.path().to_path_buf());
        let mut m = DbMap::new(MapClass::Btree);
        let mut co = common();
        m.open(&c, b"m", b"m", &co).unwrap();
        let a = vec![b"k".to_vec()];
        assert_eq!(m.lookup(&mut co, b"k", &a).0.value.unwrap(), b"one");
        // The rebuild bumps the old inode's mtime by a second (maps::commit): the open
        // descriptor shows it, and the map is reopened by name.
        build(MapType::Btree, &p, &[(b"k", b"two")]);
        // Within one test line the file is looked at once: still the old answer.
        assert_eq!(m.lookup(&mut co, b"k", &a).0.value.unwrap(), b"one");
        // The next line in a later tick of the coarse clock looks again.
        let next_line = |m: &mut DbMap| {
            std::thread::sleep(std::time::Duration::from_millis(25));
            m.next_command(&mut None);
        };
        next_line(&mut m);
        assert_eq!(m.lookup(&mut co, b"k", &a).0.value.unwrap(), b"two");
        // Removing the file changes nothing sendmail's descriptor can see.
        next_line(&mut m);
        std::fs::remove_file(d.path().join("m.db")).unwrap();
        let (r, failed) = m.lookup(&mut co, b"k", &a);
        assert!(!failed);
        assert_eq!(r.value.unwrap(), b"two");
    }

    #[test]
    fn remembered_keys_answer_as_the_file_does() {
        let d = tempfile::tempdir().unwrap();
        let pairs: &[(&[u8], &[u8])] = &[(b"host", b"H %1"), (b"other", b"O")];
        let (c, mut kept, mut co) = opened(d.path(), MapClass::Btree, MapType::Btree, pairs);
        let av = |k: &str, a: &str| vec![k.as_bytes().to_vec(), a.as_bytes().to_vec()];
        let asks = [
            ("HOST", "x"),
            ("host", "y"),
            ("nothere", "x"),
            ("Host", "z"),
            ("nothere", "y"),
            ("other", "x"),
            ("OTHER", "x"),
        ];
        for round in 0..2 {
            for (k, a) in asks {
                let (r, _) = kept.lookup(&mut co, k.as_bytes(), &av(k, a));
                let mut fresh = DbMap::new(MapClass::Btree);
                let mut fco = common();
                fresh.open(&c, b"m", b"m", &fco).unwrap();
                let (want, _) = fresh.lookup(&mut fco, k.as_bytes(), &av(k, a));
                assert_eq!(r, want, "round {round}: {k} {a}");
            }
        }
        assert_eq!(
            kept.lookup(&mut co, b"Host", &av("Host", "q"))
                .0
                .value
                .unwrap(),
            b"H q"
        );
    }
}
