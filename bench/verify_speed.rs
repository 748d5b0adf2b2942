//! How fast `cfmap serve` answers socket map lookups, next to a Perl `SDBM_File` loop on
//! the same cache file.
//!
//! `cargo bench --bench verify_speed` builds, in a temporary directory, a verification
//! cache of 10,000 recipients (fresh stamps; an sdbm pair as Perl's SDBM_File writes it)
//! and the same 10,000 keys as a hash, a cdb and a dbm map, starts the server in process
//! on 127.0.0.1 (the verification route points at a closed port: every lookup must be a
//! cache hit, and one that is not shows as a wrong answer and fails the run), then:
//!
//! * for each map (`vrc` cache hits, `hash`, `cdb`, `dbm`): 16 client threads, each on
//!   its own connection, send 20,000 netstring requests one after another (keys in a
//!   fixed random order) and time each request-to-reply round trip. Printed: total
//!   lookups per second (all lookups / wall time) and latency percentiles over all of
//!   them.
//! * the reference: 16 Perl processes at once, each looking the same keys up in the
//!   cache file with `SDBM_File`, the way a MIMEDefang filter shares it: shared `flock`
//!   on NAME.pag, `tie`, fetch, `untie`, unlock for every lookup; and one Perl process
//!   with the file tied once (no lock: the fastest Perl can read it). Each Perl loop
//!   times its own lookups with Time::HiRes.
//!
//! `VERIFY_SPEED_LOOKUPS=N` changes the lookups per client. Run without `--bench` (as
//! `cargo test --all-targets` does) it makes a smoke run of 300 lookups per client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use cfmap::maps::{self, MapType};
use cfmap::serve::{Config, Control, Listen, MapSpec, Server};
use cfmap::verify::{Settings, route::RouteSpec, smtp::Client};
use cfmap_sdbm::{Sdbm, StoreMode};

const CLIENTS: usize = 16;
const KEYS: usize = 10_000;

static CONTROL: Control = Control {
    shutdown: AtomicBool::new(false),
    reload: AtomicU64::new(0),
};

/// A fixed-seed xorshift64, so every run uses the same key order.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn key(i: usize) -> String {
    format!("user{i:05}@example.com")
}

fn ask(s: &mut TcpStream, req: &[u8], reply: &mut Vec<u8>) {
    let mut msg = format!("{}:", req.len()).into_bytes();
    msg.extend_from_slice(req);
    msg.push(b',');
    s.write_all(&msg).unwrap();
    reply.clear();
    let mut len = 0usize;
    let mut b = [0u8; 1];
    loop {
        s.read_exact(&mut b).unwrap();
        if b[0] == b':' {
            break;
        }
        len = len * 10 + usize::from(b[0] - b'0');
    }
    reply.resize(len + 1, 0);
    s.read_exact(reply).unwrap();
    reply.pop();
}

struct Stats {
    rate: f64,
    /// Sorted latencies in nanoseconds.
    lat: Vec<u64>,
}

impl Stats {
    fn pct(&self, p: f64) -> f64 {
        let i = ((self.lat.len() as f64 - 1.0) * p).round() as usize;
        self.lat[i] as f64 / 1000.0
    }

    fn row(&self, what: &str) {
        println!(
            "| {what} | {:>9.0} | {:>7.1} | {:>7.1} | {:>7.1} | {:>7.1} | {:>8.1} |",
            self.rate,
            self.pct(0.5),
            self.pct(0.9),
            self.pct(0.99),
            self.pct(0.999),
            self.lat.last().copied().unwrap_or(0) as f64 / 1000.0
        );
    }
}

