//! How fast `cfmap test` answers address-test lines, next to real `sendmail -bt`.
//!
//! `cargo bench --bench bt_speed` prepares two cases of testdata/bt in scratch copies
//! (maps built with `cfmap makemap`, the m4 config generated with m4), writes two inputs
//! of 20,000 lines each, and runs both programs on both, side by side:
//!
//! * **check_mail** on the junk1 configuration (the example config: btree junk-domain
//!   map, parent-domain retry): `check_mail <local@domain>` over listed, parent and
//!   unlisted domains, with and without angle brackets;
//! * **3,0** on the m4feat configuration (m4-generated, access/mailer/virtuser tables):
//!   `3,0 address` over local, virtual, routed and remote addresses.
//!
//! `cfmap test -C site.cf` (the binary cargo builds for the bench) and `sendmail -bt -C
//! site.cf` (hermetic, as testdata/bt/regen.sh runs it: root, unshare, host name
//! vm.example.com, testdata/bt/etc bind-mounted) are started directly (no shell or
//! `timeout` around cfmap: a few milliseconds of their start-up would count as its
//! time); the wall time runs from spawn to exit. The peak RSS comes from one more run
//! of each under `/usr/bin/time -f %M`. The two
//! outputs are compared line by line and the number of differing lines is reported (not
//! a failure while the engine is young).
//!
//! Each program runs `BT_SPEED_RUNS` times (default 3), taking turns with the other,
//! and its fastest run is shown (the machine is shared: a single run is mostly noise).
//!
//! `BT_SPEED_LINES=N` changes the number of lines. Without `--bench` (as `cargo test
//! --all-targets` runs it) it is a smoke run on 200 lines, which skips cleanly when this
//! cfmap has no `test` subcommand yet. Without root or sendmail the sendmail side shows
//! as n/a.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CF_M4: &str = "/usr/share/sendmail/cf/m4/cf.m4";

fn bt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bt")
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Copy case `name` into `dir` and run its `setup` (testdata/bt/README.md). False when
/// a step cannot run here (no m4).
fn prepare(cfmap: &str, name: &str, dir: &Path) -> bool {
    copy_tree(&bt_dir().join(name), dir);
    let setup = fs::read_to_string(dir.join("setup")).unwrap_or_default();
    for line in setup.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let ok = if words[0] == "m4" {
            if !Path::new(CF_M4).exists() {
                println!("  {name}: {CF_M4} missing (sendmail-cf), case skipped");
                return false;
            }
            Command::new("m4")
                .args([CF_M4, words[1]])
                .current_dir(dir)
                .stdout(File::create(dir.join("site.cf")).unwrap())
                .status()
                .is_ok_and(|s| s.success())
        } else {
            Command::new(cfmap)
                .arg("makemap")
                .args(&words)
                .current_dir(dir)
                .stdin(File::open(dir.join(words[words.len() - 1])).unwrap())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ok {
            println!("  {name}: setup step `{line}` failed, case skipped");
            return false;
        }
    }
    true
}

/// `n` check_mail lines over the junk1 domains (listed, parents, unlisted).
fn check_mail_lines(n: usize) -> Vec<String> {
    let locals = ["honey", "john.doe", "a+b", "Postmaster", "x"];
    let domains = [
        "natureplus.com",
        "mail.natureplus.com",
        "bulk-offers.example",
        "a.b.cheap-pills.example",
        "example.com",
        "sub.example.org",
        "vm.example.com",
        "NaturePlus.COM",
        "partner.example.net",
        "notnatureplus.com",
        "deep.er.sub.example.net",
    ];
    (0..n)
        .map(|i| {
            let l = locals[i % locals.len()];
            let d = domains[(i / locals.len()) % domains.len()];
            if i % 3 == 0 {
                format!("check_mail {l}{i}@{d}")
            } else {
                format!("check_mail <{l}{i}@{d}>")
            }
        })
        .collect()
}

/// `n` `3,0` lines over the m4feat addresses.
fn three_zero_lines(n: usize) -> Vec<String> {
    let forms = [
        "user{i}",
        "user{i}@vm.example.com",
        "user{i}@example.com",
        "info@virtual.example",
        "user{i}@catchall.example",
        "user{i}@routed.example",
        "user{i}@sub.routed.example",
        "user{i}@other.org",
        "Some Body <user{i}@other.org>",
        "<@relay.example.net:user{i}@other.org>",
        "host{i}!user",
        "user{i}%other.org@vm.example.com",
    ];
    (0..n)
        .map(|i| {
            format!(
                "3,0 {}",
                forms[i % forms.len()].replace("{i}", &i.to_string())
            )
        })
        .collect()
}

