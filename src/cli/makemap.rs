//! `cfmap makemap [options] TYPE NAME < source`, and the binary started as `makemap`: a
//! drop-in for sendmail 8.17's makemap (formats.md §3).
//!
//! Input rules and option parsing are in [`crate::makemap`]; this file does the files:
//! makemap's safety checks, `-o`, `-u`, `-l`, duplicates, the build and the atomic commit.
//!
//! **Messages.** Started as `makemap` (argv[0]'s file name), every message is
//! byte-for-byte real makemap's, with its program name (`makemap: m: line 2: key k1:
//! duplicate key`, `makemap: error opening type hash map m: Symbolic links not allowed`,
//! getopt's `makemap: invalid option -- 'q'` and the usage text). As `cfmap makemap` the
//! same texts are printed with the prefix `cfmap:` instead of `makemap:`, as every cfmap
//! subcommand prefixes its messages; usage errors are clap's.
//!
//! **Exit status** (sysexits, as makemap): 0; 64 bad usage; 65 rejected lines (the
//! others are in the map); 66 the sendmail .cf cannot be read (as root); 73 the map
//! cannot be opened or created (unknown type, missing or unwritable directory, symbolic
//! or hard link without `-s`, `-o`/`-u` on a missing map); 74 an I/O error while writing.
//!
//! **Differences from makemap, on purpose.**
//! - Types `dbm` (sdbm `NAME.dir`/`NAME.pag`) and `cdb` (`NAME.cdb`) work (Debian's
//!   makemap says "Need to recompile"); `-l` lists them as a makemap built with NDBM,
//!   NEWDB and CDB does.
//! - The map is built beside the old one and renamed into place (makemap truncates and
//!   rewrites in place); on any error the old map is untouched and no temporary file is
//!   left. The swap is done under an exclusive `flock` on the old file, the lock sendmail
//!   takes (shared) for each lookup. With `-s`, a symbolic link is followed and its target
//!   replaced; a file with other hard links is replaced under the name given (the other
//!   names keep the old map — makemap would have rewritten the shared inode).
//! - `-d` keeps every record of a repeated key, in input order: `btree` and `hash` files
//!   are libdb `DB_DUP` databases as makemap's (on-page or off-page duplicate sets),
//!   `cdb` keeps both records; `dbm` (sdbm) cannot store a repeated key, so a repeated key
//!   under `-d` is an error there (exit 73, map untouched).
//! - `hash` files have makemap's buckets and page contents (the pairs are put into a
//!   model of libdb's table in input order, `-r` replacements included), so `-u` lists
//!   them in makemap's order. With `-o`, the old pairs are inserted again first, in their
//!   listed order, then the new ones: libdb would add to the old file's own layout.
//! - Replacing by rename needs write access to the directory: a non-root user who may
//!   write the map file but not its directory gets `Permission denied` (exit 73, map
//!   untouched), where makemap would rewrite the file in place.
//! - `-c` is accepted and ignored (no libdb cache); `-i` and type `cf` are not supported
//!   (`cf` is an unknown type, exit 73).
//! - On a terminal, a long build shows a progress line on stderr (`cli::progress`); it is
//!   erased before any message and never drawn when stderr is not a terminal.
//! - The `WARNING: … writable directory` lines makemap prints when run as root are
//!   reproduced for plain directories; symbolic links inside the directory path are not
//!   followed for that check.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use crate::makemap::{self as mm, Duplicates, ListKind, Options, RulesOpt, c_str};
use crate::maps::{self, MapError, MapType};

/// sysexits EX_CANTCREAT: the map cannot be opened or created.
pub const CANTCREAT: i32 = 73;

/// Build a map from `key value` lines on standard input, like sendmail's makemap.
///
/// The map is written beside the old one and renamed into place; the old file's mtime is
/// then moved forward so that a running sendmail reopens it. Exit status: 0, 64 bad
/// usage, 65 when some lines were rejected (the others are in the map), 66 the sendmail
/// .cf cannot be read (as root), 73 when the map cannot be opened or created, 74 on an
/// I/O error.
#[derive(Debug, Args)]
pub struct MakemapArgs {
    /// Read FILE instead of /etc/mail/sendmail.cf for `O TrustedUser` (as root).
    #[arg(short = 'C', value_name = "FILE")]
    pub cf_file: Option<PathBuf>,
    /// Append a NUL byte to every key and every value.
    #[arg(short = 'N')]
    pub nul: bool,
    /// libdb cache size (accepted for compatibility; ignored).
    #[arg(short = 'c', value_name = "CACHESIZE")]
    pub cache_size: Option<String>,
    /// Allow duplicate keys: every record is kept, in input order.
    #[arg(short = 'd')]
    pub allow_dups: bool,
    /// Comment character (default `#`); lines starting with it are skipped.
    #[arg(short = 'D', value_name = "CHAR", allow_hyphen_values = true)]
    pub comment: Option<OsString>,
    /// Store lines without a value, with an empty value.
    #[arg(short = 'e')]
    pub allow_empty: bool,
    /// Do not fold keys to lower case.
    #[arg(short = 'f')]
    pub no_fold: bool,
    /// List the supported map types and exit.
    #[arg(short = 'l')]
    pub list: bool,
    /// Append to the existing map instead of replacing it.
    #[arg(short = 'o')]
    pub append: bool,
    /// A repeated key replaces the earlier value (default: error, first value kept).
    #[arg(short = 'r')]
    pub replace: bool,
    /// Skip the safety checks (symbolic and hard links).
    #[arg(short = 's')]
    pub skip_safety: bool,
    /// Key/value delimiter (default: any white space).
    #[arg(short = 't', value_name = "DELIM", allow_hyphen_values = true)]
    pub delimiter: Option<OsString>,
    /// Dump the map (`KEY<TAB>VALUE` lines) instead of building it.
    #[arg(short = 'u')]
    pub dump: bool,
    /// Print every record as it is stored.
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Map type: btree, hash, implicit (= hash), dbm or cdb.
    #[arg(value_name = "TYPE", required_unless_present = "list")]
    pub map_type: Option<String>,
    /// Map name; the file is NAME.db (btree, hash), NAME.dir + NAME.pag (dbm) or
    /// NAME.cdb (cdb).
    #[arg(value_name = "NAME", required_unless_present = "list")]
    pub name: Option<PathBuf>,
}

