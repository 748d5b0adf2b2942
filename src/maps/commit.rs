//! Atomic replacement of map files, so that no reader ever sees a half-written map and a
//! running sendmail notices the new one (formats.md §3.5).
//!
//! One file ([`replace_file`]):
//!
//! 1. Open the old file, if there is one, and keep its descriptor. A destination that
//!    exists but is not a regular file (a symbolic link, say) is refused.
//! 2. Create a temporary file in the destination's directory, `.NAME.cfmap-tmp.PID.N`,
//!    with `O_EXCL` and the new-file mode (minus the umask), and let the caller write
//!    into it. The temporary is a fresh, empty file made by us and handed to a writer that
//!    fills it; no format library is ever asked to *open* an empty pre-existing file as a
//!    database (the OpenSMTPD#653 trap).
//! 3. Give it the old file's permission bits (and owner and group, when allowed),
//!    `fsync` it.
//! 4. `rename` it over the destination, `fsync` the directory.
//! 5. Set the **old** inode's mtime, through the descriptor kept in step 1, to
//!    max(now, old mtime + 1 s). sendmail `fstat`s its open descriptor before each lookup
//!    and reopens the map by name when the mtime grew by at least a whole second; a
//!    rename alone would leave it on the old inode forever.
//!
//! Any error before the rename removes the temporary file and leaves the old map as it
//! was. An error in step 5 is [`MapError::OldNotNotified`]: the new map is in place.
//!
//! Two files ([`replace_pair`], dbm's `NAME.dir` + `NAME.pag`): a rename swaps one file,
//! so readers are kept off the pair while it changes, by the lock convention of
//! formats.md §1.13: an exclusive `flock` on `NAME.pag` held by writers around the swap, a
//! shared one held by readers around their whole use. Both temporaries are written and
//! synced first, then **`.dir` is renamed before `.pag`**, because:
//!
//! - the lock lives on the `.pag` inode. Renaming `.pag` first would put an unlocked new
//!   `.pag` in place while the old `.dir` is still there: a reader arriving then would
//!   lock the new inode without waiting and pair it with the old `.dir`. Renaming `.pag`
//!   last keeps every reader that follows the convention on the old, locked inode until
//!   both files are new.
//! - readers that take no lock (Perl's `tie` opens `.pag`, then `.dir`) and got the new
//!   `.pag` are sure to get the new `.dir` too, which was renamed before it.
//!
//! Since the lock stays on the old `.pag` inode, a process that waited for it must check,
//! once it holds it, that its descriptor is still the file named `NAME.pag` (same device
//! and inode as a fresh `stat`), and start again if not. [`lock_pag`] does that; a Perl
//! filter does the same with `stat($fh)` against `stat("NAME.pag")`.
//!
//! If the `.pag` rename fails after the `.dir` one succeeded, the old `.dir` is put back
//! from a hard link made before the swap.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::MapError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file that is removed when dropped, unless [`Temp::keep`] was called.
#[derive(Debug)]
struct Temp {
    path: PathBuf,
    armed: bool,
}

impl Temp {
    fn keep(&mut self) {
        self.armed = false;
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn parent_dir(dest: &Path) -> &Path {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Create `.NAME.cfmap-tmp.PID.N` beside `dest`, exclusively, mode `mode` minus umask.
fn create_temp(dest: &Path, mode: u32) -> Result<(File, Temp), MapError> {
    let dir = parent_dir(dest);
    let name = dest
        .file_name()
        .ok_or_else(|| {
            MapError::io(
                dest,
                io::Error::new(io::ErrorKind::InvalidInput, "no file name"),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.cfmap-tmp.{pid}.{n}"));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
        {
            Ok(f) => return Ok((f, Temp { path, armed: true })),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1_000_000 => continue,
            Err(e) => return Err(MapError::io(&path, e)),
        }
    }
}

/// The old file at `dest`, opened read-only, or `None` when there is none.
fn open_old(dest: &Path) -> Result<Option<File>, MapError> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MapError::io(dest, e)),
        Ok(m) if !m.file_type().is_file() => Err(MapError::NotRegular {
            path: dest.to_path_buf(),
        }),
        Ok(_) => File::open(dest)
            .map(Some)
            .map_err(|e| MapError::io(dest, e)),
    }
}

/// Copy the old file's permission bits (and owner, where allowed) to the new one, and
/// sync the new one to disk.
fn finish_temp(file: &File, tmp: &Path, old: Option<&File>, dest: &Path) -> Result<(), MapError> {
    if let Some(old) = old {
        let om = old.metadata().map_err(|e| MapError::io(dest, e))?;
        let nm = file.metadata().map_err(|e| MapError::io(tmp, e))?;
        if om.uid() != nm.uid() || om.gid() != nm.gid() {
            // Only root may give a file away; others keep their own ownership.
            match std::os::unix::fs::fchown(file, Some(om.uid()), Some(om.gid())) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(MapError::io(tmp, e)),
            }
        }
        file.set_permissions(fs::Permissions::from_mode(om.mode() & 0o7777))
            .map_err(|e| MapError::io(tmp, e))?;
    }
    file.sync_all().map_err(|e| MapError::io(tmp, e))
}

fn sync_dir(dir: &Path) -> Result<(), MapError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MapError::io(dir, e))
}

