//! `cfmap verify RCPT...`: ask the mailbox server whether it would accept recipients,
//! with the shared positive cache.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::sysexits;
use crate::verify::{self, Action, Settings, Verdict, Verifier, route::RouteSpec, smtp::Client};

/// Verify recipients against the mailbox server over SMTP, with a cache of positive
/// answers shared with Perl filters.
///
/// For each RCPT: a cache entry younger than --max-age means valid, with no connection.
/// Otherwise cfmap connects to the server (--server, or the host the --mailertable entry
/// of the recipient's domain names in brackets) and says EHLO (HELO if EHLO is refused),
/// MAIL FROM:<--sender>, RCPT TO:<RCPT> and QUIT. The reply to RCPT TO decides: 2xx
/// valid (recorded in the cache), 5xx invalid (never cached), 4xx temporary failure. A
/// refused connection, a timeout, a malformed reply or a refusal before RCPT TO are
/// temporary failures. An address with a control byte or a blank is refused before any
/// connection.
#[derive(Debug, Args)]
#[command(after_long_help = VERIFY_AFTER_HELP)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub options: VerifyOptions,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    pub format: VerifyFormat,
    /// Recipient addresses, with or without angle brackets.
    #[arg(value_name = "RCPT", required = true)]
    pub recipients: Vec<String>,
}

/// The options of a verification, shared by `cfmap verify` and `cfmap serve --verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyOptions {
    /// The positive cache: NAME.dir and NAME.pag (Perl SDBM_File), as in `tie %h,
    /// 'SDBM_File', NAME`. Without it nothing is cached.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Cache entries older than this are ignored (units s, m, h, d, w; default seconds).
    #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_secs)]
    pub max_age: u64,
    /// The server to ask for every recipient.
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "mailertable")]
    pub server: Option<String>,
    /// Ask the host the recipient domain's mailertable entry names (`esmtp:[host]`);
    /// TYPE is btree, hash, dbm or cdb, PATH the map as on a K line.
    #[arg(long, value_name = "TYPE:PATH")]
    pub mailertable: Option<String>,
    /// Port for mailertable hosts and a --server without one.
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    pub port: u16,
    /// The name to give in EHLO/HELO (default: this machine's host name).
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// The MAIL FROM address (default: the null sender <>).
    #[arg(long, value_name = "ADDR", default_value = "")]
    pub sender: String,
    /// Bound on one whole dialogue, connection included (units as --max-age). Under
    /// cfmap serve, keep it below the socket map's timeout (the K line's -d, 30 s by
    /// default in sendmail) so that sendmail gets a TEMP answer rather than a timeout.
    #[arg(long, value_name = "S", default_value = "20", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

/// Output formats of `cfmap verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// One line per recipient: RCPT, action, code, DSN, text, source, TAB-separated.
    Text,
    /// One JSON array of objects.
    Json,
}

