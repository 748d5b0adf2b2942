//! How fast `cfmap convert` gets a map off Berkeley DB, next to the only route there is
//! without it: `makemap -u hash` piped into another tool.
//!
//! `cargo bench --bench convert_speed` writes 1,000,000 `key value` lines
//! (`host00123456.example.net OK 123456`, keys in a fixed random order), builds
//! `src.db` from them with real `makemap hash` (not timed), then times, best of 3 runs
//! each (wall clock, and the CPU time, user + system, of that run's child processes,
//! from `getrusage(RUSAGE_CHILDREN)`):
//!
//! * `cfmap convert hash:src cdb:out` and `cfmap convert hash:src dbm:out` (the release
//!   binary);
//! * `makemap -u hash src | cdb -c -m pipe.cdb` (tinycdb) and `makemap -u hash src |
//!   perl` storing every line in an `SDBM_File` (the pipes);
//! * `cdb -c -m text.cdb < src.txt`: tinycdb building the same pairs from a text file.
//!
//! Every result's pair count is checked with cfmap's readers. `CONVERT_SPEED_PAIRS=N`
//! changes the size. Run without `--bench` (as `cargo test --all-targets` does) it does a
//! smoke run on 10,000 pairs. A missing tool shows as n/a.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cfmap::maps::{self, MapType};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// CPU time (user + system) of every waited-for child process so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass and reads nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Wall and CPU time of one run.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

/// The run with the best wall time of `runs` runs of `sh -c cmd` in `dir`; panics if it
/// fails.
fn time(dir: &Path, cmd: &str, runs: usize) -> Timing {
    let mut best = Timing {
        wall: Duration::MAX,
        cpu: Duration::ZERO,
    };
    for _ in 0..runs {
        let cpu = children_cpu();
        let t = Instant::now();
        let out = Command::new("sh")
            .current_dir(dir)
            .args(["-c", cmd])
            .output()
            .expect("run");
        let wall = t.elapsed();
        let cpu = children_cpu() - cpu;
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if wall < best.wall {
            best = Timing { wall, cpu };
        }
    }
    best
}

fn count(ty: MapType, name: &Path) -> usize {
    let map = maps::open(ty, name).expect("open result");
    let mut n = 0;
    for r in map.iter() {
        r.expect("read result");
        n += 1;
    }
    n
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("CONVERT_SPEED_PAIRS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench { 1_000_000 } else { 10_000 });
    let runs = if bench { 3 } else { 1 };
    if !have("makemap") && !Path::new("/usr/sbin/makemap").exists() {
        println!("convert_speed: makemap not found; nothing to measure");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("cfmap-convert-speed-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let dir = tmp.as_path();

    let mut ids: Vec<usize> = (0..n).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in (1..ids.len()).rev() {
        ids.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let mut w = BufWriter::new(File::create(dir.join("src.txt")).unwrap());
    for &i in &ids {
        writeln!(w, "host{i:08}.example.net OK {i}").unwrap();
    }
    w.into_inner().unwrap().sync_all().unwrap();
    let made = time(dir, "/usr/sbin/makemap hash src < src.txt", 1).wall;
    assert_eq!(count(MapType::Hash, &dir.join("src")), n);

    let bin = env!("CARGO_BIN_EXE_cfmap");
    let mut rows: Vec<(String, Option<Timing>)> = Vec::new();
    let cfmap_cdb = time(dir, &format!("{bin} convert hash:src cdb:out"), runs);
    assert_eq!(count(MapType::Cdb, &dir.join("out")), n);
    rows.push(("cfmap convert hash:src cdb:out".into(), Some(cfmap_cdb)));
    let cfmap_dbm = time(dir, &format!("{bin} convert hash:src dbm:out"), runs);
    assert_eq!(count(MapType::Dbm, &dir.join("out")), n);
    rows.push(("cfmap convert hash:src dbm:out".into(), Some(cfmap_dbm)));

    let tinycdb = have("cdb");
    let pipe_cdb = tinycdb.then(|| {
        let d = time(
            dir,
            "/usr/sbin/makemap -u hash src | cdb -c -m pipe.cdb",
            runs,
        );
        assert_eq!(count(MapType::Cdb, &dir.join("pipe")), n);
        d
    });
    rows.push(("makemap -u hash src | cdb -c -m".into(), pipe_cdb));
    let perl = have("perl");
    let pipe_dbm = perl.then(|| {
        let d = time(
            dir,
            "rm -f pipe.dir pipe.pag; /usr/sbin/makemap -u hash src | perl -MFcntl -MSDBM_File -e \
             'tie(my %h, q(SDBM_File), q(pipe), O_RDWR|O_CREAT, 0644) or die; \
              while (<STDIN>) { chomp; my ($k, $v) = split /\\t/, $_, 2; $h{$k} = $v }'",
            runs,
        );
        assert_eq!(count(MapType::Dbm, &dir.join("pipe")), n);
        d
    });
    rows.push(("makemap -u hash src | perl SDBM_File".into(), pipe_dbm));
    let text_cdb = tinycdb.then(|| {
        let d = time(dir, "cdb -c -m text.cdb < src.txt", runs);
        assert_eq!(count(MapType::Cdb, &dir.join("text")), n);
        d
    });
    rows.push(("cdb -c -m text.cdb < src.txt (from text)".into(), text_cdb));

    println!(
        "convert_speed: {n} pairs, src.db {} bytes (makemap hash: {:.2} s), best of {runs}",
        std::fs::metadata(dir.join("src.db")).unwrap().len(),
        made.as_secs_f64()
    );
    println!("  {:<48} {:>8}  {:>8}", "", "wall", "CPU");
    for (what, d) in &rows {
        match d {
            Some(d) => println!(
                "  {what:<48} {:>8.3} s {:>6.2} s",
                d.wall.as_secs_f64(),
                d.cpu.as_secs_f64()
            ),
            None => println!("  {what:<48} {:>8}", "n/a"),
        }
    }
    let ratio = |a: Option<Timing>, b: Timing| {
        a.map_or("n/a".to_string(), |a| {
            format!(
                "{:.1}x (CPU {:.1}x)",
                a.wall.as_secs_f64() / b.wall.as_secs_f64(),
                a.cpu.as_secs_f64() / b.cpu.as_secs_f64()
            )
        })
    };
    println!(
        "  pipe / cfmap: cdb {}, dbm {}; cfmap cdb / tinycdb from text: {}",
        ratio(pipe_cdb, cfmap_cdb),
        ratio(pipe_dbm, cfmap_dbm),
        text_cdb.map_or("n/a".into(), |t| format!(
            "{:.2}x (CPU {:.2}x)",
            cfmap_cdb.wall.as_secs_f64() / t.wall.as_secs_f64(),
            cfmap_cdb.cpu.as_secs_f64() / t.cpu.as_secs_f64()
        ))
    );
    let _ = std::fs::remove_dir_all(dir);
}
