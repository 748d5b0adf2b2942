//! Shared helpers for integration tests: running the cfmap binary and the real sendmail.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

#[allow(unused_imports)]
pub use cfmap_testkit::{need_root, need_tool, sendmail_bt};

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
