//! cfmap reads and converts Berkeley DB files with no libdb on the machine: the binary
//! links no libdb, and the conversions (and a whole migration) work in a mount namespace
//! where every `libdb*.so*` is hidden under an empty file, where real makemap cannot even
//! start.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{cfmap, need_root, need_tool};

fn ldd(bin: &Path) -> String {
    let out = Command::new("ldd").arg(bin).output().expect("ldd");
    assert!(out.status.success(), "ldd {}", bin.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_binary_links_no_libdb() {
    if !need_tool("ldd") {
        return;
    }
    let mut bins = vec![PathBuf::from(env!("CARGO_BIN_EXE_cfmap"))];
    // The release binary, when it has been built (.ci/run builds it before the tests).
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/cfmap");
    if release.exists() {
        bins.push(release);
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("target/release/cfmap is required under CI=true (.ci/run builds it)");
    }
    for b in bins {
        let libs = ldd(&b);
        assert!(libs.contains("libc.so"), "{libs}");
        assert!(
            !libs.lines().any(|l| l.trim_start().starts_with("libdb")),
            "{} links libdb:\n{libs}",
            b.display()
        );
    }
    // The check can see libdb where it is linked: real makemap.
    if need_tool("/usr/sbin/makemap") {
        assert!(ldd(Path::new("/usr/sbin/makemap")).contains("libdb-5.3.so"));
    }
}

/// Every `libdb*.so*` file in the library directories.
fn libdb_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = ["/usr/lib", "/usr/local/lib", "/usr/lib64", "/lib64"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && name.starts_with("libdb") && name.contains(".so") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn conversions_work_with_every_libdb_hidden() {
    if !need_root()
        || !need_tool("unshare")
        || !need_tool("/usr/sbin/makemap")
        || !need_tool("cdb")
        || !need_tool("m4")
    {
        return;
    }
    let libs = libdb_files();
    assert!(
        libs.iter()
            .any(|p| p.to_string_lossy().contains("libdb-5.3.so")),
        "libdb-5.3.so should be installed (makemap needs it): {libs:?}"
    );
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let run = |cmd: &str, args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut c = Command::new(cmd)
            .current_dir(dir)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success(), "{cmd} {args:?}");
    };
    run(
        "/usr/sbin/makemap",
        &["-N", "hash", "access"],
        "Connect:192.0.2.1 REJECT\nexample.com OK\n",
    );
    run(
        "/usr/sbin/makemap",
        &["btree", "mailertable"],
        "remote.example smtp:[mx.remote.example]\n",
    );
    std::fs::write(
        dir.join("t.cf"),
        format!(
            "V10/Berkeley\nDjvm.example.com\nO DontBlameSendmail=MapInUnsafeDirPath\nKaccess hash -N {0}/access\nKmt btree {0}/mailertable\n\
             Scheck_rcpt\nR$*\t$: $(access $1 $: none $)\nS0\nR$*\t$#local $: $1\n\
             Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n",
            dir.display()
        ),
    )
    .unwrap();
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let bin = env!("CARGO_BIN_EXE_cfmap");
    let mut script = String::from("set -e\n");
    for l in &libs {
        script.push_str(&format!(
            "mount --bind {} {}\n",
            empty.display(),
            l.display()
        ));
    }
    // makemap cannot start: its libdb is an empty file now.
    script.push_str("if /usr/sbin/makemap -u hash access > makemap.out 2>&1; then echo makemap-ran; exit 9; fi\n");
    script.push_str(&format!(
        "{bin} convert hash:access cdb:access\n{bin} convert btree:mailertable dbm:mailertable\n\
         {bin} convert hash:access text:access.txt\n{bin} convert text:access.txt btree:again\n\
         {bin} dump btree again > again.out\n\
         {bin} migrate -C t.cf --to cdb > migrate.out\n"
    ));
    let out = Command::new("unshare")
        .current_dir(dir)
        .args(["--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let makemap_out = std::fs::read_to_string(dir.join("makemap.out")).unwrap();
    assert!(makemap_out.contains("libdb-5.3.so"), "{makemap_out}");
    // Back outside: the real tools read what cfmap wrote in there.
    let dump = Command::new("cdb")
        .current_dir(dir)
        .args(["-d", "access.cdb"])
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(
        dump.contains("+18,7:connect:192.0.2.1\0->REJECT\0\n"),
        "{dump}"
    );
    assert!(dump.contains("+12,3:example.com\0->OK\0\n"), "{dump}");
    let (out, _, _) = cfmap(dir, &["dump", "dbm", "mailertable"]);
    assert_eq!(out, "remote.example\tsmtp:[mx.remote.example]\n");
    let again = std::fs::read_to_string(dir.join("again.out")).unwrap();
    assert_eq!(again, "connect:192.0.2.1\tREJECT\nexample.com\tOK\n");
    let migrate = std::fs::read_to_string(dir.join("migrate.out")).unwrap();
    assert!(migrate.contains(": all the same"), "{migrate}");
    let cf = std::fs::read_to_string(dir.join("t.cf")).unwrap();
    assert!(
        cf.contains("Kaccess cdb -N ") && cf.contains("Kmt cdb "),
        "{cf}"
    );
}
