//! makemap's command line and input rules (sendmail 8.17.1.9, formats.md §3), as plain
//! functions over bytes: [`parse_args`] reads a getopt-style argument list into
//! [`Options`], and [`Lines`] turns the source text into records and line errors. The
//! file work (safety checks, building, committing, `-u`) is in `cli::makemap`.
//!
//! Input rules, from makemap.c and checked against the real program:
//!
//! - Lines are read as `fgets` into a 1024-byte buffer: at most 1023 bytes at a time. A
//!   chunk without a newline that filled the buffer is `line too long (1024 bytes max)`,
//!   and the rest of that line is read as the next line (with its own number). A line
//!   whose newline comes after a NUL byte is reported the same way (makemap finds the
//!   newline with `strchr`). A last line without newline is accepted.
//! - The newline is removed; a CR before it stays. The line is a C string: a NUL ends it.
//! - Empty lines and lines starting with the comment byte (`-D`, default `#`) are skipped.
//! - Without `-t`, a line starting with ASCII white space is `syntax error (leading
//!   space)`. The key runs to the first separator (`-t` byte, else ASCII white space:
//!   space, `\t`, `\n`, `\v`, `\f`, `\r`); ASCII upper case is folded unless `-f`; every
//!   separator after it is skipped and the value is the rest of the line.
//! - No value: `no RHS for LHS KEY` unless `-e`. `-N` adds a NUL to key and value.

/// makemap's line buffer (`BUFSIZE`): lines hold at most `LINE_BUFFER - 1` bytes with
/// their newline.
pub const LINE_BUFFER: usize = 1024;

/// What happens to a key that is already in the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// `duplicate key` error, the first value is kept (makemap's default).
    #[default]
    Reject,
    /// `-r`: the new value replaces the old one.
    Replace,
    /// `-d`: both are kept, in input order (Berkeley DB's `DB_DUP`).
    Keep,
}

/// How source lines become records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// First byte of a comment line (`-D`); `0` means none (an empty line is skipped
    /// anyway).
    pub comment: u8,
    /// Key/value separator (`-t`); `None`: any ASCII white space.
    pub separator: Option<u8>,
    /// Fold ASCII upper case in keys (unless `-f`).
    pub fold: bool,
    /// Append a NUL byte to every key and value (`-N`).
    pub nul: bool,
    /// Store lines without a value, with an empty value (`-e`).
    pub allow_empty: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            comment: b'#',
            separator: None,
            fold: true,
            nul: false,
            allow_empty: false,
        }
    }
}

impl Rules {
    fn is_sep(&self, b: u8) -> bool {
        match self.separator {
            None => matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
            Some(s) => b == s,
        }
    }
}

/// A line makemap rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// More than 1022 bytes before the newline, or a NUL before it.
    TooLong,
    /// White space at the start of the line (without `-t`).
    LeadingSpace,
    /// No value after the key (without `-e`); the key as folded.
    NoRhs(Vec<u8>),
}

impl LineError {
    /// The text after `PROG: NAME: line N: `, as makemap prints it (bytes: keys may be
    /// any bytes but NUL).
    pub fn message(&self) -> Vec<u8> {
        match self {
            LineError::TooLong => format!("line too long ({LINE_BUFFER} bytes max)").into_bytes(),
            LineError::LeadingSpace => b"syntax error (leading space)".to_vec(),
            LineError::NoRhs(k) => [&b"no RHS for LHS "[..], k].concat(),
        }
    }
}

/// One record of the source: key and value as stored (folded, with `-N`'s NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// The text of a stored key or value as makemap prints it: a C string, up to the first
/// NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// The source's records and errors, each with its 1-based line number, in input order.
/// Duplicates are not looked at here (they depend on the map: see [`Duplicates`]).
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    src: &'a [u8],
    pos: usize,
    lineno: u32,
    rules: Rules,
}

