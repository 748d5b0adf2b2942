//! cfmap started as `makemap` against the real makemap, live, on random sources and
//! random option sets: same stdout, stderr and exit status, and the same `makemap -u`
//! dump (read by the real makemap) of the two maps. Needs the real makemap (sendmail-bin);
//! missing, the test is skipped, or fails under `CI=true`.
//!
//! `CFMAP_ORACLE_SEED` and `CFMAP_ORACLE_ROUNDS` replay or extend the run.
//!
//! Hash maps are compared in order: cfmap lays a hash file out as libdb does (buckets,
//! chains, the order of the pairs on each page), so `makemap -u` lists both maps alike.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn real_makemap() -> Option<PathBuf> {
    for p in ["/usr/sbin/makemap", "/usr/bin/makemap"] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    // Not installed: need_tool skips (or panics under CI=true).
    support::need_tool("/usr/sbin/makemap");
    None
}

fn run(prog: &Path, dir: &Path, args: &[&str], stdin: &[u8]) -> (Vec<u8>, Vec<u8>, i32) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(prog)
        .arg0("makemap")
        .current_dir(dir)
        .env("LC_ALL", "C")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run makemap");
    let mut i = child.stdin.take().unwrap();
    let _ = i.write_all(stdin);
    drop(i);
    let out = child.wait_with_output().unwrap();
    (out.stdout, out.stderr, out.status.code().unwrap_or(-1))
}

/// xorshift64*: a small deterministic generator, so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A source with the bytes makemap's rules care about: blanks, separators, comments,
/// case, CR, high bytes, the odd NUL, repeated keys and lines near the 1024-byte limit.
fn source(rng: &mut Rng) -> Vec<u8> {
    const KEYS: &[&[u8]] = &[
        b"a",
        b"A",
        b"b.example",
        b"B.Example",
        b"x@y",
        b"k:k",
        b"#k",
    ];
    let mut s = Vec::new();
    let lines = rng.below(25);
    for _ in 0..lines {
        match rng.below(20) {
            0 => {}
            1 => s.extend(b"# comment"),
            2 => s.extend(b"% other comment"),
            3 => s.push(b' '),
            4 => {
                let n = 1015 + rng.below(15) as usize;
                s.extend(b"long ");
                s.extend(std::iter::repeat_n(b'v', n));
            }
            _ => {
                if rng.chance(40) {
                    s.extend(KEYS[rng.below(KEYS.len() as u64) as usize]);
                } else {
                    for _ in 0..1 + rng.below(8) {
                        s.push(b"abcXYZ09@.-_"[rng.below(12) as usize]);
                    }
                }
                for _ in 0..rng.below(3) {
                    s.push(b" \t:\x0b"[rng.below(4) as usize]);
                }
                for _ in 0..rng.below(12) {
                    let b = match rng.below(30) {
                        0 => 0,
                        1 => b'\r',
                        2 => 0xe9,
                        3 => b':',
                        4 => b'\t',
                        5 => b' ',
                        _ => b"valueVALUE123"[rng.below(13) as usize],
                    };
                    s.push(b);
                }
            }
        }
        if !rng.chance(3) {
            s.push(b'\n');
        }
    }
    s
}

fn options(rng: &mut Rng) -> Vec<&'static str> {
    let mut o = Vec::new();
    for (flag, p) in [
        ("-N", 20),
        ("-f", 25),
        ("-e", 25),
        ("-r", 20),
        ("-d", 15),
        ("-v", 15),
        ("-t:", 20),
        ("-D%", 15),
    ] {
        if rng.chance(p) {
            o.push(flag);
        }
    }
    o
}

#[test]
fn random_sources_match_the_real_makemap() {
    let Some(real) = real_makemap() else {
        return;
    };
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
        .unwrap_or(false);
    if root && !Path::new("/etc/mail/sendmail.cf").exists() {
        eprintln!("note: root without /etc/mail/sendmail.cf; skipping");
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    let ours = bin.path().join("makemap");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfmap"), &ours).unwrap();
    let seed = std::env::var("CFMAP_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_u64);
    let rounds = std::env::var("CFMAP_ORACLE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(80);
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let src = source(&mut rng);
        let mut args = options(&mut rng);
        let ty = if rng.chance(50) { "btree" } else { "hash" };
        args.push(ty);
        args.push("m");
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let want = run(&real, a.path(), &args, &src);
        let got = run(&ours, b.path(), &args, &src);
        let ctx = || {
            format!(
                "round {round} (seed {seed:#x}): makemap {args:?} < {:?}",
                String::from_utf8_lossy(&src)
            )
        };
        assert_eq!(got.2, want.2, "exit status: {}", ctx());
        assert_eq!(
            String::from_utf8_lossy(&got.1),
            String::from_utf8_lossy(&want.1),
            "stderr: {}",
            ctx()
        );
        assert_eq!(got.0, want.0, "stdout: {}", ctx());
        // Both maps read back by the real makemap.
        let mut dump_args = vec!["-u"];
        if args.contains(&"-t:") {
            dump_args.push("-t:");
        }
        dump_args.extend([ty, "m"]);
        let dw = run(&real, a.path(), &dump_args, b"");
        let dg = run(&real, b.path(), &dump_args, b"");
        let lines = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert_eq!(lines(&dg.0), lines(&dw.0), "dump: {}", ctx());
        assert_eq!((dg.2, dw.2), (0, 0), "dump status: {}", ctx());
    }
}