struct Run {
    wall: Duration,
    rss_kib: Option<u64>,
    out: Vec<u8>,
}

/// Runs `argv` (the program itself, no shell or `timeout` in between: their start-up
/// would count as the program's) in `dir` with `input` on stdin and stdout and stderr
/// into one pipe. The wall time runs from the spawn to the exit. A run past ten minutes
/// is killed. The peak RSS is measured in a run of its own under `/usr/bin/time`: a
/// child's rusage also counts the memory of the process it was forked from.
/// The output goes into `buf` (cleared first): a buffer kept from run to run is already
/// in memory, so the bench's own reader (page faults and copies of a fresh, growing
/// buffer: some 8 ms for 19 MB) does not slow the program down while it writes.
fn run(argv: &[&str], dir: &Path, input: &Path, mut buf: Vec<u8>) -> Option<Run> {
    let (mut reader, writer) = std::io::pipe().ok()?;
    let start = Instant::now();
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(File::open(input).unwrap())
        .stdout(writer.try_clone().ok()?)
        .stderr(writer)
        .spawn()
        .ok()?;
    let pid = child.id() as libc::pid_t;
    let collect = std::thread::spawn(move || {
        buf.clear();
        std::io::Read::read_to_end(&mut reader, &mut buf).map(|_| buf)
    });
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_secs(600)).is_err() {
            // SAFETY: a signal to our own child, still unreaped (waited for below).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut status = 0;
    // SAFETY: waits for our own child; status is our own local.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    let wall = start.elapsed();
    let _ = done_tx.send(());
    watchdog.join().ok()?;
    let out = collect.join().ok()?.ok()?;
    if rc != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) >= 124 {
        println!("  {} failed: wait status {status}", argv.join(" "));
        return None;
    }
    drop(child);
    Some(Run {
        wall,
        rss_kib: None,
        out,
    })
}

/// The peak RSS of `argv` on `input`, from `/usr/bin/time -f %M` (when present).
fn peak_rss(argv: &[&str], dir: &Path, input: &Path) -> Option<u64> {
    let timefile = dir.join("time.out");
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&timefile)
        .args(argv)
        .current_dir(dir)
        .stdin(File::open(input).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    fs::read_to_string(&timefile)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
}

/// `cfmap test` (with `--hostname vm.example.com` when it takes that option, as the
/// golden test runs it).
fn cfmap_argv(cfmap: &str) -> Vec<String> {
    let mut argv: Vec<String> = [cfmap, "test", "-C", "site.cf"].map(String::from).into();
    let help = Command::new(cfmap).args(["test", "--help"]).output();
    if help.is_ok_and(|h| String::from_utf8_lossy(&h.stdout).contains("--hostname")) {
        argv.extend(["--hostname".into(), "vm.example.com".into()]);
    }
    argv
}

/// Hermetic `sendmail -bt`, as testdata/bt/regen.sh runs it.
fn sendmail_argv() -> Vec<String> {
    let script = r#"for f in hosts resolv.conf nsswitch.conf passwd group; do
            mount --bind "$0/$f" /etc/$f || exit 1; done
        hostname vm.example.com
        exec sendmail -bt -C site.cf -ODontProbeInterfaces=true \
            -ODontBlameSendmail=MapInUnsafeDirPath"#;
    let etc = bt_dir().join("etc");
    let etc = etc.to_str().unwrap();
    [
        "unshare", "--uts", "--net", "--mount", "sh", "-c", script, etc,
    ]
    .map(String::from)
    .into()
}

/// The faster of the best run so far and a new one; the other's output buffer goes to
/// `spare` for the next run.
fn faster(best: Option<Run>, new: Run, spare: &mut Vec<u8>) -> Run {
    match best {
        Some(b) if b.wall <= new.wall => {
            *spare = new.out;
            b
        }
        Some(b) => {
            *spare = b.out;
            new
        }
        None => new,
    }
}

/// Lines that differ between two outputs (position by position, plus the surplus).
fn differing_lines(a: &[u8], b: &[u8]) -> usize {
    let a: Vec<&[u8]> = a.split(|&c| c == b'\n').collect();
    let b: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    let common = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    common + a.len().abs_diff(b.len())
}