impl<'a> Lines<'a> {
    pub fn new(src: &'a [u8], rules: Rules) -> Lines<'a> {
        Lines {
            src,
            pos: 0,
            lineno: 0,
            rules,
        }
    }

    /// How many bytes of the source have been read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next `fgets` chunk and whether the line in it is complete: (line without
    /// newline, as a C string) or `None` for "line too long".
    fn next_chunk(&mut self) -> Option<Option<&'a [u8]>> {
        if self.pos >= self.src.len() {
            return None;
        }
        let rest = &self.src[self.pos..];
        let max = rest.len().min(LINE_BUFFER - 1);
        // The common case in one scan: a newline with no NUL before it.
        if let Some(i) = memchr::memchr2(b'\n', 0, &rest[..max])
            && rest[i] == b'\n'
        {
            self.pos += i + 1;
            self.lineno += 1;
            return Some(Some(&rest[..i]));
        }
        let chunk = match memchr::memchr(b'\n', &rest[..max]) {
            Some(i) => &rest[..=i],
            None => &rest[..max],
        };
        self.pos += chunk.len();
        self.lineno += 1;
        // strchr(ibuf, '\n') stops at the first NUL.
        let text = c_str(chunk);
        if let Some(t) = text.strip_suffix(b"\n") {
            return Some(Some(t));
        }
        // No newline in the string: accepted only when fgets hit the end of the input,
        // which it does only when the chunk neither filled the buffer nor ended a line.
        if !chunk.ends_with(b"\n") && chunk.len() < LINE_BUFFER - 1 {
            return Some(Some(text));
        }
        Some(None)
    }
}

/// A line from [`Lines::next_raw`]: its number, and the key and value as in the source
/// or the error.
pub type RawLine<'a> = (u32, Result<(&'a [u8], &'a [u8]), LineError>);

impl<'a> Lines<'a> {
    /// The next record or error as [`Iterator::next`] returns it, without copies: the key
    /// and value as they are in the source, before `rules.fold` and `rules.nul` are
    /// applied (see [`Rules::store`]).
    pub fn next_raw(&mut self) -> Option<RawLine<'a>> {
        loop {
            let chunk = self.next_chunk()?;
            let n = self.lineno;
            let Some(line) = chunk else {
                return Some((n, Err(LineError::TooLong)));
            };
            let r = &self.rules;
            if line.is_empty() || line[0] == r.comment {
                continue;
            }
            if r.separator.is_none() && r.is_sep(line[0]) {
                return Some((n, Err(LineError::LeadingSpace)));
            }
            let kend = match r.separator {
                Some(sep) => memchr::memchr(sep, line),
                None => first_space(line),
            }
            .unwrap_or(line.len());
            let key = &line[..kend];
            let rest = &line[kend..];
            // The separator that ended the key is consumed, then every separator after it.
            let vstart = rest
                .iter()
                .position(|&b| !r.is_sep(b))
                .unwrap_or(rest.len());
            let value = &rest[vstart..];
            if value.is_empty() && !r.allow_empty {
                let mut k = Vec::with_capacity(key.len());
                r.store(key, &mut k);
                if r.nul {
                    k.pop();
                }
                return Some((n, Err(LineError::NoRhs(k))));
            }
            return Some((n, Ok((key, value))));
        }
    }
}

/// The first byte of `line` that is ASCII white space as [`Rules::is_sep`] sees it
/// without `-t` (space, or `\t` to `\r`: 0x09–0x0d), 8 bytes at a time: in each byte of
/// a word, `(x | 0x80) - 9` keeps its top bit when the low 7 bits are at least 9 and
/// `(x | 0x80) - 14` when they are at least 14 (the `| 0x80` keeps borrows inside the
/// byte), so 9–13 is the first and not the second, with the byte's own top bit clear;
/// a space is a zero byte of `x ^ 0x20…` (found exactly, without carries between bytes).
fn first_space(line: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    const LOW7: u64 = 0x7f * ONES;
    let mut chunks = line.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        let control = ((w | HIGH) - 0x09 * ONES) & !((w | HIGH) - 0x0e * ONES) & !w & HIGH;
        let x = w ^ (0x20 * ONES);
        let space = !(((x & LOW7) + LOW7) | x | LOW7);
        let found = control | space;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .map(|i| at + i)
}

