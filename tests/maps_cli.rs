//! `cfmap makemap` and `cfmap dump` on cdb maps, checked against tinycdb's `cdb` tool and
//! the committed test vectors.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn vectors() -> PathBuf {
    std::env::var_os("CFMAP_TESTVECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testvectors"))
}

/// Run cfmap in `dir` with `stdin`; returns (stdout bytes, stderr, exit code).
fn cfmap_in(dir: &Path, args: &[&str], stdin: &[u8]) -> (Vec<u8>, String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cfmap");
    // A run that fails before it reads its input (a map it cannot create) may be gone
    // before all of it is written.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn cdb_tool(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("cdb")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run cdb");
    assert!(out.status.success(), "cdb {args:?}: {:?}", out.status);
    out.stdout
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn makemap_cdb_is_read_by_tinycdb() {
    if !support::need_tool("cdb") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = b"# access map\nCyberPromo.COM REJECT\nhoney@sweeties.com  ERROR:550 go away \n\nuser@x.example OK\n";
    let (_, err, code) = cfmap_in(d.path(), &["makemap", "cdb", "access"], src);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(names_in(d.path()), ["access.cdb"]);
    assert_eq!(
        cdb_tool(d.path(), &["-q", "access.cdb", "cyberpromo.com"]),
        b"REJECT"
    );
    assert_eq!(
        cdb_tool(d.path(), &["-q", "access.cdb", "honey@sweeties.com"]),
        b"ERROR:550 go away "
    );
    assert_eq!(
        cdb_tool(d.path(), &["-d", "access.cdb"]),
        b"+14,6:cyberpromo.com->REJECT\n+18,18:honey@sweeties.com->ERROR:550 go away \n+14,2:user@x.example->OK\n\n"
    );
    let (out, _, code) = cfmap_in(d.path(), &["dump", "cdb", "access"], b"");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        b"cyberpromo.com\tREJECT\nhoney@sweeties.com\tERROR:550 go away \nuser@x.example\tOK\n"
    );
    // -f keeps the case; NAME may already end in .cdb.
    let (_, _, code) = cfmap_in(d.path(), &["makemap", "-f", "cdb", "access.cdb"], src);
    assert_eq!(code, 0);
    assert_eq!(
        cdb_tool(d.path(), &["-q", "access.cdb", "CyberPromo.COM"]),
        b"REJECT"
    );
}

#[test]
fn makemap_cdb_matches_the_tinycdb_vectors() {
    // Lower-case keys, no duplicates: makemap's rules and `cdb -c -m` agree.
    let d = tempfile::tempdir().unwrap();
    for name in ["junk", "many", "vrcache"] {
        let src = std::fs::read(vectors().join(format!("inputs/{name}.txt"))).unwrap();
        let (_, err, code) = cfmap_in(d.path(), &["makemap", "cdb", name], &src);
        assert_eq!((code, err.as_str()), (0, ""), "{name}");
        let ours = std::fs::read(d.path().join(format!("{name}.cdb"))).unwrap();
        let theirs = std::fs::read(vectors().join(format!("cdb/{name}.cdb"))).unwrap();
        assert!(ours == theirs, "{name}.cdb differs from tinycdb's");
    }
}

#[test]
fn dump_reads_a_tinycdb_file() {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(vectors().join("cdb/junk.cdb"), d.path().join("junk.cdb")).unwrap();
    let (out, _, code) = cfmap_in(d.path(), &["dump", "cdb", "junk"], b"");
    assert_eq!(code, 0);
    let want = std::fs::read(vectors().join("inputs/junk.txt")).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(want).unwrap().replace(' ', "\t")
    );
}

#[test]
fn bad_lines_give_65_and_the_rest_is_built() {
    let d = tempfile::tempdir().unwrap();
    let src = b"good one\n lead x\nnovalue\nGOOD two\n";
    let (_, err, code) = cfmap_in(d.path(), &["makemap", "cdb", "m"], src);
    assert_eq!(code, 65);
    assert_eq!(
        err,
        "cfmap: m: line 2: syntax error (leading space)\n\
         cfmap: m: line 3: no RHS for LHS novalue\n\
         cfmap: m: line 4: key good: duplicate key\n"
    );
    let (out, _, code) = cfmap_in(d.path(), &["dump", "cdb", "m"], b"");
    assert_eq!((out.as_slice(), code), (&b"good\tone\n"[..], 0));
}