/// Move the old inode's mtime to max(now, its mtime + 1 s) through `old`.
fn notify_old(old: &File, dest: &Path) -> Result<(), MapError> {
    let bump = || -> io::Result<()> {
        let was = old.metadata()?.modified()?;
        let now = SystemTime::now();
        let next = was + Duration::from_secs(1);
        old.set_modified(now.max(next))
    };
    bump().map_err(|source| MapError::OldNotNotified {
        path: dest.to_path_buf(),
        source,
    })
}

/// Replace `dest` by a file `write` fills, atomically (module docs). `write` gets the
/// open temporary file (empty, read-write, positioned at 0) and its path. A new file is
/// created with `new_mode` minus the umask; a replacement takes the old file's mode.
pub fn replace_file<F>(dest: &Path, new_mode: u32, write: F) -> Result<(), MapError>
where
    F: FnOnce(&mut File, &Path) -> Result<(), MapError>,
{
    let (mut file, new) = begin_file(dest, new_mode)?;
    write(&mut file, new.temp_path())?;
    new.finish(file)
}

/// [`replace_file`] in two steps, for a writer that fills the file while it is still
/// reading its input: [`begin_file`] does steps 1 and 2 and hands over the temporary
/// file; [`NewFile::finish`] does steps 3 to 5. Dropping a `NewFile` without finishing
/// it (an error, a panic) removes the temporary and leaves the old map as it was.
#[derive(Debug)]
pub struct NewFile {
    dest: PathBuf,
    /// The file at `dest` when the replacement began, whose readers are notified.
    old: Option<File>,
    tmp: Temp,
}

/// Start replacing `dest` (steps 1 and 2 of the module docs): the old file, if any, is
/// opened and kept, a destination that is not a regular file is refused, and the empty
/// temporary beside it (mode `new_mode` minus the umask) is returned to be written.
pub fn begin_file(dest: &Path, new_mode: u32) -> Result<(File, NewFile), MapError> {
    let old = open_old(dest)?;
    let (file, tmp) = create_temp(dest, new_mode)?;
    Ok((
        file,
        NewFile {
            dest: dest.to_path_buf(),
            old,
            tmp,
        },
    ))
}

impl NewFile {
    /// The temporary file's path (for messages about writing it).
    pub fn temp_path(&self) -> &Path {
        &self.tmp.path
    }

    /// The file being replaced.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Steps 3 to 5: `file` (the temporary from [`begin_file`], completely written) gets
    /// the old file's mode and owner, is synced and renamed over the destination, the
    /// directory is synced and the old file's readers are notified.
    pub fn finish(mut self, file: File) -> Result<(), MapError> {
        finish_temp(&file, &self.tmp.path, self.old.as_ref(), &self.dest)?;
        drop(file);
        fs::rename(&self.tmp.path, &self.dest).map_err(|e| MapError::io(&self.dest, e))?;
        self.tmp.keep();
        sync_dir(parent_dir(&self.dest))?;
        match &self.old {
            Some(old) => notify_old(old, &self.dest),
            None => Ok(()),
        }
    }
}

/// A new file written front to back (and perhaps patched at the start at the end),
/// whose pages are sent to the disk while it is still being written: after every
/// [`WRITE_BEHIND`] bytes, the kernel is asked to start writing them back
/// (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which does not wait for the disk),
/// so the `fsync` of [`NewFile::finish`] finds little left to write. It only starts
/// writeback early: durability still comes from that `fsync` alone.
#[derive(Debug)]
pub struct WriteBehind {
    file: File,
    pos: u64,
    /// Bytes before this offset have had their writeback started.
    started: u64,
}