impl Rules {
    /// Append a raw key from [`Lines::next_raw`] to `out` as stored: folded unless `-f`,
    /// with `-N`'s NUL.
    pub fn store(&self, key: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(key);
        if self.fold {
            out[at..].make_ascii_lowercase();
        }
        if self.nul {
            out.push(0);
        }
    }

    /// Append a raw value from [`Lines::next_raw`] to `out` as stored (with `-N`'s NUL).
    pub fn store_value(&self, value: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(value);
        if self.nul {
            out.push(0);
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = (u32, Result<Record, LineError>);

    fn next(&mut self) -> Option<Self::Item> {
        let (n, item) = self.next_raw()?;
        Some((
            n,
            item.map(|(k, v)| {
                let (mut key, mut value) = (Vec::new(), Vec::new());
                self.rules.store(k, &mut key);
                self.rules.store_value(v, &mut value);
                Record { key, value }
            }),
        ))
    }
}

/// Everything makemap's command line can say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `-C`: the sendmail .cf read for `O TrustedUser` when run as root.
    pub cf_file: Option<std::ffi::OsString>,
    /// `-c`: libdb cache size; accepted and ignored (cfmap builds in memory).
    pub cache_size: Option<String>,
    /// `-i`: fallback type for type `cf` (accepted, unused: cfmap has no `cf` type).
    pub fallback: Option<String>,
    pub rules: RulesOpt,
    pub duplicates: Duplicates,
    /// `-o`: add to the existing map.
    pub append: bool,
    /// `-s`: skip the link checks.
    pub skip_safety: bool,
    /// `-u`: dump instead of build.
    pub dump: bool,
    /// `-v`: print every record.
    pub verbose: bool,
    /// `-l` / `-L` / `-x`: list the types and exit.
    pub list: Option<ListKind>,
    /// Printed on stderr before anything else (`Invalid separator` for `-t ''`).
    pub warnings: Vec<String>,
    pub map_type: String,
    pub name: std::ffi::OsString,
}

/// [`Rules`] as options (kept apart so that `Options: Default` gives makemap's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RulesOpt {
    pub comment: Option<u8>,
    pub separator: Option<u8>,
    pub no_fold: bool,
    pub nul: bool,
    pub allow_empty: bool,
}

impl RulesOpt {
    pub fn rules(self) -> Rules {
        Rules {
            comment: self.comment.unwrap_or(b'#'),
            separator: self.separator,
            fold: !self.no_fold,
            nul: self.nul,
            allow_empty: self.allow_empty,
        }
    }
}

/// Which list `-l`, `-L` or `-x` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `-l` (and `-L`: cfmap has no `cf` pseudo-type to add).
    Plain,
    /// `-x`: `TYPE:EXTENSION`.
    Extended,
}

/// The type list `-l` / `-x` prints: what a makemap built with NDBM, NEWDB and CDB
/// prints, in its order.
pub fn type_list(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Plain => "dbm\nhash\nbtree\ncdb\nimplicit\n",
        ListKind::Extended => "dbm:dir\nhash:db\nbtree:db\ncdb:cdb\nimplicit:\n",
    }
}

/// makemap's usage text for program `prog` (three lines on stderr, then exit 64).
pub fn usage(prog: &str) -> String {
    let pad = " ".repeat(prog.len());
    format!(
        "Usage: {prog} [-C cffile] [-N] [-c cachesize] [-D commentchar]\n       \
         {pad} [-d] [-e] [-f] [-i type] [-l] [-o] [-r] [-s] [-t delimiter]\n       \
         {pad} [-u] [-v] type mapname\n"
    )
}

/// A command line makemap refuses: `message` (getopt's complaint, may be empty) goes to
/// stderr before the usage text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
}

/// makemap's option letters; those followed by `:` take a value.
const OPTSTRING: &[u8] = b"C:D:Nc:defi:Llorst:uvx";

