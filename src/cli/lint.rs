//! `cfmap lint`: report mistakes in configuration files.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use crate::lint::{self, Severity, format};

/// Check .cf files for mistakes sendmail would reject or silently misread.
///
/// cfmap lint reads each sendmail(8) configuration file as sendmail 8.17 reads it,
/// compiles it, and runs its rules over the result. Each rule looks for one kind of
/// mistake: lines sendmail rejects while it loads the file (and then ignores, so the
/// configuration it runs is not the one that was written), and lines it accepts but that
/// almost certainly do not do what their author meant.
///
/// Every finding names its file, line and column, its severity and the rule that found
/// it. Files are reported in the order they are given; within a file, findings are sorted
/// by position. Lines are counted from 1; columns are counted from 1, in bytes (a
/// configuration file need not be UTF-8). A file with CR LF line ends is read as sendmail
/// reads it (CR LF as LF), and positions refer to the file as it is on disk.
///
/// Exit status: 0 when no errors were found, 1 when errors were (or warnings, with
/// `--deny warnings`), 64 on a usage error, 66 when an input cannot be read.
#[derive(Debug, Args)]
#[command(after_long_help = LINT_AFTER_HELP)]
pub struct LintArgs {
    /// Configuration files to check.
    #[arg(value_name = "FILE.cf", required_unless_present_any = ["explain", "list_rules"])]
    pub files: Vec<PathBuf>,
    /// Output format (see OUTPUT FORMATS below).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Also fail (exit 1) on findings of this severity.
    ///
    /// `warnings` makes warnings fail; `info` makes warnings and info findings fail.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub deny: Option<Deny>,
    /// Look at map and class files on disk (missing-map-file, stale-map).
    ///
    /// The map databases and class files the configuration names are checked. Without
    /// this option, cfmap lint reads nothing but the configuration files themselves.
    #[arg(long)]
    pub check_files: bool,
    /// Directory relative map paths are resolved from, as sendmail's current directory
    /// (default: the current directory).
    ///
    /// Used with --check-files, for map and class paths alike.
    #[arg(long, value_name = "DIR")]
    pub base_dir: Option<PathBuf>,
    /// Print a rule's documentation and exit.
    ///
    /// The documentation says what the rule does, why it matters, and gives an example
    /// and what to write instead. An unknown name is a usage error (exit status 64).
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// List the rules with their severities and exit.
    ///
    /// One line for each rule: its name, its severity and a one-line summary; rules
    /// that only run with --check-files say so.
    #[arg(long)]
    pub list_rules: bool,
    /// Host name for `$j`, `$w`, `$m` (default: this machine's).
    ///
    /// This machine's host name is taken without DNS.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Colour in human output.
    ///
    /// With auto (the default), colour is used when standard output is a terminal and
    /// NO_COLOR is not set.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// The rest of `cfmap lint --help` and of cfmap-lint(1): output formats, the JSON schema,
/// the rules, exit statuses.
const LINT_AFTER_HELP: &str = r#"SEVERITIES:
  error     sendmail rejects the line, or the rule cannot work. Errors make the exit
            status 1.
  warning   sendmail accepts the line, but it is almost certainly a mistake.
  info      Worth knowing; never fails unless --deny info is given.

OUTPUT FORMATS:
  All formats write to standard output. A clean file prints nothing (json prints an empty array).

  human    A report per finding with the rule name, the message, the source lines
           around the place with the place and related places marked and labelled, and
           a hint where the rule has one. Meant for people: its layout may change
           between versions.

  short    One line per finding, stable:

             FILE:LINE:COLUMN: SEVERITY[RULE]: MESSAGE

           for example

             site.cf:6:2: error[missing-tab]: invalid rewrite line "R$* $@ x" (tab expected)

  json     One JSON array holding every finding of every file, stable; see JSON SCHEMA
           below.

  github   GitHub Actions workflow commands, one line per finding, which make the
           findings appear as annotations on the lines of a pull request:

             ::error file=site.cf,line=6,col=2,endLine=6,endColumn=9,title=missing-tab::MESSAGE

           The level is error, warning or notice (for info findings). In the file name
           and the title, percent signs, colons, commas, CR and LF are written as %25,
           %3A, %2C, %0D and %0A; in the message, percent signs, CR and LF are. This
           format follows GitHub's.

JSON SCHEMA:
  The json format prints one JSON array. Each element is an object with these fields:

