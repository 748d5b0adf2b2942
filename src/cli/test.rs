//! `cfmap test`: address test mode, as `sendmail -bt -C FILE.cf`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use crate::cf::{ClassSource, MacroName};
use crate::engine::testmode::{BANNER, Flow, LINE_BUFFER};
use crate::engine::{Session, SessionOptions};
use crate::ir;

/// Run rulesets on addresses exactly as `sendmail -bt` does.
///
/// cfmap test reads a sendmail(8) configuration, then reads address test commands from
/// standard input (or from -e options) and prints what `sendmail -bt -C FILE.cf` prints
/// for them, byte for byte: the banner, the `> ` prompts, the trace of every ruleset
/// (nested `$>` calls included), map lookups, and sendmail's error messages. It needs no
/// root, no daemon and no DNS: host names come from the configuration's `Dj` line (or
/// `-d j=NAME`), and `$[ … $]` lookups read the hosts file the configuration names.
#[derive(Debug, Args)]
#[command(after_long_help = TEST_AFTER_HELP)]
pub struct TestArgs {
    #[command(flatten)]
    pub setup: SetupArgs,
    /// Run LINE as if it had been typed (repeatable); standard input is not read.
    #[arg(short = 'e', value_name = "LINE")]
    pub eval: Vec<String>,
}

/// How a configuration is read for the engine (shared by `test` and `check`).
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The configuration file (required).
    #[arg(short = 'C', value_name = "FILE.cf")]
    pub config: PathBuf,
    /// Define macro NAME (one character or a long name, braces optional) as VALUE after
    /// the configuration is read; `-d j=mx.example.com` sets the host name.
    #[arg(short = 'd', value_name = "NAME=VALUE")]
    pub define: Vec<String>,
    /// Read absolute map and class file paths below DIR (/etc/mail/x is DIR/etc/mail/x).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Let map NAME answer from FILE, a text file of `key value` lines, instead of its
    /// network service (ldap, dns, socket, program…).
    #[arg(long = "map", value_name = "NAME=FILE")]
    pub maps: Vec<String>,
    /// The passwd file `user` maps read (default /etc/passwd, below --root if given).
    #[arg(long, value_name = "FILE")]
    pub passwd: Option<PathBuf>,
}

const TEST_AFTER_HELP: &str = "\
COMMANDS:
  The commands are those of sendmail -bt: `RULESETS ADDRESS` (rulesets by number or
  name, separated by commas, applied in order to each comma-separated address), `.Dx
  value`, `.Cx words`, `=Sruleset`, `$x`, `$=x`, `/map NAME KEY`, `/tryflags`, `/canon`,
  `/mx`, `/expand`, `/quit`. Ruleset 3 is not applied automatically: type `3,0 ADDRESS`.

MAP FILES:
  A map file rebuilt while cfmap test runs is answered from the first line that starts
  a tick of the coarse clock (1-10 ms) after the rebuild: a file map looks at its file at
  most once a line and once a tick, where sendmail looks before every lookup. What a
  file gave for a key is kept until the file is seen to change (its modification time,
  as sendmail compares it) and the map is reopened. The hosts file that `$[ … $]`
  lookups read is looked at the same way (its size, inode and times), where sendmail's
  resolver reads it again for every new name.

EXIT STATUS:
  0    End of input or /quit.
  64   Usage error.
  66   The configuration cannot be read.
  74   Output cannot be written.

EXAMPLES:
  What check_mail does with a sender, without a running sendmail:

    echo 'check_mail <honey@sweeties.com>' | cfmap test -C site.cf

SEE ALSO:
  cfmap(1), cfmap-lint(1), sendmail(8)";

fn parse_define(s: &str) -> Option<(MacroName, Vec<u8>)> {
    let (name, value) = s.split_once('=')?;
    let name = name.trim_start_matches('{').trim_end_matches('}');
    let name = match name.as_bytes() {
        [] => return None,
        [b] => MacroName::Short(*b),
        n => MacroName::Long(n.to_vec()),
    };
    Some((name, value.as_bytes().to_vec()))
}

/// Where a path in the configuration is read from.
pub fn resolve(path: &[u8], root: Option<&Path>) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let p = Path::new(std::ffi::OsStr::from_bytes(path));
    match root {
        Some(r) if p.is_absolute() => r.join(p.strip_prefix("/").unwrap_or(p)),
        _ => p.to_path_buf(),
    }
}

/// The words an F line's file gives (`fileclass`: lines starting `#` are skipped, each
/// line goes through the scanf format, `%s` unless given, then splits on blanks).
fn class_file_words(data: &[u8], format: Option<&[u8]>) -> Vec<Vec<u8>> {
    let mut words = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        if line.first() == Some(&b'#') {
            continue;
        }
        let picked: &[u8] = match format {
            Some(f) if f.starts_with(b"%[^") && f.ends_with(b"]") => {
                let stop = &f[3..f.len() - 1];
                let n = line.iter().take_while(|b| !stop.contains(b)).count();
                &line[..n]
            }
            _ => {
                let s = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
                let rest = &line[s..];
                let n = rest.iter().take_while(|b| !b.is_ascii_whitespace()).count();
                &rest[..n]
            }
        };
        for w in picked.split(|b| b.is_ascii_whitespace()) {
            if !w.is_empty() {
                words.push(w.to_vec());
            }
        }
    }
    words
}

