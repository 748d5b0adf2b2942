//! sendmail's safe-file checks for map files (`safefile` and `safedirpath` in
//! libsmutil/safefile.c), as far as reading a map needs them.
//!
//! A map file is refused when a directory on its path is world-writable (or
//! group-writable), unless `DontBlameSendmail` says `MapInUnsafeDirPath` (or
//! `GroupWritableDirPathSafe` for group bits, `TrustStickyBit` for sticky directories).
//! Which directories: the components of the path *as written*, so a relative path checks
//! only its own components (`maps/x.db` checks `maps`; `x.db` checks `.`), an absolute one
//! every directory from `/`. Symbolic links on the way are followed and their targets
//! checked the same way. sendmail skips the directory rule when run by a non-root user
//! (its "debugging" exemption), and warns root about a writable directory it lets
//! through; so does this code, for the uid in [`super::MapOptions::uid`].
//!
//! Paths here are sendmail's paths (bytes as on the K line); [`Ctx::resolve`] maps each
//! one to the file really looked at (base directory, root).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::Ctx;

/// Why a file was refused; the text is what sendmail's `sm_errstring` prints.
#[derive(Debug)]
pub(crate) enum Problem {
    Io(std::io::Error),
    WorldWritableDir,
    GroupWritableDir,
    RegularOnly,
    NoSymlink,
    NoHardlink,
    Loop,
}

impl Problem {
    pub(crate) fn text(&self) -> String {
        match self {
            Problem::Io(e) => super::strerror(e),
            Problem::WorldWritableDir => "World writable directory".into(),
            Problem::GroupWritableDir => "Group writable directory".into(),
            Problem::RegularOnly => "Regular files only".into(),
            Problem::NoSymlink => "Symbolic links not allowed".into(),
            Problem::NoHardlink => "Hard links not allowed".into(),
            Problem::Loop => "Too many levels of symbolic links".into(),
        }
    }