fn clients(port: u16, map: &str, per_client: usize, want: &str) -> Stats {
    let start = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let map = map.to_string();
            let want = want.as_bytes().to_vec();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_nodelay(true).unwrap();
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
                let mut lat = Vec::with_capacity(per_client);
                let mut reply = Vec::new();
                for _ in 0..per_client {
                    let k = key(rng.next() as usize % KEYS);
                    let req = format!("{map} {k}");
                    let t0 = Instant::now();
                    ask(&mut s, req.as_bytes(), &mut reply);
                    lat.push(t0.elapsed().as_nanos() as u64);
                    assert_eq!(
                        reply,
                        want,
                        "{map} {k}: {}",
                        String::from_utf8_lossy(&reply)
                    );
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let wall = start.elapsed();
    lat.sort_unstable();
    Stats {
        rate: lat.len() as f64 / wall.as_secs_f64(),
        lat,
    }
}

const PERL_LOOP: &str = r#"
use strict; use Fcntl qw(:DEFAULT :flock); use SDBM_File; use Time::HiRes qw(time);
my ($name, $n, $seed, $locked) = @ARGV;
my @keys = map { sprintf("user%05d\@example.com", $_) } 0 .. 9999;
srand($seed + 1); my @order;
push @order, $keys[int(rand(10000))] for 1 .. $n;
my (@lat, %db);
tie(%db, 'SDBM_File', $name, O_RDONLY, 0) or die "tie: $!" unless $locked;
my $t = time;
for my $k (@order) {
    my $t0 = time;
    my $v;
    if ($locked) {
        open(my $lock, '<', "$name.pag") or die; flock($lock, LOCK_SH) or die;
        tie(my %h, 'SDBM_File', $name, O_RDONLY, 0) or die "tie: $!";
        $v = $h{$k}; untie %h; close $lock;
    } else { $v = $db{$k}; }
    defined $v or die "missing $k";
    push @lat, int((time - $t0) * 1e9);
}
printf "%.6f\n", time - $t;
print join("\n", @lat), "\n";
"#;

/// Runs `procs` Perl loops at once; lookups/s = all lookups / the slowest loop's time.
fn perl(dir: &Path, procs: usize, per_proc: usize, locked: bool) -> Option<Stats> {
    let children: Vec<_> = (0..procs)
        .map(|p| {
            Command::new("perl")
                .current_dir(dir)
                .args([
                    "-e",
                    PERL_LOOP,
                    "rcpt",
                    &per_proc.to_string(),
                    &p.to_string(),
                ])
                .arg(if locked { "1" } else { "0" })
                .stdout(Stdio::piped())
                .spawn()
                .ok()
        })
        .collect::<Option<_>>()?;
    let mut slowest = 0f64;
    let mut lat = Vec::new();
    for c in children {
        let out = c.wait_with_output().ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?;
        let mut lines = text.lines();
        slowest = slowest.max(lines.next()?.parse().ok()?);
        lat.extend(lines.filter_map(|l| l.parse::<u64>().ok()));
    }
    lat.sort_unstable();
    Some(Stats {
        rate: lat.len() as f64 / slowest,
        lat,
    })
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let per_client: usize = std::env::var("VERIFY_SPEED_LOOKUPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 20_000 } else { 300 });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // The cache, laid out as Perl's stores would (in memory, then written once).
    let now = cfmap::verify::now().to_string();
    let mut db = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
    for i in 0..KEYS {
        db.store(key(i).as_bytes(), now.as_bytes(), StoreMode::Replace)
            .unwrap();
    }
    db.write_files(&dir.join("rcpt.dir"), &dir.join("rcpt.pag"))
        .unwrap();
    for ty in [MapType::Hash, MapType::Cdb, MapType::Dbm] {
        let mut b = maps::builder(ty, &dir.join(format!("m_{ty}"))).unwrap();
        for i in 0..KEYS {
            b.insert(key(i).as_bytes(), b"RELAY").unwrap();
        }
        b.commit().unwrap();
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut map_specs = vec![(
        "vrc".to_string(),
        MapSpec::Verify(Box::new(Settings {
            cache: Some(dir.join("rcpt")),
            max_age: cfmap::verify::DEFAULT_MAX_AGE,
            route: RouteSpec::Server {
                host: "127.0.0.1".into(),
                port: dead_port,
            },
            client: Client {
                helo: "bench.test".into(),
                sender: String::new(),
                timeout: Duration::from_secs(1),
            },
        })),
    )];
    for ty in [MapType::Hash, MapType::Cdb, MapType::Dbm] {
        map_specs.push((
            ty.name().to_string(),
            MapSpec::File {
                ty,
                path: dir.join(format!("m_{ty}")),
            },
        ));
    }
    let server = Server::bind(Config {
        listen: Listen::Inet("127.0.0.1:0".parse().unwrap()),
        maps: map_specs,
        max_request: 4096,
        idle_timeout: Duration::from_secs(300),
        request_timeout: Duration::from_secs(10),
        max_clients: 64,
        allow_remote: false,
    })
    .unwrap();
    let port = server.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || server.run(&CONTROL));

    println!(
        "verify_speed: {CLIENTS} concurrent clients x {per_client} lookups, {KEYS} keys; \
         latency in microseconds"
    );
    println!("| what | lookups/s | p50 | p90 | p99 | p99.9 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    clients(port, "vrc", per_client, "OK OK").row("cfmap serve, verify (cache hit)");
    clients(port, "hash", per_client, "OK RELAY").row("cfmap serve, hash map");
    clients(port, "cdb", per_client, "OK RELAY").row("cfmap serve, cdb map");
    clients(port, "dbm", per_client, "OK RELAY").row("cfmap serve, dbm map");
    CONTROL
        .shutdown
        .store(true, std::sync::atomic::Ordering::SeqCst);
    handle.join().unwrap().unwrap();

    match perl(dir, CLIENTS, per_client, true) {
        Some(s) => s.row("Perl SDBM_File, 16 processes, flock+tie per lookup"),
        None => println!("| Perl SDBM_File, 16 processes, flock+tie per lookup | n/a |"),
    }
    match perl(dir, 1, per_client * 4, false) {
        Some(s) => s.row("Perl SDBM_File, 1 process, tied once, no lock"),
        None => println!("| Perl SDBM_File, 1 process, tied once | n/a |"),
    }
}