/// Bytes written between two writeback starts in [`WriteBehind`].
pub const WRITE_BEHIND: u64 = 4 << 20;

impl WriteBehind {
    /// `file`, positioned at its start.
    pub fn new(file: File) -> WriteBehind {
        WriteBehind {
            file,
            pos: 0,
            started: 0,
        }
    }

    /// The file back.
    pub fn into_inner(self) -> File {
        self.file
    }

    fn start_writeback(&mut self) {
        use std::os::fd::AsRawFd;
        let (from, len) = (self.started, self.pos - self.started);
        // SAFETY: a plain system call on a descriptor we own; it reads no memory of ours.
        // Its result does not matter: the final fsync reports any I/O error.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                from as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.started = self.pos;
    }
}

impl io::Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.pos += n as u64;
        if self.pos >= self.started + WRITE_BEHIND {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl io::Seek for WriteBehind {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        // What was written up to here goes to the disk now; writing goes on (and is
        // counted) from the new position.
        if self.pos > self.started {
            self.start_writeback();
        }
        self.pos = self.file.seek(to)?;
        self.started = self.pos;
        Ok(self.pos)
    }
}

/// An exclusive or shared `flock` on `NAME.pag`, held until dropped.
#[derive(Debug)]
pub struct PagLock {
    _file: File,
}

/// Take the dbm lock (formats.md §1.13) on `pag`: open it read-only, `flock` it, and
/// check that the locked descriptor is still the file named `pag` (a writer may have
/// renamed a new one over it while we waited), retrying if not. `Ok(None)` when `pag`
/// does not exist.
#[allow(clippy::incompatible_msrv)] // File::lock: Rust 1.89
pub fn lock_pag(pag: &Path, exclusive: bool) -> Result<Option<PagLock>, MapError> {
    loop {
        let file = match File::open(pag) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(MapError::io(pag, e)),
        };
        if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        }
        .map_err(|e| MapError::io(pag, e))?;
        let held = file.metadata().map_err(|e| MapError::io(pag, e))?;
        match fs::metadata(pag) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                return Ok(Some(PagLock { _file: file }));
            }
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(MapError::io(pag, e)),
        }
    }
}

