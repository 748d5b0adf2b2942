//! `cfmap check`: run test files of expected ruleset results (see [`crate::check`]).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use crate::check::{Item, parse};
use crate::engine::Session;

/// Check expected ruleset results, for CI.
///
/// cfmap check reads a sendmail(8) configuration and one or more test files, runs every
/// case as `sendmail -bt` would run it, and reports which cases got the expected result.
/// Each failure shows the case's trace (what `cfmap test` prints for it). The exit status
/// is 1 when a case fails.
///
/// A test file has one case a line: a ruleset list, a blank, the address, `=>`, and the
/// expected result as the trace prints it (tokens separated by single blanks), optionally
/// followed by `status N`. `define NAME=VALUE`, `.Dx value` and `.Cx words` lines set
/// macros and classes for the cases after them; `map NAME=FILE` lines (before the first
/// case) let map NAME answer from a text file of `key value` lines. `#` starts a comment.
#[derive(Debug, Args)]
#[command(after_long_help = CHECK_AFTER_HELP)]
pub struct CheckArgs {
    #[command(flatten)]
    pub setup: super::test::SetupArgs,
    /// Test files.
    #[arg(required = true, value_name = "CASES")]
    pub cases: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per case (`ok` / `FAIL`), the trace of each failure, and a summary.
    Text,
    /// JUnit XML: one testsuite per test file, one testcase per case.
    Junit,
}

const CHECK_AFTER_HELP: &str = "\
TEST FILE FORMAT:
  One item a line; blank lines and lines starting with # are ignored, and ` # ...` after
  a case is a comment.

  RULESETS ADDRESS => RESULT [status N]
       A case. RULESETS is a list as sendmail -bt takes it (3,0 or check_mail); the
       address runs through each ruleset in turn. RESULT is the final workspace as the
       trace prints it: tokens separated by blanks (runs of blanks count as one). With
       `status N` the status of the last ruleset that did not return 0 must be N (0 when
       all did); without it the status is not checked.
  define NAME=VALUE
       Define macro NAME (one character, or a long name with or without braces) for the
       cases that follow; before the first case it acts like -d.
  .Dx value / .Cx words
       Passed to the session as sendmail -bt would take them.
  map NAME=FILE
       Map NAME answers from FILE (`key value` lines), like --map; only before the first
       case.

  Cases in one file share a session, as lines typed into sendmail -bt do: macros set by
  a macro map or a define stay set, maps stay open.

WORKED EXAMPLES:
  testdata/example/site.cases (for testdata/example/site.cf) and testdata/check/junk2.cases
  (for testdata/bt/junk2/site.cf) check the two junk-mail check_mail rulesets of the
  repository; their expected results are compared with real sendmail -bt in its tests.

EXAMPLE TEST FILE:
  # testdata/example/site.cases
  check_mail <honey@sweeties.com>  =>  $# error $@ 5 . 7 . 1 $: \"550 Sorry, we don't accept junk mail\"
  check_mail <friend@example.org>  =>  OK
  3,0 alice  =>  $# local $: alice

EXIT STATUS:
  0    Every case passed.
  1    A case failed.
  64   Usage error, or a test file line that is not a case.
  66   The configuration or a test file cannot be read.

SEE ALSO:
  cfmap(1), cfmap-test(1), sendmail(8)";

struct Outcome {
    file: String,
    line: usize,
    name: String,
    failure: Option<String>,
}