  file (string)
      The file name as it was given on the command line.
  line, column (integers)
      Where the finding starts: 1-based line, and 1-based column counted in bytes.
  end_line, end_column (integers)
      Where it ends: the line, and the column just after its last byte (1-based, bytes).
  offset (integer)
      The byte offset of the start from the beginning of the file as it is on disk
      (0-based; CR bytes of CR LF line ends are counted).
  length (integer)
      The number of bytes the finding covers in the file as it is on disk.
  severity (string)
      "error", "warning" or "info".
  rule (string)
      The rule's kebab-case name, as --list-rules prints it.
  message (string)
      What is wrong. Where sendmail prints a message for the mistake while it reads the
      file, the message is sendmail's.
  help (string or null)
      How to fix it, or null when the rule has no hint.
  labels (array)
      Other places that explain the finding (the first definition of a ruleset defined
      twice, the earlier rule that shadows this one), possibly empty. Each is an object
      with the fields line, column, end_line, end_column (integers, as above) and
      message (string).

  For the file (with <TAB> standing for a TAB character)

    V10/Berkeley
    Djvm.example.com
    O OperatorChars=.:%@!^/[]+
    Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true
    S0
    R$* $@ x
    R$*<TAB>$#local $: $1
    Scheck_mail
    R$*<TAB>$: $1
    Scheck_mail
    R$+<TAB>$@ $1

  "cfmap lint --format json site.cf" prints

    [
      {
        "column": 2,
        "end_column": 9,
        "end_line": 6,
        "file": "site.cf",
        "help": "separate the LHS, the RHS and the comment with TAB characters",
        "labels": [],
        "length": 7,
        "line": 6,
        "message": "invalid rewrite line \"R$* $@ x\" (tab expected)",
        "offset": 106,
        "rule": "missing-tab",
        "severity": "error"
      },
      {
        "column": 2,
        "end_column": 12,
        "end_line": 10,
        "file": "site.cf",
        "help": null,
        "labels": [
          {
            "column": 1,
            "end_column": 12,
            "end_line": 8,
            "line": 8,
            "message": "first defined here"
          }
        ],
        "length": 10,
        "line": 10,
        "message": "WARNING: Ruleset check_mail has multiple definitions",
        "offset": 155,
        "rule": "duplicate-ruleset",
        "severity": "warning"
      }
    ]

  Fields may be added in later versions; the fields above keep their meaning. The order of the fields in an object is not significant.

RULES:
  Each rule reports at the severity shown, except where its description says otherwise. cfmap lint --explain RULE prints a rule's full documentation with an example.