impl MakemapArgs {
    /// The same options as makemap's own parser gives.
    pub fn options(&self) -> Options {
        let mut warnings = Vec::new();
        let separator = self
            .delimiter
            .as_ref()
            .and_then(|d| match d.as_bytes().first() {
                Some(&b) => Some(b),
                None => {
                    warnings.push("Invalid separator\n".to_string());
                    None
                }
            });
        Options {
            cf_file: self.cf_file.clone().map(PathBuf::into_os_string),
            cache_size: self.cache_size.clone(),
            fallback: None,
            rules: RulesOpt {
                comment: self
                    .comment
                    .as_ref()
                    .map(|c| c.as_bytes().first().copied().unwrap_or(0)),
                separator,
                no_fold: self.no_fold,
                nul: self.nul,
                allow_empty: self.allow_empty,
            },
            duplicates: if self.allow_dups {
                Duplicates::Keep
            } else if self.replace {
                Duplicates::Replace
            } else {
                Duplicates::Reject
            },
            append: self.append,
            skip_safety: self.skip_safety,
            dump: self.dump,
            verbose: self.verbose,
            list: self.list.then_some(ListKind::Plain),
            warnings,
            map_type: self.map_type.clone().unwrap_or_default(),
            name: self
                .name
                .clone()
                .map(PathBuf::into_os_string)
                .unwrap_or_default(),
        }
    }
}

/// `cfmap makemap …`: messages prefixed `cfmap:`.
pub fn run(a: MakemapArgs) -> i32 {
    let o = a.options();
    execute(
        &o,
        "cfmap",
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// Whether argv[0] names makemap (its file name is `makemap`): the multicall entry.
pub fn is_makemap_argv0(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new("makemap"))
}

/// The binary started as `makemap`: makemap's own parser, messages and exit codes.
pub fn multicall(args: Vec<OsString>) -> i32 {
    let argv0 = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "makemap".into());
    let prog = Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "makemap".into());
    let mut err = std::io::stderr().lock();
    match mm::parse_args(&argv0, args.get(1..).unwrap_or(&[])) {
        Err(e) => {
            let _ = err.write_all(e.message.as_bytes());
            let _ = err.write_all(mm::usage(&prog).as_bytes());
            exit::USAGE
        }
        Ok(o) => execute(
            &o,
            &prog,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
            &mut err,
        ),
    }
}

/// The effective user id, from /proc/self/status (0 when it cannot be read is wrong;
/// assume an ordinary user then).
fn euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

fn egid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Gid:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

use crate::maps::io_reason as reason;