/// Split input as `fgets` into a 2048-byte buffer does: at newlines, and every 2047
/// bytes of a longer line.
pub fn input_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let max = (LINE_BUFFER - 1).min(data.len() - i);
        let chunk = &data[i..i + max];
        match memchr::memchr(b'\n', chunk) {
            Some(p) => {
                lines.push(&chunk[..p]);
                i += p + 1;
            }
            None => {
                lines.push(chunk);
                i += max;
            }
        }
    }
    lines
}

/// A configuration read for the engine: what sendmail has after reading it.
pub(crate) struct Loaded {
    pub ir: ir::Ir,
    pub opts: SessionOptions,
    /// Read-time messages (source position, line), printed before the banner.
    pub pre: Vec<(u32, String)>,
    pub file: crate::cf::SourceFile,
    pub config: PathBuf,
    pub root: Option<PathBuf>,
    pub overrides: Vec<(Vec<u8>, PathBuf)>,
    pub passwd: Option<PathBuf>,
}

/// Read and compile the configuration with its `-d` definitions (and `extra_defines`,
/// `extra_maps` from a test file), reading F-line class files.
pub(crate) fn load(
    setup: &SetupArgs,
    extra_defines: &[String],
    extra_maps: &[String],
) -> Result<Loaded, i32> {
    let config = setup.config.as_path();
    let root = setup.root.as_deref();
    let define: Vec<String> = setup.define.iter().chain(extra_defines).cloned().collect();
    let maps: Vec<String> = setup.maps.iter().chain(extra_maps).cloned().collect();
    let file = match super::read_source(config, 0) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("{msg}");
            return Err(exit::NOINPUT);
        }
    };
    let mut defines = Vec::new();
    for d in &define {
        match parse_define(d) {
            Some(x) => defines.push(x),
            None => {
                eprintln!("cfmap: -d {d}: expected NAME=VALUE");
                return Err(exit::USAGE);
            }
        }
    }
    let mut overrides = Vec::new();
    for m in &maps {
        match m.split_once('=') {
            Some((n, f)) if !n.is_empty() && !f.is_empty() => {
                overrides.push((n.as_bytes().to_vec(), PathBuf::from(f)));
            }
            _ => {
                eprintln!("cfmap: --map {m}: expected NAME=FILE");
                return Err(exit::USAGE);
            }
        }
    }
    let hostname = defines
        .iter()
        .find(|(n, _)| *n == MacroName::Short(b'j'))
        .map(|(_, v)| v.clone());
    // The IR seeds $=w/$=k/$=m with the host name; an empty seed leaves only the
    // configuration's own members for the session to start from.
    let seed = hostname.clone().unwrap_or_default();
    let copts = ir::CompileOptions {
        hostname: seed.clone(),
        ..ir::CompileOptions::default()
    };
    let syntax = crate::cf::parse(&file);
    let ir = ir::compile(&syntax, &copts);

    let mut pre = Vec::new();
    let ctx = crate::lint::Context {
        file: &file,
        syntax: &syntax,
        ir: &ir,
        check_files: false,
        base_dir: PathBuf::from("."),
    };
    for r in crate::lint::RULES {
        if !crate::lint::READ_TIME_RULES.contains(&r.name) {
            continue;
        }
        let mut found = Vec::new();
        (r.check)(&ctx, r, &mut found);
        for d in found {
            let line = file.locate((d.span.end as usize).saturating_sub(1)).line;
            pre.push((
                d.span.start,
                format!("{}: line {}: {}\n", config.display(), line, d.message),
            ));
        }
    }
    for p in &ir.problems {
        if matches!(
            p.kind,
            ir::ProblemKind::NestedLookup
                | ir::ProblemKind::UnclosedLookup
                | ir::ProblemKind::TooManyMapArgs
        ) {
            let line = file.locate((p.span.end as usize).saturating_sub(1)).line;
            pre.push((
                p.span.start,
                format!("{}: line {}: {}\n", config.display(), line, p.message),
            ));
        }
    }
    let mut file_class_words = Vec::new();
    for fc in &ir.file_classes {
        let ClassSource::File(path) = &fc.source else {
            continue;
        };
        match std::fs::read(resolve(path, root)) {
            Ok(data) => {
                for w in class_file_words(&data, fc.format.as_deref()) {
                    file_class_words.push((fc.class, w));
                }
            }
            Err(e) if !fc.optional => {
                let line = file.locate(fc.span.start as usize).line;
                pre.push((
                    fc.span.start,
                    format!(
                        "{}: line {}: fileclass: cannot open '{}': {}\n",
                        config.display(),
                        line,
                        String::from_utf8_lossy(path),
                        super::io_reason(&e)
                    ),
                ));
            }
            Err(_) => {}
        }
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let opts = SessionOptions {
        hostname,
        defines,
        file_class_words,
        user: user.into_bytes(),
        date: Vec::new(),
        seed_hostname: seed,
        help: ir
            .option("HelpFile")
            .and_then(|h| std::fs::read(resolve(h, root)).ok()),
        no_memos: false,
    };
    Ok(Loaded {
        ir,
        opts,
        pre,
        file,
        config: config.to_path_buf(),
        root: root.map(Path::to_path_buf),
        overrides,
        passwd: setup.passwd.clone(),
    })
}