fn xml(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub fn run(a: CheckArgs) -> i32 {
    let mut files = Vec::new();
    for path in &a.cases {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("cfmap: {}: {}", path.display(), super::io_reason(&e));
                return exit::NOINPUT;
            }
        };
        match parse(&data) {
            Ok(items) => files.push((path.display().to_string(), items)),
            Err(e) => {
                eprintln!("cfmap: {}: {e}", path.display());
                return exit::USAGE;
            }
        }
    }
    let mut outcomes = Vec::new();
    for (name, items) in &files {
        let mut maps = Vec::new();
        let mut define = Vec::new();
        for it in items {
            if let Item::Map { name, file } = it {
                maps.push(format!("{name}={file}"));
            }
        }
        // `define` lines before the first case act like -d.
        for it in items {
            match it {
                Item::Define { name, value } => {
                    define.push(format!("{name}={}", String::from_utf8_lossy(value)))
                }
                Item::Case(_) => break,
                _ => {}
            }
        }
        let loaded = match super::test::load(&a.setup, &define, &maps) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let (maps, _) = super::test::build_maps(&loaded);
        let mut session = Session::new(&loaded.ir, maps, &loaded.opts);
        session.take_output();
        let mut started = false;
        for it in items {
            match it {
                Item::Map { .. } => {}
                Item::Define { name, value } => {
                    if started {
                        let mut line = b".D".to_vec();
                        if name.len() == 1 {
                            line.extend_from_slice(name.as_bytes());
                        } else {
                            line.extend_from_slice(
                                format!("{{{}}}", name.trim_matches(['{', '}'])).as_bytes(),
                            );
                        }
                        line.extend_from_slice(value);
                        session.command(&line);
                        session.take_output();
                    }
                }
                Item::Command(c) => {
                    session.command(c);
                    session.take_output();
                }
                Item::Case(c) => {
                    started = true;
                    let got = session.run_case(&c.rulesets, &c.address);
                    let trace = String::from_utf8_lossy(&session.take_output()).into_owned();
                    let case_name = format!(
                        "{} {}",
                        String::from_utf8_lossy(&c.rulesets),
                        String::from_utf8_lossy(&c.address)
                    );
                    let failure = match got {
                        None => Some(format!("no ruleset ran\n{trace}")),
                        Some((result, status)) => {
                            let result_ok = result == c.expected;
                            let status_ok = c.status.is_none_or(|s| s == status);
                            if result_ok && status_ok {
                                None
                            } else {
                                Some(format!(
                                    "expected: {}{}\n     got: {}{}\n{}",
                                    String::from_utf8_lossy(&c.expected),
                                    c.status
                                        .map(|s| format!("  status {s}"))
                                        .unwrap_or_default(),
                                    String::from_utf8_lossy(&result),
                                    if c.status.is_some() {
                                        format!("  status {status}")
                                    } else {
                                        String::new()
                                    },
                                    trace
                                ))
                            }
                        }
                    };
                    outcomes.push(Outcome {
                        file: name.clone(),
                        line: c.line,
                        name: case_name,
                        failure,
                    });
                }
            }
        }
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let mut out = String::new();
    match a.format {
        Format::Text => {
            for o in &outcomes {
                match &o.failure {
                    None => out.push_str(&format!("ok    {}:{}: {}\n", o.file, o.line, o.name)),
                    Some(f) => {
                        out.push_str(&format!("FAIL  {}:{}: {}\n", o.file, o.line, o.name));
                        for l in f.lines() {
                            out.push_str("      ");
                            out.push_str(l);
                            out.push('\n');
                        }
                    }
                }
            }
            out.push_str(&format!(
                "{} cases, {} passed, {} failed\n",
                outcomes.len(),
                outcomes.len() - failed,
                failed
            ));
        }
        Format::Junit => {
            out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            out.push_str(&format!(
                "<testsuites name=\"cfmap check\" tests=\"{}\" failures=\"{}\">\n",
                outcomes.len(),
                failed
            ));
            for (file, _) in &files {
                let mine: Vec<&Outcome> = outcomes.iter().filter(|o| &o.file == file).collect();
                let f = mine.iter().filter(|o| o.failure.is_some()).count();
                out.push_str(&format!(
                    "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
                    xml(file),
                    mine.len(),
                    f
                ));
                for o in mine {
                    out.push_str(&format!(
                        "    <testcase classname=\"{}\" name=\"line {}: {}\"",
                        xml(file),
                        o.line,
                        xml(&o.name)
                    ));
                    match &o.failure {
                        None => out.push_str("/>\n"),
                        Some(msg) => {
                            let first = msg.lines().next().unwrap_or("");
                            out.push_str(&format!(
                                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                                xml(first),
                                xml(msg)
                            ));
                        }
                    }
                }
                out.push_str("  </testsuite>\n");
            }
            out.push_str("</testsuites>\n");
        }
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return exit::IOERR;
    }
    if failed > 0 { exit::FINDINGS } else { exit::OK }
}
