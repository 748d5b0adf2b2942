//! `cfmap query` against the lookups the real tools offer, on btree and hash maps:
//!
//! * **batch**: `cfmap query TYPE NAME -` with every key of a lookup list on stdin,
//!   against `makemap -u TYPE NAME` (makemap's only way to read many entries: a dump of
//!   the whole map);
//! * **single**: one process per lookup, `cfmap query TYPE NAME KEY` against Postfix's
//!   `postmap -q KEY TYPE:NAME` (Postfix unpacked as `.ci/run` does it, in
//!   `$CFMAP_POSTFIX`, default /opt/cfmap-postfix), which reads the same files.
//!
//! `cargo bench --bench query_speed` uses 1,000,000 pairs (`QUERY_SPEED_PAIRS=N` for
//! another size) and 200 single lookups; run as a test (`cargo test --all-targets`) it
//! does a smoke run on 10,000 pairs and 10 single lookups. A missing tool shows as n/a.
//! The counts are checked: every batch finds exactly the present keys, every single
//! lookup answers `OK` for a present key and nothing for an absent one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn generate(n: usize, src: &Path, keys: &Path) {
    // A fixed pseudo-random order (xorshift), every key once.
    let mut order: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut s = Vec::with_capacity(n * 28);
    for &k in &order {
        writeln!(s, "host{k:08}.example.net OK").unwrap();
    }
    fs::write(src, s).unwrap();
    // Half present (even numbers), half absent (numbers past n).
    let mut k = Vec::with_capacity(n * 24);
    for (i, &o) in order.iter().enumerate() {
        let id = if i % 2 == 0 { o } else { n + i };
        writeln!(k, "host{id:08}.example.net").unwrap();
    }
    fs::write(keys, k).unwrap();
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run `cmd` with stdin from `input` (or nothing); returns (wall time, stdout lines).
fn run(cmd: &mut Command, input: Option<&Path>) -> Option<(Duration, usize)> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    cmd.stdin(match input {
        Some(p) => Stdio::from(fs::File::open(p).ok()?),
        None => Stdio::null(),
    });
    let t = Instant::now();
    let out = cmd.output().ok()?;
    let d = t.elapsed();
    Some((
        d,
        out.stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
    ))
}

fn postfix_config(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let pf = PathBuf::from(
        std::env::var("CFMAP_POSTFIX").unwrap_or_else(|_| "/opt/cfmap-postfix".into()),
    );
    let postmap = pf.join("usr/sbin/postmap");
    if !postmap.exists() {
        return None;
    }
    let cfg = dir.join("postfix");
    fs::create_dir_all(&cfg).ok()?;
    // postmap only needs a main.cf it accepts: unprivileged, distinct owner and group.
    fs::write(
        cfg.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nshlib_directory = {0}/usr/lib/postfix\n\
             meta_directory = {0}/etc/postfix\nmail_owner = daemon\nsetgid_group = sys\n",
            pf.display()
        ),
    )
    .ok()?;
    Some((postmap, cfg))
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("QUERY_SPEED_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 1_000_000 } else { 10_000 });
    let singles = if bench { 200 } else { 10 };
    let cfmap = env!("CARGO_BIN_EXE_cfmap");
    // Below target/, not /tmp: makemap warns about world-writable directories.
    let tmp = tempfile::Builder::new()
        .prefix("query_speed")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let dir = tmp.path();
    let (src, keys) = (dir.join("src"), dir.join("keys"));
    generate(n, &src, &keys);
    let key_list: Vec<String> = fs::read_to_string(&keys)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let present = n.div_ceil(2);
    let postfix = postfix_config(dir);
    let makemap = have("makemap");
    println!(
        "query_speed: {n} pairs, {} keys ({present} present), {singles} single lookups",
        key_list.len()
    );

    let mut failures = Vec::new();
    let mut out = String::new();
    out.push_str("\n| map | cfmap query - (batch) | makemap -u (dump) | batch ratio | cfmap query KEY (per call) | postmap -q KEY (per call) | single ratio |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for ty in ["btree", "hash"] {
        let name = dir.join(format!("m-{ty}"));
        let name_s = name.to_str().unwrap();
        let built = Command::new(cfmap)
            .args(["makemap", ty, name_s])
            .stdin(fs::File::open(&src).unwrap())
            .status()
            .unwrap();
        assert!(built.success(), "cfmap makemap {ty}");

        let (batch, found) = run(
            Command::new(cfmap).args(["query", ty, name_s, "-"]),
            Some(&keys),
        )
        .unwrap();
        if found != present {
            failures.push(format!(
                "cfmap query {ty} -: found {found}, expected {present}"
            ));
        }
        let dump = makemap
            .then(|| run(Command::new("makemap").args(["-u", ty, name_s]), None))
            .flatten();
        if let Some((_, lines)) = dump
            && lines != n
        {
            failures.push(format!("makemap -u {ty}: {lines} lines, expected {n}"));
        }

        let mut single = Duration::ZERO;
        let mut single_pf = Some(Duration::ZERO);
        for (i, key) in key_list.iter().take(singles).enumerate() {
            let want = if i % 2 == 0 { 1 } else { 0 };
            let (d, lines) =
                run(Command::new(cfmap).args(["query", ty, name_s, key]), None).unwrap();
            single += d;
            if lines != want {
                failures.push(format!("cfmap query {ty} {key}: {lines} lines"));
            }
            if let (Some((postmap, cfg)), Some(acc)) = (&postfix, single_pf.as_mut()) {
                let pf_lib = postmap
                    .parent()
                    .unwrap()
                    .parent()
                    .unwrap()
                    .join("lib/postfix");
                match run(
                    Command::new(postmap).env("LD_LIBRARY_PATH", pf_lib).args([
                        "-c",
                        cfg.to_str().unwrap(),
                        "-q",
                        key,
                        &format!("{ty}:{name_s}"),
                    ]),
                    None,
                ) {
                    Some((d, lines)) => {
                        *acc += d;
                        if lines != want {
                            failures.push(format!("postmap -q {key} {ty}: {lines} lines"));
                        }
                    }
                    None => single_pf = None,
                }
            }
        }
        if postfix.is_none() {
            single_pf = None;
        }
        let per = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3 / singles as f64);
        let secs = |d: Duration| format!("{:.3} s", d.as_secs_f64());
        let ratio = |a: Duration, b: Duration| format!("{:.2}", a.as_secs_f64() / b.as_secs_f64());
        out.push_str(&format!(
            "| {ty} | {} | {} | {} | {} | {} | {} |\n",
            secs(batch),
            dump.map_or("n/a".into(), |(d, _)| secs(d)),
            dump.map_or("n/a".into(), |(d, _)| ratio(batch, d)),
            per(single),
            single_pf.map_or("n/a".into(), per),
            single_pf.map_or("n/a".into(), |p| ratio(single, p)),
        ));
    }
    print!("{out}");
    assert!(
        failures.is_empty(),
        "wrong answers:\n  {}",
        failures.join("\n  ")
    );
}