  syntax-error (error)
      Lines sendmail rejects or misreads while it loads the configuration: unknown line
      types, bad S lines, bad macro names, unknown options, malformed K and M lines, an
      R line before any S line, an empty right-hand side, more than nine wildcards,
      tokens too long for sendmail's buffers.
  missing-tab (error)
      An R line whose left-hand side and right-hand side are not separated by a TAB.
      sendmail splits rules on TABs only, so blanks are part of the left-hand side and
      the line is rejected.
  unknown-metasymbol (error)
      A $ sequence that is no metasymbol (such as $%), or a metasymbol on the wrong side
      of a rule: $1 to $9, $:, $>, $[, $], $(, $) on the left-hand side; $*, $+, $-,
      $=, $~ on the right-hand side.
  unbalanced-lookup (error)
      A map lookup $( ... $) or host lookup $[ ... $] that is never closed, a lookup
      opened inside another one, or a closing token with no lookup open.
  empty-lhs (error)
      A rule whose left-hand side has no tokens after macro expansion and tokenizing;
      it matches only an empty workspace.
  rhs-out-of-bounds (error)
      A $n on the right-hand side with no matching wildcard on the left-hand side (n of
      0, or greater than the number of wildcards).
  undefined-ruleset (error)
      A $> call to a ruleset no S line, mailer S=/R= field or H line ever names, or to
      a number of 100 or more.
  undefined-map (error)
      A $(map ... $) lookup in a map no K line declares (names compared
      case-insensitively, as sendmail does).
  unknown-map-class (error)
      A K line with a map class sendmail does not have.
  unavailable-map-class (warning)
      A K line with a map class Debian's sendmail 8.17 is built without (dbm, cdb,
      hesiod, netinfo, nsd, ph).
  undefined-class (warning)
      A $=X or $~X class that no C, T or F line gives members and that sendmail does
      not fill itself. The classes sendmail's m4 configuration leaves empty as hooks for
      the administrator are not reported.
  undefined-macro (warning)
      A macro used before (or without) being defined: $x in R, S, K and C lines when x
      has no value at that point of the file, and $&x when nothing ever gives x a value
      and sendmail does not set it while it works.
  unknown-mailer (error)
      A $#mailer in ruleset 0, or a ruleset it calls, that names no mailer: neither an
      M line nor one of sendmail's own (error, discard, prog, *file*, *include*).
  duplicate-ruleset (warning)
      An S line selecting a ruleset that already has rules; sendmail appends the new
      rules to the old ones.
  infinite-loop (error)
      A rule without $: or $@ whose result always matches its own left-hand side again;
      sendmail gives up after 100 rounds.
  shadowed-rule (warning)
      A rule that can never match because an earlier rule of the same ruleset takes all
      its input. An exact repetition of an earlier rule's left-hand side is reported as
      info.
  unused-map (warning)
      A map declared by a K line that no rule looks up and no sequence or switch map
      uses. Maps without data (arith, macro, host, ...) are not reported.
  unused-ruleset (info)
      A named ruleset with rules that nothing calls: no $>, no mailer field, no H line,
      and not one sendmail calls itself (rulesets 0 to 5, check_mail, check_rcpt, ...).
  operator-chars-redefined (warning)
      An O OperatorChars= line after the first R line or after an earlier one; sendmail
      ignores it.
  option-abbreviation (info)
      An O line whose option name is an abbreviation of a longer name.
  missing-map-file (error)
      Only with --check-files: a map database (FILE.db for hash, btree and implicit,
      FILE.dir and FILE.pag for dbm, FILE.cdb for cdb, FILE for text) or a class file
      (F line) that does not exist. Optional maps and classes (-o) are not reported.
  stale-map (warning)
      Only with --check-files: a map database older than the text source beside it (the
      database's name without its suffix), as when a map was edited and makemap(8) not
      run again.

EXIT STATUS:
  0    No errors were found (and, with --deny, no findings of the denied severities);
       or --explain or --list-rules succeeded.
  1    Errors were found, or warnings with --deny warnings, or warnings or info
       findings with --deny info.
  64   Usage error: an unknown option or option value, no file given, or an unknown
       rule name for --explain.
  66   A file cannot be read. The other files are still checked and reported.
  74   Output cannot be written.

ENVIRONMENT:
  NO_COLOR   When set, the human format is not coloured unless --color always is given.

EXAMPLES:
  Check a configuration, including its map files, as sendmail would see them from /etc/mail:

    cfmap lint --check-files --base-dir /etc/mail /etc/mail/sendmail.cf

  In CI, fail on warnings too and annotate the pull request:

    cfmap lint --deny warnings --format github sendmail.cf

  Read about a rule:

    cfmap lint --explain shadowed-rule

SEE ALSO:
  cfmap(1), cfmap-compile(1), sendmail(8), makemap(8)"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Reports with source snippets.
    Human,
    /// `file:line:col: severity[rule]: message`.
    Short,
    /// One JSON array.
    Json,
    /// GitHub Actions workflow commands.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Warnings fail too.
    Warnings,
    /// Warnings and info findings fail too.
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub fn run(a: LintArgs) -> i32 {
    let mut stdout = std::io::stdout().lock();
    if a.list_rules {
        for r in lint::RULES {
            let _ = writeln!(
                stdout,
                "{:<26} {:<8} {}",
                r.name,
                r.severity.as_str(),
                r.summary()
            );
        }
        return exit::OK;
    }
    if let Some(name) = &a.explain {
        return match lint::rule(name) {
            Some(r) => {
                let _ = write!(
                    stdout,
                    "{} ({})\n\n{}",
                    r.name,
                    r.severity.as_str(),
                    r.docs()
                );
                exit::OK
            }
            None => {
                eprintln!("cfmap: no lint rule named {name:?} (see cfmap lint --list-rules)");
                exit::USAGE
            }
        };
    }
    let opts = super::compile_options(a.hostname.as_deref());
    let base_dir = a.base_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut files = Vec::new();
    let mut unreadable = false;
    for (i, path) in a.files.iter().enumerate() {
        match super::read_source(path, i as u32) {
            Ok(f) => files.push(f),
            Err(msg) => {
                eprintln!("{msg}");
                unreadable = true;
            }
        }
    }
    let results: Vec<Vec<lint::Diagnostic>> = files
        .iter()
        .map(|f| {
            let syntax = crate::cf::parse(f);
            let ir = crate::ir::compile(&syntax, &opts);
            let ctx = lint::Context {
                file: f,
                syntax: &syntax,
                ir: &ir,
                check_files: a.check_files,
                base_dir: base_dir.clone(),
            };
            lint::run(&ctx)
        })
        .collect();
    let reports: Vec<format::FileReport> = files
        .iter()
        .zip(&results)
        .map(|(file, d)| format::FileReport {
            file,
            diagnostics: d,
        })
        .collect();
    let fmt = match a.format {
        OutputFormat::Human => format::Format::Human,
        OutputFormat::Short => format::Format::Short,
        OutputFormat::Json => format::Format::Json,
        OutputFormat::Github => format::Format::Github,
    };
    let color = match a.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match format::write(&mut stdout, fmt, &reports, color).and_then(|_| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(_) => return exit::IOERR,
    }
    if unreadable {
        return exit::NOINPUT;
    }
    let worst = results.iter().flatten().map(|d| d.severity).min();
    let fails = matches!(
        (worst, a.deny),
        (Some(Severity::Error), _)
            | (Some(Severity::Warning), Some(_))
            | (Some(Severity::Info), Some(Deny::Info))
    );
    if fails { exit::FINDINGS } else { exit::OK }
}