const VERIFY_AFTER_HELP: &str = "\
OUTPUT:
  text (default): one line per recipient, in the order given, with six TAB-separated
  fields: the recipient as given, the action a milter filter would return (CONTINUE,
  REJECT or TEMPFAIL), the SMTP code, the enhanced status code, the text, and where the
  answer came from (cache, server HOST:PORT, or local).

    alice@example.com	CONTINUE	250	2.1.5	Ok	server 127.0.0.1:25
    carol@example.com	REJECT	550	5.1.1	<carol@example.com>: User unknown	server 127.0.0.1:25

  json: one array; each element has recipient, action, code, dsn, text, source
  ({\"kind\": \"cache\", \"detail\": STAMP}, {\"kind\": \"server\", \"detail\": \"HOST:PORT\"} or
  {\"kind\": \"local\"}) and, when there were any, warnings.

  Answers decided without a server: a bad address REJECT 501 5.1.3; no route (no
  mailertable entry, an entry that is not [bracketed]) TEMPFAIL 451 4.3.0; an
  error:CODE mailertable entry gives that code. A refused connection is TEMPFAIL 451
  4.4.1, a timeout or a closed connection 451 4.4.2, a malformed reply 451 4.5.0, a
  refusal before RCPT TO 451 4.3.0.

THE CACHE:
  The cache is an SDBM_File pair: key the recipient address lower-cased without angle
  brackets, value the unix time of the last positive answer as a decimal string (a key
  written as <address> by a filter is found too). Every writer holds an exclusive flock
  on NAME.pag for its whole open-store-close, every reader a shared one, and checks
  after locking that the locked file is still NAME.pag. A Perl filter does the same:

    use Fcntl qw(:DEFAULT :flock); use SDBM_File;
    sysopen(my $lock, \"$name.pag\", O_RDONLY | O_CREAT) or die;
    flock($lock, LOCK_EX) or die;
    tie(my %cache, 'SDBM_File', $name, O_RDWR | O_CREAT, 0644) or die;
    $cache{lc $address} = time;
    untie %cache; close $lock;

  A damaged cache is reported on standard error, not used and not written.

EXIT STATUS:
  0 every recipient is valid; 67 (EX_NOUSER) at least one is invalid and none failed
  temporarily; 75 (EX_TEMPFAIL) at least one failed temporarily; 64 usage error; 78
  (EX_CONFIG) the mailertable cannot be opened.

EXAMPLES:
    cfmap verify --cache /var/spool/cfmap/rcpt --server 10.0.0.5 alice@example.com
    cfmap verify --mailertable hash:/etc/mail/mailertable --format json bob@example.com";

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    verify::parse_duration(s)
}

fn parse_secs(s: &str) -> Result<u64, String> {
    verify::parse_duration(s).map(|d| d.as_secs())
}

/// Whether `s` is fit to go into an SMTP command: printable, no blank.
fn smtp_word(s: &str) -> bool {
    s.bytes().all(|b| (0x21..0x7f).contains(&b))
}

impl VerifyOptions {
    /// The settings these options describe; the error is a usage message.
    pub fn settings(&self) -> Result<Settings, String> {
        let route = match (&self.server, &self.mailertable) {
            (Some(s), None) => {
                let (host, port) = verify::route::parse_server(s, self.port)?;
                RouteSpec::Server { host, port }
            }
            (None, Some(m)) => {
                let (ty, path) = m
                    .split_once(':')
                    .ok_or_else(|| format!("--mailertable {m:?}: expected TYPE:PATH"))?;
                let ty = ty.parse().map_err(|e| format!("--mailertable: {e}"))?;
                RouteSpec::Mailertable {
                    ty,
                    path: PathBuf::from(path),
                    port: self.port,
                }
            }
            _ => return Err("one of --server or --mailertable is required".into()),
        };
        let helo = self.helo.clone().unwrap_or_else(super::default_hostname);
        if helo.is_empty() || !smtp_word(&helo) {
            return Err(format!("--helo {helo:?}: not a host name"));
        }
        let sender = self.sender.trim_start_matches('<').trim_end_matches('>');
        if !sender.is_empty() {
            verify::address::Recipient::parse(sender.as_bytes())
                .map_err(|e| format!("--sender {:?}: {e}", self.sender))?;
        }
        if self.timeout.is_zero() {
            return Err("--timeout must be more than 0".into());
        }
        Ok(Settings {
            cache: self.cache.clone(),
            max_age: self.max_age,
            route,
            client: Client {
                helo,
                sender: sender.to_string(),
                timeout: self.timeout,
            },
        })
    }
}

/// The text line of a verdict (without the newline).
pub fn text_line(v: &Verdict) -> String {
    let source = match &v.source {
        verify::Source::Cache(_) => "cache".to_string(),
        verify::Source::Server(s) => format!("server {s}"),
        verify::Source::Local => "local".to_string(),
    };
    let clean = |s: &str| s.replace('\t', " ");
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        clean(&v.recipient),
        v.action.name(),
        v.code,
        v.dsn,
        clean(&v.text),
        source
    )
}

/// The exit status for a set of verdicts: the worst action.
pub fn status_of(verdicts: &[Verdict]) -> i32 {
    match verdicts.iter().map(|v| v.action).max() {
        Some(Action::Tempfail) => sysexits::TEMPFAIL,
        Some(Action::Reject) => sysexits::NOUSER,
        _ => sysexits::OK,
    }
}

pub fn run(args: VerifyArgs) -> i32 {
    let settings = match args.options.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cfmap verify: {e}");
            return sysexits::USAGE;
        }
    };
    let verifier = match Verifier::new(settings) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("cfmap verify: {e}");
            return sysexits::CONFIG;
        }
    };
    let mut verdicts = Vec::new();
    for r in &args.recipients {
        let v = verifier.verify(r.as_bytes(), verify::now());
        for w in &v.warnings {
            eprintln!("cfmap verify: warning: {w}");
        }
        if args.format == VerifyFormat::Text {
            println!("{}", text_line(&v));
        }
        verdicts.push(v);
    }
    if args.format == VerifyFormat::Json {
        match serde_json::to_string_pretty(&verdicts) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("cfmap verify: {e}");
                return sysexits::SOFTWARE;
            }
        }
    }
    status_of(&verdicts)
}