/// Parse the arguments after argv[0] the way glibc `getopt` does with makemap's option
/// string: clustered flags (`-Nf`), attached or separate values (`-t:`, `-t :`, `-t -`),
/// options after the operands (argument permutation), `--` ends the options. `argv0` is
/// used in getopt's messages as glibc does (the whole argv[0]). `-l`/`-L`/`-x` stop the
/// parse where they stand, as makemap exits there.
pub fn parse_args(argv0: &str, args: &[std::ffi::OsString]) -> Result<Options, UsageError> {
    use std::os::unix::ffi::OsStrExt;
    let mut o = Options::default();
    let mut operands: Vec<std::ffi::OsString> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        i += 1;
        if a == b"--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            operands.push(args[i - 1].clone());
            continue;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            j += 1;
            let spec = OPTSTRING.iter().position(|&x| x == c && x != b':');
            let Some(p) = spec else {
                return Err(UsageError {
                    message: format!("{argv0}: invalid option -- '{}'\n", c as char),
                });
            };
            let takes = OPTSTRING.get(p + 1) == Some(&b':');
            let value: Option<Vec<u8>> = if takes {
                if j < a.len() {
                    let v = a[j..].to_vec();
                    j = a.len();
                    Some(v)
                } else if i < args.len() {
                    i += 1;
                    Some(args[i - 1].as_bytes().to_vec())
                } else {
                    return Err(UsageError {
                        message: format!(
                            "{argv0}: option requires an argument -- '{}'\n",
                            c as char
                        ),
                    });
                }
            } else {
                None
            };
            let v = value.unwrap_or_default();
            match c {
                b'C' => o.cf_file = Some(std::ffi::OsStr::from_bytes(&v).to_owned()),
                b'D' => o.rules.comment = Some(v.first().copied().unwrap_or(0)),
                b'N' => o.rules.nul = true,
                b'c' => o.cache_size = Some(String::from_utf8_lossy(&v).into_owned()),
                b'd' => o.duplicates = Duplicates::Keep,
                b'e' => o.rules.allow_empty = true,
                b'f' => o.rules.no_fold = true,
                b'i' => o.fallback = Some(String::from_utf8_lossy(&v).into_owned()),
                b'L' | b'l' => {
                    o.list = Some(ListKind::Plain);
                    return Ok(o);
                }
                b'x' => {
                    o.list = Some(ListKind::Extended);
                    return Ok(o);
                }
                b'o' => o.append = true,
                b'r' => {
                    if o.duplicates != Duplicates::Keep {
                        o.duplicates = Duplicates::Replace;
                    }
                }
                b's' => o.skip_safety = true,
                b't' => match v.first() {
                    Some(&b) => o.rules.separator = Some(b),
                    None => o.warnings.push("Invalid separator\n".into()),
                },
                b'u' => o.dump = true,
                b'v' => o.verbose = true,
                _ => unreachable!("every OPTSTRING letter is handled"),
            }
        }
    }
    if operands.len() != 2 {
        return Err(UsageError {
            message: String::new(),
        });
    }
    let mut it = operands.into_iter();
    o.map_type = it.next().unwrap().to_string_lossy().into_owned();
    o.name = it.next().unwrap();
    Ok(o)
}

#[cfg(test)]
mod tests {
    #[test]
    fn first_space_is_the_first_separator() {
        let rules = super::Rules::default();
        let slow = |b: &[u8]| b.iter().position(|&c| rules.is_sep(c));
        for len in 0..20 {
            for at in 0..len {
                for x in 0..=255u8 {
                    for fill in [b'a', 0x00, 0x80, 0xa0, 0x89, 0xff, 0x1f, 0x21, 0x08, 0x0e] {
                        let mut b = vec![fill; len];
                        b[at] = x;
                        assert_eq!(super::first_space(&b), slow(&b), "{b:?}");
                    }
                }
            }
        }
    }

    use super::*;
    use std::ffi::OsString;

    /// (line, Ok((key, value)) or Err(message)), as text.
    type Got = (u32, Result<(String, String), String>);

    fn run(src: &[u8], rules: Rules) -> Vec<Got> {
        Lines::new(src, rules)
            .map(|(n, r)| {
                (
                    n,
                    r.map(|r| {
                        (
                            String::from_utf8_lossy(&r.key).into_owned(),
                            String::from_utf8_lossy(&r.value).into_owned(),
                        )
                    })
                    .map_err(|e| String::from_utf8_lossy(&e.message()).into_owned()),
                )
            })
            .collect()
    }