    /// sendmail's "missing" (ENOENT) rather than "unsafe".
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, Problem::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The checks a read-only map open asks for (SFF_ROOTOK|SFF_REGONLY, SFF_NOWLINK unless
/// `LinkedMapInWritableDir`, SFF_SAFEDIRPATH unless `MapInUnsafeDirPath`).
pub(crate) fn check_map_file(ctx: &Ctx, path: &[u8]) -> Result<std::fs::Metadata, Problem> {
    let mut safedirpath = !ctx.blame.map_in_unsafe_dir_path;
    let nowlink = !ctx.blame.linked_map_in_writable_dir;
    // SAFEDIRPATH is ignored when a non-root user runs sendmail.
    if ctx.uid != 0 {
        safedirpath = false;
    }
    let real = ctx.resolve(path);
    let st = std::fs::metadata(&real);
    let dir = dir_of(path);
    let mut checkpath = true;
    let mut nolink = false;
    if nowlink && !safedirpath {
        if dir_path(ctx, &dir, true, 0).is_ok() {
            checkpath = false;
        } else {
            std::fs::symlink_metadata(&real).map_err(Problem::Io)?;
            nolink = true;
        }
    }
    if checkpath {
        dir_path(ctx, &dir, safedirpath, 0)?;
    }
    let st = st.map_err(Problem::Io)?;
    if nolink {
        let l = std::fs::symlink_metadata(&real).map_err(Problem::Io)?;
        if l.file_type().is_symlink() {
            return Err(Problem::NoSymlink);
        }
    }
    if !st.is_file() {
        return Err(Problem::RegularOnly);
    }
    if nolink && st.nlink() != 1 {
        return Err(Problem::NoHardlink);
    }
    Ok(st)
}

/// The directory part of a path as sendmail splits it (`.` when there is no slash).
fn dir_of(path: &[u8]) -> Vec<u8> {
    match path.iter().rposition(|&b| b == b'/') {
        None => b".".to_vec(),
        Some(0) => b"/".to_vec(),
        Some(p) => path[..p].to_vec(),
    }
}

/// `safedirpath`: every component of `dir`, following symbolic links.
fn dir_path(ctx: &Ctx, dir: &[u8], safe: bool, level: usize) -> Result<(), Problem> {
    if level > 20 {
        return Err(Problem::Loop);
    }
    let dir: &[u8] = if dir.is_empty() { b"/" } else { dir };
    let mut mask = libc::S_IWOTH;
    if !ctx.blame.group_writable_dir_path_safe {
        mask |= libc::S_IWGRP;
    }
    for comp in prefixes(dir) {
        if comp.ends_with(b"/.") || comp.ends_with(b"/..") {
            continue;
        }
        let real = ctx.resolve(&comp);
        let st = std::fs::symlink_metadata(&real).map_err(Problem::Io)?;
        if st.file_type().is_symlink() {
            let target = std::fs::read_link(&real).map_err(Problem::Io)?;
            let t = target.as_os_str().as_bytes();
            let full = if t.starts_with(b"/") {
                t.to_vec()
            } else {
                match comp.iter().rposition(|&b| b == b'/') {
                    Some(p) => [&comp[..=p], t].concat(),
                    None => t.to_vec(),
                }
            };
            dir_path(ctx, &full, safe, level + 1)?;
            continue;
        }
        let mode = st.permissions().mode();
        let sticky_trusted = ctx.blame.trust_sticky_bit && mode & libc::S_ISVTX != 0;
        if !sticky_trusted && mode & mask != 0 {
            let world = mode & libc::S_IWOTH != 0;
            if safe {
                return Err(if world {
                    Problem::WorldWritableDir
                } else {
                    Problem::GroupWritableDir
                });
            }
            // Root is only warned (sendmail -bt is verbose enough to print it).
            if ctx.uid == 0 {
                let kind = if world { "World" } else { "Group" };
                ctx.warnings.borrow_mut().push(
                    [
                        format!("WARNING: {kind} writable directory ").as_bytes(),
                        &comp[..],
                    ]
                    .concat(),
                );
            }
        }
    }
    Ok(())
}

/// `/a/b` → `/`, `/a`, `/a/b`; `a/b` → `a`, `a/b`.
fn prefixes(dir: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if dir.starts_with(b"/") {
        out.push(b"/".to_vec());
    }
    for (i, &b) in dir.iter().enumerate() {
        if b == b'/' && i > 0 {
            out.push(dir[..i].to_vec());
        }
    }
    if dir != b"/" {
        out.push(dir.to_vec());
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ctx(base: PathBuf) -> Ctx {
        Ctx {
            base_dir: base,
            root: None,
            passwd: PathBuf::new(),
            hosts_file: PathBuf::new(),
            switch_file: PathBuf::new(),
            blame: Default::default(),
            switch: None,
            host_cache: Default::default(),
            hosts: Default::default(),
            warnings: Default::default(),
            uid: 0,
        }
    }

    #[test]
    fn prefixes_follow_safedirpath() {
        assert_eq!(prefixes(b"/a/b"), [&b"/"[..], b"/a", b"/a/b"]);
        assert_eq!(prefixes(b"a/b"), [&b"a"[..], b"a/b"]);
        assert_eq!(prefixes(b"/"), [&b"/"[..]]);
        assert_eq!(dir_of(b"m.db"), b".");
        assert_eq!(dir_of(b"/m.db"), b"/");
    }

    #[test]
    fn world_writable_directory_is_refused_unless_blamed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("ww")).unwrap();
        std::fs::set_permissions(d.path().join("ww"), PermissionsExt::from_mode(0o777)).unwrap();
        std::fs::write(d.path().join("ww/m.db"), b"x").unwrap();
        std::fs::create_dir(d.path().join("ok")).unwrap();
        std::fs::write(d.path().join("ok/m.db"), b"x").unwrap();
        let mut c = ctx(d.path().to_path_buf());
        assert!(check_map_file(&c, b"ok/m.db").is_ok());
        let e = check_map_file(&c, b"ok/none.db").unwrap_err();
        assert!(e.is_missing());
        assert_eq!(e.text(), "No such file or directory");
        {
            let e = check_map_file(&c, b"ww/m.db").unwrap_err();
            assert_eq!(e.text(), "World writable directory");
            // The directory is checked before the file's existence.
            let e = check_map_file(&c, b"ww/none.db").unwrap_err();
            assert_eq!(e.text(), "World writable directory");
        }
        c.blame.map_in_unsafe_dir_path = true;
        assert!(check_map_file(&c, b"ww/m.db").is_ok());
        {
            assert_eq!(
                c.warnings.take(),
                [b"WARNING: World writable directory ww".to_vec()]
            );
        }
        assert_eq!(
            check_map_file(&c, b"ok").unwrap_err().text(),
            "Regular files only"
        );
    }
}
