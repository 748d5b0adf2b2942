//! Shared helpers for integration tests: running the cfmap binary and the real sendmail.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

/// Whether a program is on PATH (or at an absolute path). When it is missing, a test
/// that needs it fails under `CI=true` and is skipped (with a note) elsewhere.
pub fn need_tool(name: &str) -> bool {
    let found = if name.starts_with('/') {
        Path::new(name).exists()
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(name).exists()))
            .unwrap_or(false)
    };
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name} is required under CI=true (.ci/run installs it)");
        }
        eprintln!("note: {name} not found; skipping an oracle test");
    }
    found
}

/// Whether this process may create namespaces (root), which the hermetic sendmail run
/// needs. Same CI rule as [`need_tool`].
pub fn need_root() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("oracle tests need root under CI=true");
        }
        eprintln!("note: not root; skipping an oracle test");
    }
    root
}

/// Run real `sendmail -bt -C file.cf` in `dir`, hermetically (private host name
/// vm.example.com, no network, fixed /etc files; see shared/oracle.md), feeding `input`.
/// Returns everything it printed (stdout and stderr, interleaved).
pub fn sendmail_bt(dir: &Path, cf: &str, input: &str) -> String {
    let etc = tempfile::tempdir().expect("tempdir");
    let e = etc.path();
    std::fs::write(e.join("hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::write(e.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    std::fs::write(
        e.join("nsswitch.conf"),
        "hosts: files dns\npasswd: files\ngroup: files\n",
    )
    .unwrap();
    std::fs::write(e.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(e.join("group"), "root:x:0:\n").unwrap();
    let script = format!(
        "for f in hosts resolv.conf nsswitch.conf passwd group; do mount --bind {}/$f /etc/$f; done; \
         hostname vm.example.com; exec sendmail -bt -C {cf} -ODontProbeInterfaces=true 2>&1",
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
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().expect("sendmail output");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// Run the cfmap binary with `args` in `dir`; returns (stdout, stderr, exit code).
pub fn cfmap(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run cfmap");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}
