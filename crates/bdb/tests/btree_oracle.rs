//! The btree writer and reader against the real tools (libdb 5.3 utilities, makemap,
//! sendmail). A missing tool skips a test with a note, except under `CI=true`.
//!
//! - writer: files must pass `db5.3_verify`, dump (`db5.3_dump -p`) exactly like a file
//!   `db5.3_load` made from the same pairs, and list (`makemap -u btree`) the same;
//! - reader: files real `makemap`/`db5.3_load` make from random input during the test
//!   (any page size, big-endian, duplicates) read back exactly as `db5.3_dump` prints them;
//! - sendmail: `sendmail -bt` `/map` lookups on a cfmap-built file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cfmap_bdb::btree::{Builder, Reader};

use cfmap_testkit::{need_root, need_tool, sendmail_bt};

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A directory below the target dir (not below world-writable /tmp, which sendmail
/// refuses for maps).
fn workdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Run a tool; panic with its stderr when it fails. Returns stdout.
fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.stdin(Stdio::null()).output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Small deterministic generator (xorshift64*), so failures are reproducible by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if c == b'\\' {
            s.push_str("\\\\");
        } else if (0x20..0x7f).contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\{c:02x}"));
        }
    }
    s
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b[i + 1] == b'\\' {
                out.push(b'\\');
                i += 2;
            } else {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `db5.3_load` input (`-p` format) for `pairs`.
fn load_input(pairs: &Pairs, page_size: u32) -> String {
    let mut s =
        format!("VERSION=3\nformat=print\ntype=btree\ndb_pagesize={page_size}\nHEADER=END\n");
    for (k, v) in pairs {
        s.push_str(&format!(" {}\n {}\n", escape(k), escape(v)));
    }
    s.push_str("DATA=END\n");
    s
}

/// The pairs of a `db5.3_dump -p` output.
fn parse_dump(dump: &[u8]) -> Pairs {
    let text = String::from_utf8(dump.to_vec()).unwrap();
    let items: Vec<Vec<u8>> = text
        .lines()
        .skip_while(|l| *l != "HEADER=END")
        .skip(1)
        .take_while(|l| *l != "DATA=END")
        .map(|l| unescape(l.strip_prefix(' ').unwrap()))
        .collect();
    items
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

fn dump(db: &Path) -> Vec<u8> {
    run(Command::new("db5.3_dump").arg("-p").arg(db))
}

fn verify(db: &Path) {
    run(Command::new("db5.3_verify").arg("-q").arg(db));
}

/// `makemap -u btree NAME` for NAME.db.
fn unmap(db: &Path) -> Vec<u8> {
    let name = db.with_extension("");
    run(Command::new("makemap").arg("-u").arg("btree").arg(name))
}

fn write_cfmap(path: &Path, pairs: &Pairs, page_size: u32) {
    let mut b = Builder::new().page_size(page_size);
    for (k, v) in pairs {
        b.insert(k, v);
    }
    assert_eq!(b.len(), pairs.len());
    let mut f = std::fs::File::create(path).unwrap();
    b.write_to(&mut f).unwrap();
}

/// Write `pairs` with cfmap and with db5.3_load; check verify, dump and makemap -u.
fn check_writer(dir: &Path, tag: &str, mut pairs: Pairs, page_size: u32) {
    pairs.sort();
    pairs.dedup_by(|a, b| a.0 == b.0);
    let ours = dir.join(format!("{tag}-cfmap.db"));
    let theirs = dir.join(format!("{tag}-libdb.db"));
    write_cfmap(&ours, &pairs, page_size);
    let input = dir.join(format!("{tag}.in"));
    std::fs::write(&input, load_input(&pairs, page_size)).unwrap();
    run(Command::new("db5.3_load")
        .arg("-f")
        .arg(&input)
        .arg(&theirs));
    verify(&ours);
    let (d1, d2) = (dump(&ours), dump(&theirs));
    assert!(d1 == d2, "{tag}: db5.3_dump -p differs");
    assert_eq!(parse_dump(&d1), pairs, "{tag}: dump is not the input");
    assert!(unmap(&ours) == unmap(&theirs), "{tag}: makemap -u differs");
    // Our reader agrees too.
    let r = Reader::open(&ours).unwrap();
    let back: Pairs = r.iter().collect::<Result<_, _>>().unwrap();
    assert!(back == pairs, "{tag}: reader differs");
    for (k, v) in pairs.iter().step_by(pairs.len() / 200 + 1) {
        assert_eq!(r.get(k).unwrap().as_ref(), Some(v));
    }
    for f in [ours, theirs, input] {
        std::fs::remove_file(f).unwrap();
    }
}

fn hostnames(rng: &mut Rng, n: usize) -> Pairs {
    (0..n)
        .map(|i| {
            let host = format!(
                "h{}{i}.{}.example",
                rng.below(1000),
                ["net", "com", "org"][i % 3]
            );
            let v = ["OK", "RELAY", "REJECT", "DISCARD"][rng.below(4)];
            (host.into_bytes(), v.as_bytes().to_vec())
        })
        .collect()
}

fn binary(rng: &mut Rng, n: usize) -> Pairs {
    let all: Vec<u8> = (0..=255).collect();
    (0..n)
        .map(|_| {
            let klen = rng.below(12);
            let vlen = if rng.below(5) == 0 { 0 } else { rng.below(40) };
            (
                rng.bytes(klen, &[0, 1, b'a', b'\\', 0xff, 0x80]),
                rng.bytes(vlen, &all),
            )
        })
        .collect()
}

/// Long items: values of 10 KB and more, keys over the overflow limit, long common
/// prefixes (separators that must go to overflow pages too).
fn big(rng: &mut Rng, n: usize, page_size: u32) -> Pairs {
    let limit = cfmap_bdb::btree::overflow_size(page_size);
    let prefix = rng.bytes(limit + 20, b"abc");
    (0..n)
        .map(|i| {
            let key = match i % 4 {
                0 => format!("k{i:05}").into_bytes(),
                1 => [prefix.clone(), format!("{i:05}").into_bytes()].concat(),
                2 => {
                    let n = limit + 1 + rng.below(3 * limit);
                    rng.bytes(n, b"xyz\0")
                }
                _ => {
                    let n = 1 + rng.below(limit);
                    rng.bytes(n, b"qrs")
                }
            };
            let vlen = match i % 3 {
                0 => 10_000 + rng.below(30_000),
                1 => limit + rng.below(3),
                _ => rng.below(limit + 2),
            };
            (key, rng.bytes(vlen, b"0123456789\0\xff"))
        })
        .collect()
}

#[test]
fn writer_matches_libdb() {
    if !need_tool("db5.3_load") || !need_tool("db5.3_verify") || !need_tool("db5.3_dump") {
        return;
    }
    let have_makemap = need_tool("makemap");
    let dir = workdir();
    let d = dir.path();
    let mut rng = Rng(0x5eed_0001);
    if !have_makemap {
        return;
    }
    check_writer(d, "empty", Vec::new(), 4096);
    check_writer(d, "one", vec![(b"k".to_vec(), b"v".to_vec())], 4096);
    check_writer(
        d,
        "emptykey",
        vec![(Vec::new(), Vec::new()), (b"\0".to_vec(), b"\0".to_vec())],
        4096,
    );
    for seed in 0..4 {
        rng.0 ^= seed;
        check_writer(
            d,
            &format!("hosts{seed}"),
            hostnames(&mut rng, 1000 + 3000 * seed as usize),
            4096,
        );
        check_writer(
            d,
            &format!("bin{seed}"),
            binary(&mut rng, 500 + 1500 * seed as usize),
            4096,
        );
    }
    check_writer(d, "hosts-100k", hostnames(&mut rng, 100_000), 4096);
    for ps in [512, 1024, 4096, 8192, 32768] {
        check_writer(d, &format!("big-p{ps}"), big(&mut rng, 60, ps), ps);
        check_writer(d, &format!("hosts-p{ps}"), hostnames(&mut rng, 3000), ps);
    }
    // Keys with a long common prefix: every separator goes to overflow pages.
    for ps in [512, 4096] {
        let prefix = vec![b'p'; 1100];
        let pairs: Pairs = (0..500)
            .map(|i| {
                (
                    [prefix.clone(), format!("{i:04}").into_bytes()].concat(),
                    vec![b'v'; 100],
                )
            })
            .collect();
        check_writer(d, &format!("longprefix-p{ps}"), pairs, ps);
    }
    // Three and more levels with small pages.
    check_writer(d, "deep-p512", binary(&mut rng, 20_000), 512);
}

/// Real makemap builds a map from random text; our reader must list it as db5.3_dump does.
#[test]
fn reader_matches_real_makemap() {
    if !need_tool("makemap") || !need_tool("db5.3_dump") || !need_tool("db5.3_load") {
        return;
    }
    let dir = workdir();
    let d = dir.path();
    let mut rng = Rng(0x5eed_0002);
    let check = |db: &Path| {
        let expect = parse_dump(&dump(db));
        let r = Reader::open(db).unwrap();
        let got: Pairs = r.iter().collect::<Result<_, _>>().unwrap();
        assert!(
            got == expect,
            "{}: reader differs from db5.3_dump",
            db.display()
        );
        let mut i = 0;
        while i < expect.len() {
            assert_eq!(r.get(&expect[i].0).unwrap().as_ref(), Some(&expect[i].1));
            i += 1;
            while i < expect.len() && expect[i].0 == expect[i - 1].0 {
                i += 1;
            }
        }
        expect.len()
    };
    for (round, n) in [10usize, 2000, 20_000].into_iter().enumerate() {
        let mut text = Vec::new();
        for i in 0..n {
            // Every 97th line has a 1009-byte value (overflow page); lines stay within
            // makemap's 1022 bytes.
            let klen = if i % 97 == 0 { 1 } else { 1 + rng.below(30) };
            let mut key = rng.bytes(klen, b"abcdefghijklmnopqrstuvwxyz0123456789.@-\x80\xe9");
            key.extend_from_slice(format!("{i}").as_bytes());
            let vlen = if i % 97 == 0 { 1008 } else { rng.below(50) };
            let val = rng.bytes(vlen, b"abcdefgh IJK:;\x80");
            text.extend_from_slice(&key);
            text.extend_from_slice(b" v");
            text.extend_from_slice(&val);
            text.push(b'\n');
        }
        let input = d.join(format!("m{round}.txt"));
        std::fs::write(&input, &text).unwrap();
        let name = d.join(format!("m{round}"));
        let f = std::fs::File::open(&input).unwrap();
        let out = Command::new("makemap")
            .arg("btree")
            .arg(&name)
            .stdin(f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let db = name.with_extension("db");
        assert_eq!(check(&db), n);

        // The same pairs with other page sizes and big-endian, through db5.3_load.
        let lines = String::from_utf8(dump(&db)).unwrap();
        for opts in [
            "db_pagesize=512",
            "db_pagesize=65536",
            "db_lorder=4321",
            "db_lorder=4321",
        ] {
            let other = d.join(format!("m{round}-{}.db", opts.replace('=', "")));
            let mut child = Command::new("db5.3_load")
                .args(["-c", opts])
                .arg(&other)
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(lines.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success());
            assert_eq!(check(&other), n);
            if opts == "db_lorder=4321" {
                let r = Reader::open(&other).unwrap();
                assert_eq!(r.byte_order(), cfmap_bdb::page::ByteOrder::Big);
            }
        }
    }
    // Duplicates (-d): all pairs in order; get returns the first.
    let name = d.join("dups");
    let mut child = Command::new("makemap")
        .args(["-d", "btree"])
        .arg(&name)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut s = child.stdin.take().unwrap();
        for i in 0..300 {
            writeln!(s, "k{} v{i}", i % 7).unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
    let db = name.with_extension("db");
    assert_eq!(check(&db), 300);
    assert_eq!(
        Reader::open(&db).unwrap().get(b"k3").unwrap(),
        Some(b"v3".to_vec())
    );
}

/// Real sendmail answers `/map` lookups from a map cfmap wrote.
#[test]
fn sendmail_reads_cfmap_btree() {
    if !need_tool("sendmail") || !need_tool("unshare") || !need_root() {
        return;
    }
    let dir = workdir();
    let d = dir.path();
    let mut pairs: Pairs = Vec::new();
    for i in 0..3000 {
        pairs.push((
            format!("host{i:04}.example.net").into_bytes(),
            format!("RELAY{i}").into_bytes(),
        ));
    }
    pairs.push((b"long.example".to_vec(), vec![b'L'; 1500]));
    pairs.push((b"spam@junk.example".to_vec(), b"REJECT".to_vec()));
    let map: PathBuf = d.join("access");
    write_cfmap(&map.with_extension("db"), &pairs, 4096);
    let cf = format!(
        "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\n\
         Kaccess btree {}\n\
         S3\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\nS0\nR$*\t$#local $: $1\n\
         Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n",
        map.display()
    );
    std::fs::write(d.join("test.cf"), cf).unwrap();
    let keys = [
        "host0000.example.net",
        "host1234.example.net",
        "host2999.example.net",
        "long.example",
        "spam@junk.example",
        "nothere.example",
        "HOST0042.EXAMPLE.NET",
    ];
    let input: String = keys.iter().map(|k| format!("/map access {k}\n")).collect();
    let out = sendmail_bt(d, "test.cf", &input);
    let long = "L".repeat(1500);
    for (k, v) in [
        ("host0000.example.net", "RELAY0"),
        ("host1234.example.net", "RELAY1234"),
        ("host2999.example.net", "RELAY2999"),
        ("long.example", long.as_str()),
        ("spam@junk.example", "REJECT"),
        // sendmail folds the key to lower case before the lookup.
        ("HOST0042.EXAMPLE.NET", "RELAY42"),
    ] {
        let line = format!("map_lookup: access ({k}) returns {v} (0)");
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.contains("map_lookup: access (nothere.example) no match (0)"),
        "{out}"
    );
}
