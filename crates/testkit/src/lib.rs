//! Helpers for cfmap's tests that use the real programs as oracles (sendmail, makemap,
//! libdb's utilities, tinycdb, Perl). Only tests depend on this crate.
//!
//! The rule for a missing oracle: under `CI=true` the test fails (`.ci/run` installs
//! every tool, so a missing one is a broken machine); elsewhere it prints a note and the
//! test returns early.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::{Command, Stdio};

fn missing(what: &str, ci_message: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{ci_message}");
    }
    eprintln!("note: {what}; skipping an oracle test");
}

/// Whether a program is on PATH (or, for an absolute path, whether that file exists).
pub fn need_tool(name: &str) -> bool {
    let found = if name.starts_with('/') {
        Path::new(name).exists()
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
            .unwrap_or(false)
    };
    if !found {
        missing(
            &format!("{name} not found"),
            &format!("{name} is required under CI=true (.ci/run installs it)"),
        );
    }
    found
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether this process may create the namespaces the hermetic sendmail run needs
/// (root); same CI rule as [`need_tool`].
pub fn need_root() -> bool {
    let root = is_root();
    if !root {
        missing("not root", "oracle tests need root under CI=true");
    }
    root
}

/// Run real `sendmail -bt -C cf` in `dir`, hermetically (shared/oracle.md): private host
/// name vm.example.com, no network, fixed /etc files; `input` is fed on stdin. Returns
/// everything it printed (stdout, then stderr).
///
/// `DontBlameSendmail=MapInUnsafeDirPath`: the checkout may live below a world-writable
/// directory such as /tmp, where sendmail would refuse map files.
pub fn sendmail_bt(dir: &Path, cf: &str, input: &str) -> String {
    let etc = tempfile::tempdir().expect("tempdir");
    let e = etc.path();
    let files: [(&str, &str); 5] = [
        ("hosts", "127.0.0.1 localhost\n"),
        ("resolv.conf", "nameserver 127.0.0.1\n"),
        (
            "nsswitch.conf",
            "hosts: files dns\npasswd: files\ngroup: files\n",
        ),
        ("passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("group", "root:x:0:\n"),
    ];
    for (name, text) in files {
        std::fs::write(e.join(name), text).expect("write /etc file");
    }
    let script = format!(
        "for f in hosts resolv.conf nsswitch.conf passwd group; do mount --bind {}/$f /etc/$f; done; \
         hostname vm.example.com; exec sendmail -bt -C {cf} -ODontProbeInterfaces=true \
         -ODontBlameSendmail=MapInUnsafeDirPath 2>&1",
        e.display()
    );
    let mut child = Command::new("timeout")
        .args([
            "120", "unshare", "--uts", "--net", "--mount", "sh", "-c", &script,
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sendmail");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("feed sendmail");
    }
    let out = child.wait_with_output().expect("sendmail output");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}