fn fmt_run(r: &Option<Run>, lines: usize) -> (String, String, String) {
    match r {
        Some(r) => (
            format!("{:.3} s", r.wall.as_secs_f64()),
            format!("{:.0}", lines as f64 / r.wall.as_secs_f64()),
            r.rss_kib
                .map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        ),
        None => ("n/a".into(), "n/a".into(), "n/a".into()),
    }
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn main() {
    // `cargo bench` passes --bench; anything else (cargo test --all-targets) is a smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = match std::env::var("BT_SPEED_LINES") {
        Ok(s) => s.parse().expect("BT_SPEED_LINES: a number of lines"),
        Err(_) if full => 20_000,
        Err(_) => 200,
    };
    let runs: usize = match std::env::var("BT_SPEED_RUNS") {
        Ok(s) => s.parse().expect("BT_SPEED_RUNS: a number of runs"),
        Err(_) if full => 3,
        Err(_) => 1,
    };
    let cfmap = env!("CARGO_BIN_EXE_cfmap");
    let have_engine = Command::new(cfmap)
        .args(["test", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_engine && !full {
        println!("bt_speed: this cfmap has no `test` subcommand yet; smoke run skipped");
        return;
    }
    let have_sendmail = is_root() && have("sendmail") && have("unshare");
    let tmp = tempfile::Builder::new()
        .prefix("bt_speed")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    println!(
        "bt_speed: {n} lines per input, best wall of {runs} alternating runs each, in {}",
        tmp.path().display()
    );
    println!("cfmap: {cfmap}");
    if !have_engine {
        println!("  cfmap has no `test` subcommand yet: its columns show n/a");
    }
    if !have_sendmail {
        println!("  sendmail -bt needs root, sendmail and unshare: its columns show n/a");
    }

    let workloads: [(&str, &str, Vec<String>); 2] = [
        ("check_mail", "junk1", check_mail_lines(n)),
        ("3,0", "m4feat", three_zero_lines(n)),
    ];
    let mut rows = Vec::new();
    for (what, case, lines) in workloads {
        let dir = tmp.path().join(case);
        if !prepare(cfmap, case, &dir) {
            continue;
        }
        let input = dir.join("bench-input");
        let mut f = File::create(&input).unwrap();
        for l in &lines {
            writeln!(f, "{l}").unwrap();
        }
        drop(f);
        // The two take turns; each keeps its fastest run (the machine is shared).
        let (mut ours, mut real): (Option<Run>, Option<Run>) = (None, None);
        let ours_argv = cfmap_argv(cfmap);
        let ours_argv: Vec<&str> = ours_argv.iter().map(String::as_str).collect();
        let real_argv = sendmail_argv();
        let real_argv: Vec<&str> = real_argv.iter().map(String::as_str).collect();
        let (mut ours_buf, mut real_buf) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let buf = std::mem::take(&mut ours_buf);
            if have_engine && let Some(r) = run(&ours_argv, &dir, &input, buf) {
                ours = Some(faster(ours, r, &mut ours_buf));
            }
            let buf = std::mem::take(&mut real_buf);
            if have_sendmail && let Some(r) = run(&real_argv, &dir, &input, buf) {
                real = Some(faster(real, r, &mut real_buf));
            }
        }
        if let Some(r) = &mut ours {
            r.rss_kib = peak_rss(&ours_argv, &dir, &input);
        }
        if let Some(r) = &mut real {
            r.rss_kib = peak_rss(&real_argv, &dir, &input);
        }
        let diff = match (&ours, &real) {
            (Some(a), Some(b)) => {
                let d = differing_lines(&a.out, &b.out);
                let total = b.out.split(|&c| c == b'\n').count();
                format!("{d} of {total}")
            }
            _ => "n/a".into(),
        };
        let ratio = match (&ours, &real) {
            (Some(a), Some(b)) => format!("{:.2}", a.wall.as_secs_f64() / b.wall.as_secs_f64()),
            _ => "n/a".into(),
        };
        let (ow, ol, om) = fmt_run(&ours, n);
        let (rw, rl, rm) = fmt_run(&real, n);
        rows.push(format!(
            "| {what} ({case}, {n} lines) | {ow} | {ol} | {om} | {rw} | {rl} | {rm} | {ratio} | {diff} |"
        ));
    }
    println!();
    println!(
        "| input | cfmap test wall | cfmap lines/s | cfmap peak RSS | sendmail -bt wall | sendmail lines/s | sendmail peak RSS | cfmap/sendmail | differing output lines |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        println!("{r}");
    }
}