/// `O TrustedUser=…` of a sendmail .cf, as makemap reads it: a number, or a user name
/// looked up in /etc/passwd. `Err` is the warning makemap prints for an unknown user.
fn trusted_uid(cf: &[u8]) -> Result<Option<u32>, String> {
    let mut found = Ok(None);
    for line in cf.split(|&b| b == b'\n') {
        let Some(b) = line.strip_prefix(b"O") else {
            continue;
        };
        if b.len() < 12 || !b[..12].eq_ignore_ascii_case(b" TrustedUser") {
            continue;
        }
        if b.get(12).is_some_and(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let Some(eq) = b.iter().position(|&c| c == b'=') else {
            continue;
        };
        let v = &b[eq + 1..];
        let v = &v[v
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(v.len())..];
        if v.first().is_some_and(u8::is_ascii_digit) {
            let digits: String = v
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .map(|&c| c as char)
                .collect();
            found = Ok(digits.parse().ok());
            continue;
        }
        let name = String::from_utf8_lossy(v).into_owned();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        found = passwd
            .lines()
            .find_map(|l| {
                let mut f = l.split(':');
                (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
            })
            .map(Some)
            .ok_or_else(|| format!("TrustedUser: unknown user {name}\n"));
    }
    found
}

/// The `WARNING: World|Group writable directory D` lines makemap (run as root) prints for
/// each directory on the way to `file` that others may write.
fn dir_warnings(file: &Path) -> Vec<String> {
    let bytes = file.as_os_str().as_bytes();
    let dir: &[u8] = match bytes.iter().rposition(|&b| b == b'/') {
        None => b".",
        Some(0) => b"/",
        Some(i) => &bytes[..i],
    };
    let mut prefixes: Vec<&[u8]> = Vec::new();
    for (i, &b) in dir.iter().enumerate() {
        if b == b'/' {
            prefixes.push(if i == 0 { &dir[..1] } else { &dir[..i] });
        }
    }
    prefixes.push(dir);
    prefixes.dedup();
    let mut out = Vec::new();
    for p in prefixes {
        if p.ends_with(b"/.") || p.ends_with(b"/..") {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(OsStr::from_bytes(p)) else {
            break;
        };
        if m.file_type().is_symlink() {
            continue;
        }
        if m.mode() & 0o022 != 0 {
            out.push(format!(
                "WARNING: {} writable directory {}\n",
                if m.mode() & 0o002 != 0 {
                    "World"
                } else {
                    "Group"
                },
                String::from_utf8_lossy(p)
            ));
        }
    }
    out
}

/// Whether user `uid`/`gid` may do `want` (3 bits: rwx) on a file of metadata `m`, by
/// the mode bits alone, as sendmail's safefile() decides (root included).
fn mode_allows(m: &std::fs::Metadata, uid: u32, gid: u32, want: u32) -> bool {
    let bits = if m.uid() == uid {
        m.mode() >> 6
    } else if m.gid() == gid {
        m.mode() >> 3
    } else {
        m.mode()
    };
    bits & want == want
}

/// makemap's safety checks on one map file (safefile with makemap's flags): `Err` is the
/// reason printed after `error opening type T map NAME: `. May follow a symbolic link
/// (with `-s`): the file to write is returned.
fn check_file(file: &Path, o: &Options, uid: u32, gid: u32) -> Result<PathBuf, String> {
    let meta = if o.skip_safety {
        std::fs::metadata(file)
    } else {
        std::fs::symlink_metadata(file)
    };
    match meta {
        Ok(m) => {
            if m.file_type().is_symlink() {
                return Err("Symbolic links not allowed".into());
            }
            if !m.file_type().is_file() {
                return Err("Regular files only".into());
            }
            if m.nlink() != 1 && !o.skip_safety {
                return Err("Hard links not allowed".into());
            }
            let want = if o.dump { 4 } else { 6 };
            if uid != 0 && !mode_allows(&m, uid, gid, want) {
                return Err("Permission denied".into());
            }
            if o.skip_safety {
                std::fs::canonicalize(file).map_err(|e| reason(&e))
            } else {
                Ok(file.to_path_buf())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !o.dump && !o.append => {
            let bytes = file.as_os_str().as_bytes();
            let dir = match bytes.iter().rposition(|&b| b == b'/') {
                None => Path::new("."),
                Some(0) => Path::new("/"),
                Some(i) => Path::new(OsStr::from_bytes(&bytes[..i])),
            };
            let d = std::fs::metadata(dir).map_err(|e| reason(&e))?;
            if !d.is_dir() {
                return Err("Not a directory".into());
            }
            if !mode_allows(&d, uid, gid, 3) {
                return Err("Permission denied".into());
            }
            Ok(file.to_path_buf())
        }
        Err(e) => Err(reason(&e)),
    }
}

/// Run makemap with options `o`; `prog` prefixes the messages (`makemap` or `cfmap`).
pub fn execute(
    o: &Options,
    prog: &str,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let code = execute_inner(o, prog, input, out, err);
    let _ = out.flush();
    let _ = err.flush();
    code
}

/// One record of the source: key and value as ranges of [`Records`]' bytes, and the line.
struct Rec {
    key_at: usize,
    key_len: u32,
    value_len: u32,
    /// Where the value starts: right after the key, unless `-r` replaced it.
    value_at: usize,
    line: u32,
}

impl Rec {
    fn new(key: Range<usize>, value: Range<usize>, line: u32) -> Rec {
        Rec {
            key_at: key.start,
            key_len: u32::try_from(key.len()).expect("key under 4 GiB"),
            value_len: u32::try_from(value.len()).expect("value under 4 GiB"),
            value_at: value.start,
            line,
        }
    }

    fn set_value(&mut self, value: Range<usize>) {
        self.value_at = value.start;
        self.value_len = u32::try_from(value.len()).expect("value under 4 GiB");
    }
}

/// The records to store, in map order (no allocation per line). Their bytes are where
/// the source has them when they are stored as written (a key without upper case or with
/// `-f`, a value, without `-N`); the others are copied to `arena`. Ranges below `base`
/// are in `source`, those from `base` on in `arena` (at `offset - base`).
///
/// When the records are written out as they come (`streaming`), `list` stays empty and
/// only the distinct keys are kept, in `keys` (where, length), for the duplicate checks.
struct Records {
    source: Vec<u8>,
    base: usize,
    arena: Vec<u8>,
    list: Vec<Rec>,
    streaming: bool,
    keys: Vec<(u32, u32)>,
}

impl Records {
    fn new(source: Vec<u8>) -> Records {
        Records {
            base: source.len() + 1,
            source,
            arena: Vec::new(),
            list: Vec::new(),
            streaming: false,
            keys: Vec::new(),
        }
    }

    /// The key [`KeyIndex`] knows as number `i`.
    fn key_of(&self, i: usize) -> &[u8] {
        if self.streaming {
            let (at, len) = self.keys[i];
            self.bytes(at as usize, len as usize)
        } else {
            self.key(&self.list[i])
        }
    }

    /// How many keys [`KeyIndex`] can refer to.
    fn count(&self) -> usize {
        if self.streaming {
            self.keys.len()
        } else {
            self.list.len()
        }
    }

    fn bytes(&self, at: usize, len: usize) -> &[u8] {
        if at >= self.base {
            &self.arena[at - self.base..at - self.base + len]
        } else {
            &self.source[at..at + len]
        }
    }

    fn range(&self, r: &Range<usize>) -> &[u8] {
        self.bytes(r.start, r.len())
    }

    fn key(&self, r: &Rec) -> &[u8] {
        self.bytes(r.key_at, r.key_len as usize)
    }

    fn pair(&self, r: &Rec) -> (&[u8], &[u8]) {
        (self.key(r), self.bytes(r.value_at, r.value_len as usize))
    }

    /// `bytes`, appended to the arena, as a range.
    fn push_arena(&mut self, bytes: &[u8]) -> Range<usize> {
        let at = self.base + self.arena.len();
        self.arena.extend_from_slice(bytes);
        at..at + bytes.len()
    }
}

/// Key -> index of its first record in [`Records::list`] (or [`Records::keys`]): an
/// open-addressing table with a fast hash (the keys come from a local file, not from an
/// attacker who could aim at collisions worth worrying about). A slot is one `u32`:
/// `record + 1` in its low `bits` bits (0: empty), and above them as many high bits of
/// the key's hash as are left, so that a key is compared only when those match (for
/// 1,000,000 keys: 21 bits of record, 11 of hash, a compare for 1 in 2,048 occupied
/// slots probed). 4 bytes a slot keep the table of a large map half the size of one
/// with a whole 32-bit hash beside the record, and twice as dense in the cache.
#[derive(Default)]
struct KeyIndex {
    slots: Vec<u32>,
    /// Low bits of a slot that hold the record.
    bits: u32,
    len: usize,
}

impl KeyIndex {
    /// A folded-multiply hash (the 128-bit product of the state and a constant, its two
    /// halves xored), 8 bytes at a time: every bit of the key reaches every bit of the
    /// state at each step. (A plain 64-bit multiply-and-rotate here let 6% of keys like
    /// `host00123456.example.net` collide in all 64 bits, each collision a key compare
    /// with a cache miss.)
    fn hash(key: &[u8]) -> u64 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        const K2: u64 = 0x9e37_79b9_7f4a_7c15;
        fn fold(a: u64, b: u64) -> u64 {
            let m = u128::from(a) * u128::from(b);
            (m as u64) ^ ((m >> 64) as u64)
        }
        let mut h: u64 = key.len() as u64 ^ K2;
        let mut chunks = key.chunks_exact(8);
        for c in &mut chunks {
            h = fold(h ^ u64::from_le_bytes(c.try_into().expect("8 bytes")), K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            h = fold(h ^ u64::from_le_bytes(b), K);
        }
        fold(h, K2)
    }

    /// A table for about `n` keys without growing.
    fn with_capacity(n: usize) -> KeyIndex {
        let slots = vec![0u32; (n.saturating_mul(2)).next_power_of_two().max(1024)];
        huge_pages(&slots);
        // Records up to the number of slots (twice the keys expected) fit.
        let bits = slots.len().trailing_zeros().min(32);
        KeyIndex {
            slots,
            bits,
            len: 0,
        }
    }

    /// The hash bits kept in a slot beside the record.
    fn tag(&self, h: u64) -> u32 {
        ((h >> 32) as u32).checked_shr(self.bits).unwrap_or(0)
    }

    /// The record of a full slot.
    fn record(&self, slot: u32) -> usize {
        let mask = ((1u64 << self.bits) - 1) as u32;
        (slot & mask) as usize - 1
    }

    /// Load the slots where keys with these hashes are looked up first. The loads are
    /// independent, so their cache misses overlap; done for the batch after the one
    /// being handled, they are over by the time its keys are looked up. (Prefetch
    /// instructions instead left the lookups stalling on the same misses on the AMD
    /// EPYC VM this was measured on: 23-27 % of the samples in `find_or_insert`, against
    /// 6-10 % with loads.)
    fn touch(&self, hashes: impl Iterator<Item = u64>) {
        let mask = self.slots.len() - 1;
        let mut acc = 0;
        for h in hashes {
            acc ^= self.slots[h as usize & mask];
        }
        std::hint::black_box(acc);
    }

    /// The first record with `key`, or `None` after adding `key` for record `at`.
    /// `h` is [`KeyIndex::hash`] of `key`.
    fn find_or_insert(&mut self, recs: &Records, key: &[u8], h: u64, at: usize) -> Option<usize> {
        while (self.len + 1) * 2 > self.slots.len() || (at as u64 + 1) >> self.bits != 0 {
            assert!(self.bits < 32, "under 4 G records");
            self.grow(recs);
        }
        let tag = self.tag(h);
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                self.slots[i] = ((u64::from(tag) << self.bits) as u32) | (at as u32 + 1);
                self.len += 1;
                return None;
            }
            let a = self.record(slot);
            if self.tag_of(slot) == tag && recs.key_of(a) == key {
                return Some(a);
            }
            i = (i + 1) & mask;
        }
    }

    /// The hash bits a full slot keeps.
    fn tag_of(&self, slot: u32) -> u32 {
        slot.checked_shr(self.bits).unwrap_or(0)
    }

    /// Twice the slots (and one more bit for records), every key placed again.
    fn grow(&mut self, recs: &Records) {
        let mut bigger = KeyIndex::with_capacity(self.slots.len());
        for &slot in &self.slots {
            if slot != 0 {
                let a = self.record(slot);
                let h = Self::hash(recs.key_of(a));
                let mask = bigger.slots.len() - 1;
                let mut i = h as usize & mask;
                while bigger.slots[i] != 0 {
                    i = (i + 1) & mask;
                }
                bigger.slots[i] =
                    ((u64::from(bigger.tag(h)) << bigger.bits) as u32) | (a as u32 + 1);
                bigger.len += 1;
            }
        }
        *self = bigger;
    }
}

/// Whether `b` has an ASCII upper-case letter, 8 bytes at a time: in each byte, the top
/// bit of `(x | 0x80) - 0x41` stays set when the low 7 bits are at least `A`, that of
/// `(x | 0x80) - 0x5b` when they are past `Z` (the `| 0x80` keeps borrows inside the
/// byte); a letter is a byte with the first, not the second, and its own top bit clear.
fn has_upper(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    let upper_in = |w: u64| {
        let from_a = (w | HIGH) - 0x41 * ONES;
        let past_z = (w | HIGH) - 0x5b * ONES;
        from_a & !past_z & !w & HIGH != 0
    };
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        if upper_in(u64::from_le_bytes(c.try_into().expect("8 bytes"))) {
            return true;
        }
    }
    chunks.remainder().iter().any(u8::is_ascii_uppercase)
}

/// Ask for transparent huge pages (2 MiB) for the allocation of `v` (its whole capacity),
/// when it is big: the duplicate index is read at random, and with 4 KiB pages nearly
/// every lookup of a large map also missed the TLB; and the source buffer, the index
/// and the key list are faulted in 512 times less often. Only a hint: without THP
/// (or `never`), nothing changes. Call it before the memory is first written.
fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 2 * HUGE {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let start = v.as_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: madvise(MADV_HUGEPAGE) on whole pages inside our own allocation
            // changes how they are backed, never their contents or validity. Its result
            // is only a hint's, so it is ignored.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// Lines parsed ahead of their handling (see the loop in [`execute_inner`]).
const BATCH: usize = 32;

fn execute_inner(
    o: &Options,
    prog: &str,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    for w in &o.warnings {
        let _ = err.write_all(w.as_bytes());
    }
    if let Some(kind) = o.list {
        let _ = out.write_all(mm::type_list(kind).as_bytes());
        return exit::OK;
    }
    let (uid, gid) = (euid(), egid());
    let name = Path::new(&o.name);
    let shown = name.display().to_string();

    // As root makemap reads the .cf for O TrustedUser, and gives the map to that user.
    let mut trusted = None;
    if uid == 0 {
        let cf = o
            .cf_file
            .clone()
            .unwrap_or_else(|| OsString::from("/etc/mail/sendmail.cf"));
        match std::fs::read(&cf) {
            Err(e) => {
                let _ = writeln!(err, "{prog}: {}: {}", Path::new(&cf).display(), reason(&e));
                return exit::NOINPUT;
            }
            Ok(text) => match trusted_uid(&text) {
                Ok(t) => trusted = t.filter(|&t| t != 0),
                Err(w) => {
                    let _ = err.write_all(w.as_bytes());
                }
            },
        }
    }

    let open_error = |err: &mut dyn Write, why: &str| {
        let _ = writeln!(
            err,
            "{prog}: error opening type {} map {shown}: {why}",
            o.map_type
        );
        CANTCREAT
    };
    let ty: MapType = match o.map_type.as_str() {
        "btree" | "hash" | "implicit" | "dbm" | "cdb" => o.map_type.parse().expect("known type"),
        _ => return open_error(err, "Unknown database type"),
    };

    // Safety checks, as makemap's safefile() (printed once per check, twice on success).
    let files = ty.files(name);
    let warnings = if uid == 0 {
        dir_warnings(&files[0])
    } else {
        Vec::new()
    };
    let say_warnings = |err: &mut dyn Write| {
        for w in &warnings {
            let _ = err.write_all(w.as_bytes());
        }
    };
    say_warnings(err);
    let mut targets = Vec::new();
    for f in &files {
        match check_file(f, o, uid, gid) {
            Ok(t) => targets.push(t),
            Err(why) => return open_error(err, &why),
        }
    }
    say_warnings(err);

    // With -s a symbolic link was resolved: build under the target's name.
    let target_name: PathBuf = if targets[0] != files[0] {
        match ty {
            MapType::Dbm => name.to_path_buf(),
            _ => targets[0].clone(),
        }
    } else {
        name.to_path_buf()
    };

    if o.dump {
        return dump(o, ty, &target_name, prog, &shown, out, err);
    }

    // A progress line on a terminal for long builds (never when stderr is redirected);
    // it is erased for good before the first message.
    let total = std::fs::metadata("/proc/self/fd/0")
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let mut progress = super::progress::Progress::new(total);
    let mut source = Vec::new();
    if let Some(t) = total {
        // The whole file in one allocation (one more byte to see the end).
        source.reserve_exact(usize::try_from(t).unwrap_or(0).saturating_add(1));
        huge_pages(&source);
    }
    // Straight into the buffer, a few MiB at a time (for the progress line).
    loop {
        match (&mut *input).take(1 << 22).read_to_end(&mut source) {
            Ok(0) => break,
            Ok(_) => progress.tick(source.len() as u64, 0),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                progress.finish();
                let _ = writeln!(err, "{prog}: {shown}: standard input: {}", reason(&e));
                return exit::IOERR;
            }
        }
    }

    // Records in map order; index: key -> its first record.
    // At most one record per line (plus the old ones with -u, which may grow the table).
    let lines_in = memchr::memchr_iter(b'\n', &source).count() + 1;
    let source_len = source.len();
    let mut recs = Records::new(source);
    let mut index = KeyIndex::with_capacity(lines_in);
    // What a repeated key does; with -o, a Berkeley DB file made with duplicates keeps
    // them (libdb takes DB_DUP from the file: `-r` then adds a duplicate too), and `-d`
    // on a file made without them is refused as libdb refuses it.
    let mut duplicates = o.duplicates;
    let mut old_dups = false;
    if o.append {
        let old = match maps::open(ty, &target_name) {
            Ok(m) => m,
            Err(e) => return open_error(err, &open_reason(&e)),
        };
        let file = &ty.files(&target_name)[0];
        old_dups = match ty {
            MapType::Btree => {
                cfmap_bdb::btree::Reader::open(file).is_ok_and(|r| r.has_duplicates())
            }
            MapType::Hash => cfmap_bdb::hash::Reader::open(file).is_ok_and(|r| r.has_duplicates()),
            _ => false,
        };
        match (ty, old_dups, duplicates) {
            (MapType::Btree | MapType::Hash, false, Duplicates::Keep) => {
                return open_error(err, "Invalid argument");
            }
            (_, true, Duplicates::Replace) => duplicates = Duplicates::Keep,
            _ => {}
        }
        for r in old.iter() {
            match r {
                Ok((k, v)) => {
                    let key = recs.push_arena(&k);
                    let value = recs.push_arena(&v);
                    index.find_or_insert(&recs, &k, KeyIndex::hash(&k), recs.list.len());
                    recs.list.push(Rec::new(key, value, 0));
                }
                Err(e) => return open_error(err, &open_reason(&e)),
            }
        }
    }

    // A cdb whose records never change once read (no -r, no old map to add to) is
    // written into its temporary file as the lines are read, when no record can be
    // refused for size (every record takes at most its line's bytes + 26 in the file:
    // two NULs with -N, the 8-byte head, two 8-byte table slots). Otherwise, or when the
    // temporary cannot be made here (the build below reports that as it always did),
    // the records are collected and built at the end.
    let mut stream = None;
    if ty == MapType::Cdb && !o.append && duplicates != Duplicates::Replace {
        let records_max = lines_in as u64 + source_len as u64 / (mm::LINE_BUFFER as u64 - 1) + 1;
        let bound = u64::from(cfmap_cdb::HEADER_SIZE) + source_len as u64 + 26 * records_max;
        // Keys are kept as u32 offsets: the source, then the arena of folded keys and
        // -N's keys and values (at most the source again, plus two NULs a record).
        let last_offset = 2 * source_len as u64 + 2 * records_max + 1;
        if bound <= cfmap_cdb::MAX_FILE_SIZE && last_offset <= u64::from(u32::MAX) {
            stream = maps::cdb_stream(&target_name).ok();
        }
    }
    let mut stream_error = None;
    if let Some(s) = stream.as_mut() {
        s.reserve(lines_in);
        recs.streaming = true;
        recs.keys.reserve(lines_in);
        huge_pages(&recs.keys);
    } else {
        recs.list.reserve(lines_in);
    }

    let mut status = exit::OK;
    let can_dup = matches!(ty, MapType::Cdb | MapType::Btree | MapType::Hash);
    let rules = o.rules.rules();
    let mut lines = mm::Lines::new(&recs.source, rules);
    // Lines are parsed in batches, one batch ahead of their handling: the index slots of
    // the next batch's keys are loaded together before this batch is handled, so the
    // cache misses of the random lookups overlap with each other and with work instead
    // of stalling one after the other. Each batch is handled line by line, in input
    // order.
    type Parsed = (
        u32,
        Result<(Range<usize>, Range<usize>, u64), mm::LineError>,
    );
    let mut batch: Vec<Parsed> = Vec::with_capacity(BATCH);
    let mut ahead: Vec<Parsed> = Vec::with_capacity(BATCH);
    let mut done = false;
    loop {
        while !done && ahead.len() < BATCH {
            let Some((n, item)) = lines.next_raw() else {
                done = true;
                break;
            };
            ahead.push((
                n,
                item.map(|(raw_key, raw_value)| {
                    // Key and value where the source has them when they are stored as
                    // written, else as stored, appended to the arena.
                    let in_source = |b: &[u8]| {
                        let at = b.as_ptr() as usize - recs.source.as_ptr() as usize;
                        at..at + b.len()
                    };
                    let folds = rules.fold && has_upper(raw_key);
                    let (key, h) = if rules.nul || folds {
                        let mark = recs.arena.len();
                        rules.store(raw_key, &mut recs.arena);
                        let h = KeyIndex::hash(&recs.arena[mark..]);
                        (recs.base + mark..recs.base + recs.arena.len(), h)
                    } else {
                        (in_source(raw_key), KeyIndex::hash(raw_key))
                    };
                    let value = if rules.nul {
                        let mark = recs.arena.len();
                        rules.store_value(raw_value, &mut recs.arena);
                        recs.base + mark..recs.base + recs.arena.len()
                    } else {
                        in_source(raw_value)
                    };
                    (key, value, h)
                }),
            ));
        }
        index.touch(
            ahead
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok().map(|r| r.2)),
        );
        // Once a batch: the line is redrawn a few times a second at most anyway.
        progress.tick(source_len as u64, recs.count() as u64);
        for (n, item) in batch.drain(..) {
            let (key, value, h) = match item {
                Ok(r) => r,
                Err(e) => {
                    progress.finish(); // messages win over the progress line
                    let _ = err.write_all(
                        &[
                            format!("{prog}: {shown}: line {n}: ").as_bytes(),
                            &e.message(),
                            b"\n",
                        ]
                        .concat(),
                    );
                    status = exit::DATAERR;
                    continue;
                }
            };
            if o.verbose {
                let _ = out.write_all(
                    &[
                        &b"key=`"[..],
                        c_str(recs.range(&key)),
                        b"', val=`",
                        c_str(recs.range(&value)),
                        b"'\n",
                    ]
                    .concat(),
                );
            }
            let found = index.find_or_insert(&recs, recs.range(&key), h, recs.count());
            if recs.streaming {
                if found.is_none() {
                    let len = u32::try_from(key.len()).expect("key under 4 GiB");
                    let at = u32::try_from(key.start).expect("offsets checked before streaming");
                    recs.keys.push((at, len));
                }
                if found.is_none() || duplicates == Duplicates::Keep {
                    // After a write error the lines are still read, for their messages.
                    if let Some(s) = stream.as_mut()
                        && let Err(e) = s.insert(recs.range(&key), recs.range(&value))
                    {
                        stream_error = Some(e);
                        stream = None;
                    }
                }
            }
            match (found, duplicates) {
                (None, _) if recs.streaming => {}
                (Some(_), Duplicates::Keep) if recs.streaming => {}
                (None, _) => recs.list.push(Rec::new(key, value, n)),
                // libdb rewrites the pair where it is, or moves it when the new value
                // does not fit: the hash builder repeats that when it sees the insert.
                (Some(_), Duplicates::Replace) if ty == MapType::Hash => {
                    recs.list.push(Rec::new(key, value, n))
                }
                (Some(i), Duplicates::Replace) => recs.list[i].set_value(value),
                (Some(_), Duplicates::Keep) if can_dup => recs.list.push(Rec::new(key, value, n)),
                (Some(_), Duplicates::Keep) => {
                    progress.finish();
                    let _ = err.write_all(
                        &[
                            format!("{prog}: {shown}: line {n}: key ").as_bytes(),
                            c_str(recs.range(&key)),
                            format!(": duplicate keys (-d) are not supported for type {ty}\n")
                                .as_bytes(),
                        ]
                        .concat(),
                    );
                    return CANTCREAT;
                }
                (Some(_), Duplicates::Reject) => {
                    progress.finish();
                    let _ = err.write_all(
                        &[
                            format!("{prog}: {shown}: line {n}: key ").as_bytes(),
                            c_str(recs.range(&key)),
                            b": duplicate key\n",
                        ]
                        .concat(),
                    );
                    status = exit::DATAERR;
                }
            }
        }
        if ahead.is_empty() {
            break;
        }
        std::mem::swap(&mut batch, &mut ahead);
    }
    drop(index);
    drop((batch, ahead));

    let committed = if recs.streaming {
        drop(recs);
        progress.finish();
        match (stream, stream_error) {
            (_, Some(e)) => Err(e),
            (Some(s), None) => s.commit(),
            (None, None) => unreachable!("the stream is dropped only after an error"),
        }
    } else {
        let made = if duplicates == Duplicates::Keep || old_dups {
            maps::builder_keeping_duplicates(ty, &target_name)
        } else {
            maps::builder(ty, &target_name)
        };
        let mut builder = match made {
            Ok(b) => b,
            Err(e) => return open_error(err, &map_reason(&e)),
        };
        for r in &recs.list {
            let (k, v) = recs.pair(r);
            if let Err(e) = builder.insert(k, v) {
                progress.finish();
                let _ = err.write_all(
                    &[
                        format!("{prog}: {shown}: line {}: key ", r.line).as_bytes(),
                        c_str(k),
                        format!(": put error: {}\n", map_reason(&e)).as_bytes(),
                    ]
                    .concat(),
                );
                status = exit::IOERR;
            }
        }
        drop(recs);
        progress.finish();
        maps::commit_locked(builder, ty, &target_name)
    };
    match committed {
        Ok(()) => {}
        Err(MapError::OldNotNotified { .. }) => {}
        Err(e) => {
            return match &e {
                MapError::Io { source, .. }
                    if matches!(
                        source.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) =>
                {
                    open_error(err, &map_reason(&e))
                }
                MapError::NotRegular { .. } => open_error(err, "Regular files only"),
                _ => {
                    let _ = writeln!(err, "{prog}: close({shown}): {}", map_reason(&e));
                    exit::IOERR
                }
            };
        }
    }
    if let Some(t) = trusted {
        for f in ty.files(&target_name) {
            if let Err(e) = std::os::unix::fs::chown(&f, Some(t), None) {
                let _ = write!(
                    err,
                    "WARNING: ownership change on {shown} failed {}",
                    reason(&e)
                );
            }
        }
    }
    status
}

/// Why an existing map cannot be opened (`-u`, `-o`), as makemap says it: libdb
/// answers EINVAL for a file that is not a database of the type asked for.
fn open_reason(e: &MapError) -> String {
    match e {
        MapError::Cdb { .. } | MapError::Format { .. } => "Invalid argument".into(),
        e => map_reason(e),
    }
}

/// An error's reason without the file name (makemap names the map itself).
fn map_reason(e: &MapError) -> String {
    match e {
        MapError::Io { source, .. } => reason(source),
        e => {
            let s = e.to_string();
            let p = format!("{}: ", e.path().display());
            s.strip_prefix(&p).map(str::to_string).unwrap_or(s)
        }
    }
}

fn dump(
    o: &Options,
    ty: MapType,
    name: &Path,
    prog: &str,
    shown: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    // implicit: the first type that opens, as smdb_open_database tries them.
    let map = match maps::open(ty, name) {
        Ok(m) => Ok(m),
        Err(e) if o.map_type == "implicit" && !e.is_not_found() => {
            maps::open(MapType::Btree, name).map_err(|_| e)
        }
        Err(e) => Err(e),
    };
    let map = match map {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(
                err,
                "{prog}: error opening type {} map {shown}: {}",
                o.map_type,
                open_reason(&e)
            );
            return CANTCREAT;
        }
    };
    let sep = o.rules.separator.unwrap_or(b'\t');
    let mut w = std::io::BufWriter::new(out);
    for r in map.iter() {
        match r {
            Ok((k, v)) => {
                if w.write_all(&[c_str(&k), &[sep], c_str(&v), b"\n"].concat())
                    .is_err()
                {
                    return exit::IOERR;
                }
            }
            Err(e) => {
                let _ = w.flush();
                let _ = writeln!(err, "{prog}: {shown}: {}", map_reason(&e));
                return exit::DATAERR;
            }
        }
    }
    if w.flush().is_err() {
        return exit::IOERR;
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_opts(args: &[&str], stdin: &[u8]) -> (String, String, i32) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let o = mm::parse_args("makemap", &args).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = execute(&o, "makemap", &mut &stdin[..], &mut out, &mut err);
        // As root, the temporary directory's parents (/tmp) draw makemap's warnings.
        let err: String = String::from_utf8_lossy(&err)
            .lines()
            .filter(|l| !l.starts_with("WARNING: "))
            .map(|l| format!("{l}\n"))
            .collect();
        (String::from_utf8_lossy(&out).into_owned(), err, code)
    }

    #[test]
    fn key_index_grows_for_keys_and_for_record_numbers() {
        let mut src = Vec::new();
        let mut keys = Vec::new();
        for i in 0..5000u32 {
            let k = format!("key{i}");
            keys.push((src.len() as u32, k.len() as u32));
            src.extend_from_slice(k.as_bytes());
        }
        let mut recs = Records::new(src);
        recs.streaming = true;
        recs.keys = keys;
        // Too small for 5,000 keys: grows by count. Record numbers spaced by 3 (as with
        // -d, where repeated records take numbers too): grows by record number as well.
        let mut index = KeyIndex::with_capacity(10);
        for i in 0..5000 {
            let k = recs.key_of(i).to_vec();
            assert_eq!(index.find_or_insert(&recs, &k, KeyIndex::hash(&k), i), None);
        }
        assert_eq!(index.len, 5000);
        for i in (0..5000).rev() {
            let k = recs.key_of(i).to_vec();
            assert_eq!(
                index.find_or_insert(&recs, &k, KeyIndex::hash(&k), 9999),
                Some(i)
            );
        }
        let mut sparse = KeyIndex::with_capacity(10);
        let bits = sparse.bits;
        let k = b"key7".to_vec();
        let far = 3 << bits;
        recs.keys.resize(far + 1, (0, 0));
        recs.keys[far] = recs.keys[7];
        assert_eq!(
            sparse.find_or_insert(&recs, &k, KeyIndex::hash(&k), far),
            None
        );
        assert!(sparse.bits > bits + 1);
        assert_eq!(
            sparse.find_or_insert(&recs, &k, KeyIndex::hash(&k), 0),
            Some(far)
        );
    }

    #[test]
    fn upper_case_found_in_any_byte() {
        for len in 0..20 {
            for at in 0..len {
                for (c, upper) in [(b'A', true), (b'Z', true), (b'@', false), (b'[', false)] {
                    for fill in [b'a', 0xc1, 0xda, 0x00, 0xff, b'z'] {
                        let mut b = vec![fill; len];
                        b[at] = c;
                        let want = b.iter().any(u8::is_ascii_uppercase);
                        assert_eq!(want, upper);
                        assert_eq!(has_upper(&b), want, "{b:?}");
                    }
                }
            }
        }
        for x in 0..=255u8 {
            let b = [x, b'a', x, 0xff, x, 0x80, x, b'-', x];
            assert_eq!(has_upper(&b), x.is_ascii_uppercase(), "{x:#x}");
        }
    }

    #[test]
    fn trusted_user_lines() {
        assert_eq!(trusted_uid(b"O TrustedUser=123\n"), Ok(Some(123)));
        assert_eq!(trusted_uid(b"O TrustedUser= root\n"), Ok(Some(0)));
        assert_eq!(trusted_uid(b"O TrustedUsers=5\nOX\n"), Ok(None));
        assert_eq!(
            trusted_uid(b"O TrustedUser=no-such-user-xyz\n"),
            Err("TrustedUser: unknown user no-such-user-xyz\n".into())
        );
    }

    #[test]
    fn warnings_name_each_writable_directory() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let gw = d.path().join("gw");
        std::fs::create_dir(&gw).unwrap();
        std::fs::set_permissions(&gw, std::fs::Permissions::from_mode(0o775)).unwrap();
        let w = dir_warnings(&gw.join("m.db"));
        assert_eq!(
            w.last().unwrap(),
            &format!("WARNING: Group writable directory {}\n", gw.display())
        );
    }

    #[test]
    fn big_cdb_streamed_as_built_with_the_same_messages() {
        // Larger than one stream chunk, with repeated keys (with capitals), a bad line
        // and -d: the file is what the collect-then-build path makes of the records
        // makemap keeps, and the messages are makemap's.
        let d = tempfile::tempdir().unwrap();
        let name = d.path().join("m");
        let n = name.to_str().unwrap();
        let mut src = Vec::new();
        for i in 0..30_000u32 {
            let k = if i % 1000 == 999 {
                format!("HOST{:06}.Example.NET", i - 500)
            } else {
                format!("host{i:06}.example.net")
            };
            src.extend_from_slice(format!("{k} value-{i}\n").as_bytes());
            if i == 10 {
                src.extend_from_slice(b" leading space\n");
            }
        }
        let (_, err, code) = run_opts(&["cdb", n], &src);
        assert_eq!(code, 65);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 31, "{err}");
        assert_eq!(
            lines[0],
            format!("makemap: {n}: line 12: syntax error (leading space)")
        );
        assert_eq!(
            lines[1],
            format!("makemap: {n}: line 1001: key host000499.example.net: duplicate key")
        );
        let want = |keep_dups: bool| {
            let mut b = cfmap_cdb::Builder::new();
            let mut seen = std::collections::HashSet::new();
            for i in 0..30_000u32 {
                let k = if i % 1000 == 999 {
                    format!("host{:06}.example.net", i - 500)
                } else {
                    format!("host{i:06}.example.net")
                };
                if seen.insert(k.clone()) || keep_dups {
                    b.insert(k.as_bytes(), format!("value-{i}").as_bytes())
                        .unwrap();
                }
            }
            b.to_bytes()
        };
        assert!(std::fs::read(d.path().join("m.cdb")).unwrap() == want(false));
        let (_, err, code) = run_opts(&["-d", "cdb", n], &src);
        assert_eq!((err.lines().count(), code), (1, 65), "{err}");
        assert!(std::fs::read(d.path().join("m.cdb")).unwrap() == want(true));
        let names = std::fs::read_dir(d.path()).unwrap().count();
        assert_eq!(names, 1, "no temporaries left");
    }

    #[test]
    fn cdb_build_dump_and_dups() {
        let d = tempfile::tempdir().unwrap();
        let name = d.path().join("m");
        let n = name.to_str().unwrap();
        let (_, err, code) = run_opts(&["-d", "cdb", n], b"k 1\nK 2\n");
        assert_eq!((err.as_str(), code), ("", 0));
        let (out, _, code) = run_opts(&["-u", "-t:", "cdb", n], b"");
        assert_eq!((out.as_str(), code), ("k:1\nk:2\n", 0));
        let (_, err, code) = run_opts(&["-d", "dbm", n], b"k 1\nK 2\n");
        assert_eq!(code, 73, "{err}");
        assert!(err.contains("line 2: key k: duplicate keys (-d)"), "{err}");
        assert!(!d.path().join("m.dir").exists());
    }
}