#[test]
fn rebuild_replaces_and_tells_the_old_inode() {
    let d = tempfile::tempdir().unwrap();
    let (_, _, code) = cfmap_in(d.path(), &["makemap", "cdb", "m"], b"k v1\n");
    assert_eq!(code, 0);
    let path = d.path().join("m.cdb");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let held = std::fs::File::open(&path).unwrap();
    let was = held.metadata().unwrap().modified().unwrap();
    let (_, _, code) = cfmap_in(d.path(), &["makemap", "cdb", "m"], b"k v2\n");
    assert_eq!(code, 0);
    assert!(held.metadata().unwrap().modified().unwrap() >= was + Duration::from_secs(1));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    let (out, _, _) = cfmap_in(d.path(), &["dump", "cdb", "m"], b"");
    assert_eq!(out, b"k\tv2\n");
    assert_eq!(names_in(d.path()), ["m.cdb"]);
}

#[test]
fn errors_and_exit_statuses() {
    let d = tempfile::tempdir().unwrap();
    let (_, err, code) = cfmap_in(d.path(), &["dump", "cdb", "nope"], b"");
    assert_eq!(
        (code, err.as_str()),
        (66, "cfmap: nope.cdb: No such file or directory\n")
    );
    std::fs::write(d.path().join("bad.cdb"), b"short").unwrap();
    let (_, err, code) = cfmap_in(d.path(), &["dump", "cdb", "bad"], b"");
    assert_eq!(code, 65, "{err}");
    assert!(err.starts_with("cfmap: bad.cdb: not a cdb"), "{err}");
    // As makemap: an unknown type or a missing directory is "cannot create" (73).
    let (_, err, code) = cfmap_in(d.path(), &["makemap", "ndbm", "m"], b"");
    assert_eq!(
        (code, err.as_str()),
        (
            73,
            "cfmap: error opening type ndbm map m: Unknown database type\n"
        )
    );
    let (_, err, code) = cfmap_in(d.path(), &["makemap", "cdb", "no/such/dir/m"], b"k v\n");
    assert_eq!(
        (code, err.as_str()),
        (
            73,
            "cfmap: error opening type cdb map no/such/dir/m: No such file or directory\n"
        )
    );
    let (_, _, code) = cfmap_in(d.path(), &["makemap", "cdb"], b"");
    assert_eq!(code, 64);
}

/// A write that fails in the middle of a streamed build (here the file-size limit, the
/// same error path as a full disk, reached after the writing thread has started): exit
/// 74 with the map's name, the old map answers as before, and no temporary is left.
#[test]
fn a_write_error_mid_build_keeps_the_old_map() {
    let d = tempfile::tempdir().unwrap();
    let (_, err, code) = cfmap_in(d.path(), &["makemap", "cdb", "m"], b"old value\n");
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read(d.path().join("m.cdb")).unwrap();
    // About 6 MB of cdb: well past the 256 KiB at which the writing thread takes over.
    let mut src = Vec::new();
    for i in 0..200_000 {
        writeln!(src, "host{i:08}.example.net OK").unwrap();
    }
    std::fs::write(d.path().join("src"), &src).unwrap();
    // A file-size limit of 2,048 blocks (1 or 2 MiB, as the shell counts them); the
    // signal the limit raises is ignored, so the write fails with EFBIG instead.
    let out = Command::new("sh")
        .current_dir(d.path())
        .args([
            "-c",
            r#"trap '' XFSZ; ulimit -f 2048 && exec "$0" makemap cdb m < src"#,
            env!("CARGO_BIN_EXE_cfmap"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    // makemap's wording for a failed write of the map.
    assert!(err.contains("close(m): File too large"), "{err}");
    assert_eq!(std::fs::read(d.path().join("m.cdb")).unwrap(), before);
    assert_eq!(names_in(d.path()), ["m.cdb", "src"]);
    let (dump, _, code) = cfmap_in(d.path(), &["dump", "cdb", "m"], b"");
    assert_eq!(code, 0);
    assert_eq!(String::from_utf8_lossy(&dump), "old\tvalue\n");
}
