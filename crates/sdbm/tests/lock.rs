//! The lock convention: `flock` on `NAME.pag`, exclusive for writers, shared for readers,
//! and Perl's `flock` sees it.

mod common;

use std::fs::File;
use std::process::Command;

use cfmap_sdbm::{Sdbm, StoreMode, lock_exclusive, lock_shared};
use common::need_perl;

#[test]
fn exclusive_lock_excludes_others_and_creates_the_pag() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l.dir");
    let pag = tmp.path().join("l.pag");
    let guard = lock_exclusive(&pag).unwrap();
    assert!(
        pag.exists(),
        "the first writer's lock creates an empty .pag"
    );
    let other = File::open(&pag).unwrap();
    assert!(other.try_lock_shared().is_err(), "a reader must wait");
    // Creating the database under the lock keeps the locked file (same inode).
    let mut db = Sdbm::create(&dir, &pag).unwrap();
    db.store(b"k", b"v", StoreMode::Replace).unwrap();
    drop(db);
    drop(guard);
    assert!(eventually(|| other.try_lock_shared().is_ok()));
    other.unlock().unwrap();

    let r1 = lock_shared(&pag).unwrap();
    let r2 = lock_shared(&pag).unwrap();
    assert!(other.try_lock().is_err(), "a writer must wait for readers");
    drop((r1, r2));
    assert!(eventually(|| other.try_lock().is_ok()));
}

/// A released flock can stay held for a moment by a child process that another test of
/// this binary forked and has not yet exec'd (the child shares the open file description
/// until exec closes it), so a release is checked with a short retry.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[test]
fn shared_lock_on_a_missing_database_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(lock_shared(&tmp.path().join("none.pag")).is_err());
}

#[test]
fn oracle_perl_flock_sees_the_lock() {
    if !need_perl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pag = tmp.path().join("p.pag");
    let try_perl = || {
        let out = Command::new("perl")
            .args([
                "-MFcntl=:flock",
                "-e",
                "open(my $f, '<', $ARGV[0]) or die $!; print flock($f, LOCK_EX | LOCK_NB) ? 'got' : 'busy'",
            ])
            .arg(&pag)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let guard = lock_exclusive(&pag).unwrap();
    assert_eq!(try_perl(), "busy");
    drop(guard);
    assert_eq!(try_perl(), "got");
    let reader = lock_shared(&pag).unwrap();
    assert_eq!(try_perl(), "busy");
    drop(reader);
}