    fn ok(n: u32, k: &str, v: &str) -> Got {
        (n, Ok((k.into(), v.into())))
    }

    fn err(n: u32, m: &str) -> Got {
        (n, Err(m.into()))
    }

    #[test]
    fn default_rules() {
        let src = b"# c\n\nKey\tValue  x \nb  c\r\nnovalue\n lead x\nk#x y\nlast z";
        assert_eq!(
            run(src, Rules::default()),
            [
                ok(3, "key", "Value  x "),
                ok(4, "b", "c\r"),
                err(5, "no RHS for LHS novalue"),
                err(6, "syntax error (leading space)"),
                ok(7, "k#x", "y"),
                ok(8, "last", "z"),
            ]
        );
    }

    #[test]
    fn separator_comment_empty_nul() {
        let r = Rules {
            separator: Some(b':'),
            comment: b'%',
            allow_empty: true,
            nul: true,
            fold: false,
        };
        assert_eq!(
            run(b" A::b c\n%x\n#k:v\n:e\nn\n", r),
            [
                ok(1, " A\0", "b c\0"),
                ok(3, "#k\0", "v\0"),
                ok(4, "\0", "e\0"),
                ok(5, "n\0", "\0"),
            ]
        );
    }

    #[test]
    fn long_lines_and_nul() {
        let mut src = vec![b'k'; 10];
        src.push(b' ');
        src.extend(vec![b'v'; 1011]); // 1022 bytes + newline: fits
        src.push(b'\n');
        src.extend(vec![b't'; 1023]);
        src.extend(b"u TAIL\nab\0cd\nx y\0z");
        let got = run(&src, Rules::default());
        assert_eq!(got[0].1.as_ref().unwrap().1.len(), 1011);
        assert_eq!(got[1], err(2, "line too long (1024 bytes max)"));
        assert_eq!(got[2], ok(3, "u", "TAIL"));
        assert_eq!(got[3], err(4, "line too long (1024 bytes max)"));
        assert_eq!(got[4], ok(5, "x", "y"));
        assert_eq!(got.len(), 5);
    }

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn getopt_spellings() {
        let p = |a: &[&str]| parse_args("makemap", &args(a)).unwrap();
        let o = p(&["-Nf", "-t:", "hash", "m", "-r"]);
        assert!(o.rules.nul && o.rules.no_fold);
        assert_eq!(o.rules.separator, Some(b':'));
        assert_eq!(o.duplicates, Duplicates::Replace);
        assert_eq!((o.map_type.as_str(), o.name.to_str()), ("hash", Some("m")));
        assert_eq!(p(&["-t", "-", "hash", "m"]).rules.separator, Some(b'-'));
        assert_eq!(p(&["-t-", "hash", "m"]).rules.separator, Some(b'-'));
        assert_eq!(
            p(&["-D%", "-c", "99", "hash", "m"]).rules.comment,
            Some(b'%')
        );
        assert_eq!(p(&["-D", "", "hash", "m"]).rules.comment, Some(0));
        assert_eq!(p(&["--", "hash", "-m"]).name.to_str(), Some("-m"));
        assert_eq!(p(&["-dr", "hash", "m"]).duplicates, Duplicates::Keep);
        assert_eq!(p(&["-rd", "hash", "m"]).duplicates, Duplicates::Keep);
        assert_eq!(
            p(&["-t", "", "hash", "m"]).warnings,
            ["Invalid separator\n"]
        );
        assert_eq!(p(&["-l", "-q"]).list, Some(ListKind::Plain));
        let e = parse_args("/x/makemap", &args(&["-q", "hash", "m"])).unwrap_err();
        assert_eq!(e.message, "/x/makemap: invalid option -- 'q'\n");
        let e = parse_args("makemap", &args(&["hash", "m", "-t"])).unwrap_err();
        assert_eq!(e.message, "makemap: option requires an argument -- 't'\n");
        assert_eq!(
            parse_args("makemap", &args(&["hash"])).unwrap_err().message,
            ""
        );
    }
}