/// Replace the pair `dir` + `pag` (dbm's `NAME.dir`, `NAME.pag`) by two files `write`
/// fills, then swap them in under an exclusive lock on the old `pag` (taken after `write`
/// returns, so readers wait only for the swap), renaming `.dir` first and `.pag` last
/// (module docs). When `pag` does not exist yet there is nothing to lock: two first-time
/// writers racing each other may interleave their renames. `write` gets the paths of the two temporaries, which exist and are empty
/// (an empty pair is a valid empty sdbm database, so the writer may open them in place).
pub fn replace_pair<F>(dir: &Path, pag: &Path, new_mode: u32, write: F) -> Result<(), MapError>
where
    F: FnOnce(&Path, &Path) -> Result<(), MapError>,
{
    // Refuse a symbolic link or the like before doing any work.
    open_old(dir)?;
    open_old(pag)?;
    let (dfile, mut dtmp) = create_temp(dir, new_mode)?;
    let (pfile, mut ptmp) = create_temp(pag, new_mode)?;
    write(&dtmp.path, &ptmp.path)?;

    // Readers are kept out only for the swap, not while the new pair is written. The old
    // files are opened under the lock: another writer may have swapped them meanwhile.
    let _lock = lock_pag(pag, true)?;
    let old_dir = open_old(dir)?;
    let old_pag = open_old(pag)?;
    finish_temp(&dfile, &dtmp.path, old_dir.as_ref(), dir)?;
    finish_temp(&pfile, &ptmp.path, old_pag.as_ref(), pag)?;
    drop((dfile, pfile));

    // A hard link to the old .dir, to put it back if the .pag rename fails.
    let backup = match &old_dir {
        Some(_) => {
            let (f, mut b) = create_temp(dir, 0o600)?;
            drop(f);
            fs::remove_file(&b.path).map_err(|e| MapError::io(&b.path, e))?;
            match fs::hard_link(dir, &b.path) {
                Ok(()) => Some(b),
                Err(_) => {
                    b.keep(); // nothing there to remove
                    None
                }
            }
        }
        None => None,
    };
    fs::rename(&dtmp.path, dir).map_err(|e| MapError::io(dir, e))?;
    dtmp.keep();
    if let Err(e) = fs::rename(&ptmp.path, pag) {
        match &backup {
            Some(b) => {
                let _ = fs::rename(&b.path, dir);
            }
            None if old_dir.is_none() => {
                let _ = fs::remove_file(dir);
            }
            None => {}
        }
        return Err(MapError::io(pag, e));
    }
    ptmp.keep();
    drop(backup);
    sync_dir(parent_dir(pag))?;
    if let Some(old) = &old_dir {
        notify_old(old, dir)?;
    }
    if let Some(old) = &old_pag {
        notify_old(old, pag)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn names_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn write_bytes(b: &'static [u8]) -> impl FnOnce(&mut File, &Path) -> Result<(), MapError> {
        move |f, p| f.write_all(b).map_err(|e| MapError::io(p, e))
    }

    fn failing(f: &mut File, p: &Path) -> Result<(), MapError> {
        f.write_all(b"half a ma").unwrap();
        Err(MapError::io(p, io::Error::other("disk on fire")))
    }

    #[test]
    fn creates_a_new_file() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("m.cdb");
        replace_file(&dest, 0o640, write_bytes(b"new")).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(names_in(d.path()), ["m.cdb"]);
        // 0640 minus any umask: never more than 0640.
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o137, 0);
    }

    #[test]
    fn error_midway_leaves_the_old_file_and_no_temporaries() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("m.cdb");
        fs::write(&dest, b"old").unwrap();
        let ino = fs::metadata(&dest).unwrap().ino();
        let e = replace_file(&dest, 0o666, failing).unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(fs::metadata(&dest).unwrap().ino(), ino);
        assert_eq!(names_in(d.path()), ["m.cdb"]);
    }

    #[test]
    fn panic_midway_leaves_no_temporaries() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("m.cdb");
        fs::write(&dest, b"old").unwrap();
        let r = std::panic::catch_unwind(|| {
            let _ = replace_file(&dest, 0o666, |_, _| panic!("writer bug"));
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(names_in(d.path()), ["m.cdb"]);
    }

    #[test]
    fn old_inode_mtime_moves_forward_through_an_open_handle() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("m.db");
        fs::write(&dest, b"old").unwrap();
        // A reader (sendmail) holding the old file, which it opened at `was`.
        let mut reader = File::open(&dest).unwrap();
        let was = reader.metadata().unwrap().modified().unwrap();
        replace_file(&dest, 0o640, write_bytes(b"new")).unwrap();
        let now = reader.metadata().unwrap().modified().unwrap();
        assert!(now >= was + Duration::from_secs(1), "{was:?} -> {now:?}");
        // sendmail's test: whole seconds, strictly greater than at open.
        let was_secs = was
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(reader.metadata().unwrap().mtime() > was_secs);
        let mut s = String::new();
        reader.read_to_string(&mut s).unwrap();
        assert_eq!(s, "old", "the reader still has the old inode");
        assert_eq!(fs::read(&dest).unwrap(), b"new", "the name has the new one");
    }

    #[test]
    fn begun_then_dropped_leaves_the_old_file_and_no_temporaries() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("m.cdb");
        fs::write(&dest, b"old").unwrap();
        let (mut f, new) = begin_file(&dest, 0o666).unwrap();
        f.write_all(b"half a ma").unwrap();
        assert_eq!(
            names_in(d.path()).len(),
            2,
            "the temporary is beside the map"
        );
        drop((f, new));
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(names_in(d.path()), ["m.cdb"]);
    }

    #[test]
    fn begun_then_finished_replaces_and_notifies() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("m.cdb");
        fs::write(&dest, b"old").unwrap();
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o604)).unwrap();
        let reader = File::open(&dest).unwrap();
        let was = reader.metadata().unwrap().modified().unwrap();
        let (mut f, new) = begin_file(&dest, 0o666).unwrap();
        assert_eq!(new.dest(), dest);
        assert!(new.temp_path().starts_with(d.path()));
        f.write_all(b"new").unwrap();
        new.finish(f).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o604);
        assert!(reader.metadata().unwrap().modified().unwrap() >= was + Duration::from_secs(1));
        assert_eq!(names_in(d.path()), ["m.cdb"]);
    }

    #[test]
    fn permissions_come_from_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("m.db");
        for mode in [0o600, 0o640, 0o604] {
            fs::write(&dest, b"old").unwrap();
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).unwrap();
            replace_file(&dest, 0o666, write_bytes(b"new")).unwrap();
            let m = fs::metadata(&dest).unwrap();
            assert_eq!(m.mode() & 0o7777, mode);
            assert_eq!(fs::read(&dest).unwrap(), b"new");
        }
    }

    #[test]
    fn refuses_a_symbolic_link() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("real.db");
        fs::write(&target, b"old").unwrap();
        let dest = d.path().join("m.db");
        std::os::unix::fs::symlink(&target, &dest).unwrap();
        let e = replace_file(&dest, 0o666, write_bytes(b"new")).unwrap_err();
        assert!(matches!(e, MapError::NotRegular { .. }));
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(names_in(d.path()), ["m.db", "real.db"]);
    }

    fn write_pair(
        d: &'static [u8],
        p: &'static [u8],
    ) -> impl FnOnce(&Path, &Path) -> Result<(), MapError> {
        move |dp, pp| {
            fs::write(dp, d).map_err(|e| MapError::io(dp, e))?;
            fs::write(pp, p).map_err(|e| MapError::io(pp, e))
        }
    }

    #[test]
    fn pair_is_replaced_and_both_old_inodes_notified() {
        let d = tempfile::tempdir().unwrap();
        let (dir, pag) = (d.path().join("m.dir"), d.path().join("m.pag"));
        replace_pair(&dir, &pag, 0o666, write_pair(b"d1", b"p1")).unwrap();
        assert_eq!(names_in(d.path()), ["m.dir", "m.pag"]);
        fs::set_permissions(&pag, fs::Permissions::from_mode(0o600)).unwrap();
        let hd = File::open(&dir).unwrap();
        let hp = File::open(&pag).unwrap();
        let (wd, wp) = (
            hd.metadata().unwrap().modified().unwrap(),
            hp.metadata().unwrap().modified().unwrap(),
        );
        replace_pair(&dir, &pag, 0o666, write_pair(b"d2", b"p2")).unwrap();
        assert_eq!(fs::read(&dir).unwrap(), b"d2");
        assert_eq!(fs::read(&pag).unwrap(), b"p2");
        assert_eq!(fs::metadata(&pag).unwrap().mode() & 0o7777, 0o600);
        assert!(hd.metadata().unwrap().modified().unwrap() >= wd + Duration::from_secs(1));
        assert!(hp.metadata().unwrap().modified().unwrap() >= wp + Duration::from_secs(1));
        assert_eq!(names_in(d.path()), ["m.dir", "m.pag"]);
    }

    #[test]
    fn pair_error_midway_leaves_both_old_files() {
        let d = tempfile::tempdir().unwrap();
        let (dir, pag) = (d.path().join("m.dir"), d.path().join("m.pag"));
        fs::write(&dir, b"d1").unwrap();
        fs::write(&pag, b"p1").unwrap();
        let e = replace_pair(&dir, &pag, 0o666, |dp, _| {
            fs::write(dp, b"half").unwrap();
            Err(MapError::io(dp, io::Error::other("disk on fire")))
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk on fire"));
        assert_eq!(fs::read(&dir).unwrap(), b"d1");
        assert_eq!(fs::read(&pag).unwrap(), b"p1");
        assert_eq!(names_in(d.path()), ["m.dir", "m.pag"]);
    }

    #[test]
    #[allow(clippy::incompatible_msrv)]
    fn pair_waits_for_a_reader_holding_the_shared_lock() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let d = tempfile::tempdir().unwrap();
        let (dir, pag) = (d.path().join("m.dir"), d.path().join("m.pag"));
        fs::write(&dir, b"d1").unwrap();
        fs::write(&pag, b"p1").unwrap();
        let reader = lock_pag(&pag, false).unwrap().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let t = {
            let (dir, pag, done) = (dir.clone(), pag.clone(), done.clone());
            std::thread::spawn(move || {
                replace_pair(&dir, &pag, 0o666, write_pair(b"d2", b"p2")).unwrap();
                done.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !done.load(Ordering::SeqCst),
            "writer did not wait for the reader"
        );
        assert_eq!(
            fs::read(&dir).unwrap(),
            b"d1",
            ".dir swapped under the reader"
        );
        drop(reader);
        t.join().unwrap();
        assert_eq!(fs::read(&dir).unwrap(), b"d2");
        assert_eq!(fs::read(&pag).unwrap(), b"p2");
        // A reader that waited on the old .pag sees it replaced and locks the new one.
        let again = lock_pag(&pag, false).unwrap();
        assert!(again.is_some());
    }
}