pub fn run(a: TestArgs) -> i32 {
    // The process ends with the run: the configuration and the session are left for
    // the exit to reclaim (taking a large configuration apart costs more than reading
    // a short test file).
    let loaded = match load(&a.setup, &[], &[]) {
        Ok(l) => std::mem::ManuallyDrop::new(l),
        Err(code) => return code,
    };
    let (maps, pre) = build_maps(&loaded);
    let mut session = std::mem::ManuallyDrop::new(Session::new(&loaded.ir, maps, &loaded.opts));
    let pre = &pre;
    let input: Vec<u8> = if a.eval.is_empty() {
        let mut v = Vec::new();
        if std::io::stdin().lock().read_to_end(&mut v).is_err() {
            return exit::NOINPUT;
        }
        v
    } else {
        a.eval
            .iter()
            .flat_map(|l| [l.as_bytes(), b"\n"].concat())
            .collect()
    };
    let stdout = std::io::stdout();
    widen_pipe(&stdout);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut write = |b: &[u8]| out.write_all(b);
    let mut result = write(pre)
        .and_then(|_| write(&session.take_output()))
        .and_then(|_| write(BANNER));
    // Lines' output collects in the session's buffer and goes out in large writes.
    for line in input_lines(&input) {
        if result.is_err() {
            break;
        }
        session.print(b"> ");
        let flow = session.command(line);
        if session.output().len() >= 1 << 18 || flow == Flow::Quit {
            result = write(session.output());
            session.clear_output();
        }
        if flow == Flow::Quit {
            return finish(result, out);
        }
    }
    if result.is_ok() {
        session.print(b"> ");
        result = write(session.output());
    }
    finish(result, out)
}

/// When standard output is a pipe, ask for a 1 MiB pipe buffer (Linux's default limit
/// for unprivileged processes): a trace of many megabytes then goes out in fewer
/// rounds of writer and reader waking each other. Nothing changes when it fails.
fn widen_pipe(stdout: &std::io::Stdout) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileTypeExt;
    // As makemap looks at its standard input: through /proc/self/fd.
    if std::fs::metadata("/proc/self/fd/1").is_ok_and(|m| m.file_type().is_fifo()) {
        // SAFETY: F_SETPIPE_SZ on our own descriptor; it reads no memory of ours.
        unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
    }
}

fn finish(result: std::io::Result<()>, mut out: impl Write) -> i32 {
    match result.and_then(|_| out.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(_) => exit::IOERR,
    }
}

/// The maps of the configuration, as the engine sees them.
/// With the read-time messages of the file and its maps, in file order.
pub(crate) fn build_maps(loaded: &Loaded) -> (Box<dyn crate::maps::lookup::Maps + '_>, Vec<u8>) {
    let opts = crate::maps::classes::MapOptions {
        base_dir: PathBuf::new(),
        root: loaded.root.clone(),
        overrides: loaded.overrides.clone(),
        passwd: loaded.passwd.clone(),
        uid: None,
    };
    let set = crate::maps::classes::MapSet::new(&loaded.ir, &opts);
    let mut pre = loaded.pre.clone();
    for (span, text) in set.read_messages() {
        let line = loaded
            .file
            .locate((span.end as usize).saturating_sub(1))
            .line;
        pre.push((
            span.start,
            format!(
                "{}: line {}: {}\n",
                loaded.config.display(),
                line,
                String::from_utf8_lossy(text)
            ),
        ));
    }
    pre.sort_by_key(|p| p.0);
    let bytes = pre.into_iter().flat_map(|p| p.1.into_bytes()).collect();
    (Box::new(set), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_split_like_fgets() {
        let mut data = vec![b'a'; 2050];
        data.push(b'\n');
        data.extend_from_slice(b"x\n");
        let l = input_lines(&data);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].len(), 2047);
        assert_eq!(l[1], b"aaa");
        assert_eq!(l[2], b"x");
    }

    #[test]
    fn class_files_take_the_first_word_by_default() {
        let data = b"# comment\nfoo bar\n  baz\n\nqux # x\n";
        assert_eq!(
            class_file_words(data, None),
            [b"foo".to_vec(), b"baz".to_vec(), b"qux".to_vec()]
        );
        assert_eq!(
            class_file_words(b"a b # c\n", Some(b"%[^#]")),
            [b"a".to_vec(), b"b".to_vec()]
        );
    }
}
