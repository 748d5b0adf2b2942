//! Recipient verification: would the mailbox server accept this recipient? Asked over
//! SMTP ([`smtp`]), with a shared cache of positive answers ([`cache`]), the server found
//! from a fixed host or the mailertable ([`route`]).
//!
//! One recipient goes through [`Verifier::verify`]:
//!
//! 1. The address is checked ([`address`]); a bad one is refused (`REJECT 501 5.1.3`)
//!    before anything else, and never reaches a server.
//! 2. A cache entry at most `max_age` old: valid, no connection (`CONTINUE 250 2.1.5`).
//! 3. Otherwise the dialogue. The answer to `RCPT TO` decides: 2xx valid (and recorded
//!    in the cache), 5xx invalid (never recorded), 4xx temporary. A refused connection,
//!    a timeout, a closed connection, a malformed reply, or a refusal before `RCPT TO`
//!    (greeting, HELO, MAIL FROM: the server refuses *us*, not the recipient) are
//!    temporary failures.
//!
//! The result is the triple a milter filter returns ([`Verdict`]): an action
//! (`CONTINUE`, `REJECT`, `TEMPFAIL`), an SMTP code, an enhanced status code and a text.

pub mod address;
pub mod cache;
pub mod route;
pub mod smtp;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use address::{Recipient, printable};
use cache::Cache;
use route::{Route, RouteSpec, Router};

/// What a milter filter would do with the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// The recipient exists.
    Continue,
    /// The recipient does not exist.
    Reject,
    /// No answer now; try again later.
    Tempfail,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Continue => "CONTINUE",
            Action::Reject => "REJECT",
            Action::Tempfail => "TEMPFAIL",
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "detail")]
pub enum Source {
    /// A fresh cache entry, with its stamp.
    Cache(u64),
    /// A server, `host:port`.
    Server(String),
    /// Decided here: a bad address, an `error:` mailertable entry, no route.
    Local,
}

/// The answer for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// The recipient as given (made printable).
    pub recipient: String,
    pub action: Action,
    pub code: u16,
    pub dsn: String,
    pub text: String,
    pub source: Source,
    /// Problems that did not change the answer (the cache could not be read or
    /// written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Everything a verification needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The cache name (`NAME.dir` + `NAME.pag`); none: no cache.
    pub cache: Option<PathBuf>,
    /// Cache entries older than this many seconds are ignored.
    pub max_age: u64,
    pub route: RouteSpec,
    pub client: smtp::Client,
}

/// The default `--max-age`: 30 days.
pub const DEFAULT_MAX_AGE: u64 = 30 * 86_400;

/// A configured verifier (the mailertable opened).
#[derive(Debug)]
pub struct Verifier {
    settings: Settings,
    router: Router,
    cache: Option<Cache>,
}

/// The verifier's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Verifier {
    /// Opens what `settings` names (the mailertable).
    pub fn new(settings: Settings) -> Result<Verifier, ConfigError> {
        let router = Router::open(&settings.route).map_err(|e| ConfigError(e.to_string()))?;
        let cache = settings.cache.as_deref().map(Cache::new);
        Ok(Verifier {
            settings,
            router,
            cache,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Verifies one recipient at time `now` (unix seconds).
    pub fn verify(&self, raw: &[u8], now: u64) -> Verdict {
        let shown = printable(raw);
        let local = |action, code, dsn: &str, text: String| Verdict {
            recipient: shown.clone(),
            action,
            code,
            dsn: dsn.to_string(),
            text,
            source: Source::Local,
            warnings: Vec::new(),
        };
        let rcpt = match Recipient::parse(raw) {
            Ok(r) => r,
            Err(e) => return local(Action::Reject, 501, "5.1.3", format!("bad address: {e}")),
        };
        let key = rcpt.cache_key();
        let mut warnings = Vec::new();
        // A damaged cache is neither used nor written (module docs of `cache`).
        let mut cache_damaged = false;
        if let Some(cache) = &self.cache {
            match cache.lookup(&key) {
                Ok(Some(stamp)) if cache::is_fresh(stamp, now, self.settings.max_age) => {
                    return Verdict {
                        recipient: shown,
                        action: Action::Continue,
                        code: 250,
                        dsn: "2.1.5".into(),
                        text: format!("accepted before, at {}", format_utc(stamp)),
                        source: Source::Cache(stamp),
                        warnings,
                    };
                }
                Ok(_) => {}
                Err(e) => {
                    cache_damaged = e.is_corrupt();
                    warnings.push(format!("cache not used: {e}"));
                }
            }
        }
        let mut verdict = match self.router.route(&rcpt.domain()) {
            Route::Unroutable(why) => local(Action::Tempfail, 451, "4.3.0", why),
            Route::Error { code, dsn, text } => {
                let action = if code >= 500 {
                    Action::Reject
                } else {
                    Action::Tempfail
                };
                let dsn = dsn.unwrap_or_else(|| format!("{}.0.0", code / 100));
                local(action, code, &dsn, text)
            }
            Route::Ask { hosts, port } => self.ask(&shown, &rcpt, &hosts, port),
        };
        if verdict.action == Action::Continue
            && let Some(cache) = &self.cache
            && !cache_damaged
            && let Err(e) = cache.record(&key, now)
        {
            warnings.push(format!("answer not cached: {e}"));
        }
        verdict.warnings.extend(warnings);
        verdict
    }

    fn ask(&self, shown: &str, rcpt: &Recipient, hosts: &[String], port: u16) -> Verdict {
        let mut result = Err(smtp::SmtpError::Connect {
            server: String::new(),
            reason: "no host".into(),
        });
        let mut asked = hosts.first().cloned().unwrap_or_default();
        for host in hosts {
            asked = host.clone();
            result = smtp::ask(host, port, &self.settings.client, rcpt);
            if !matches!(result, Err(smtp::SmtpError::Connect { .. })) {
                break;
            }
        }
        let server = |e: &smtp::SmtpError| match e {
            smtp::SmtpError::Connect { server, .. }
            | smtp::SmtpError::Timeout { server, .. }
            | smtp::SmtpError::Closed { server, .. }
            | smtp::SmtpError::Garbage { server, .. }
            | smtp::SmtpError::Io { server, .. } => server.clone(),
        };
        let (action, code, dsn, text, source) = match result {
            Ok(answer) => {
                let r = answer.reply;
                let class = r.code / 100;
                let dsn = r.dsn.clone().unwrap_or_else(|| format!("{class}.0.0"));
                let host = asked;
                let src = Source::Server(format!("{host}:{port}"));
                match (answer.stage, class) {
                    (smtp::Stage::RcptTo, 2) => (Action::Continue, r.code, dsn, r.text, src),
                    (smtp::Stage::RcptTo, 5) => (Action::Reject, r.code, dsn, r.text, src),
                    (smtp::Stage::RcptTo, _) => (Action::Tempfail, r.code, dsn, r.text, src),
                    (stage, _) => (
                        Action::Tempfail,
                        451,
                        "4.3.0".into(),
                        format!(
                            "{host} refused {}: {} {}",
                            stage.name(),
                            r.code,
                            [r.dsn.unwrap_or_default(), r.text].join(" ").trim()
                        ),
                        src,
                    ),
                }
            }
            Err(e) => {
                let dsn = match e {
                    smtp::SmtpError::Connect { .. } => "4.4.1",
                    smtp::SmtpError::Timeout { .. } | smtp::SmtpError::Closed { .. } => "4.4.2",
                    smtp::SmtpError::Garbage { .. } => "4.5.0",
                    smtp::SmtpError::Io { .. } => "4.4.2",
                };
                (
                    Action::Tempfail,
                    451,
                    dsn.into(),
                    e.to_string(),
                    Source::Server(server(&e)),
                )
            }
        };
        Verdict {
            recipient: shown.to_string(),
            action,
            code,
            dsn,
            text,
            source,
            warnings: Vec::new(),
        }
    }
}

/// The current unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Parses a duration: a number with an optional unit, `s` (the default), `m`, `h`, `d`
/// or `w` (`30d`, `90s`, `1.5h`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return Err(format!("bad duration {s:?}: unit must be s, m, h, d or w")),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("bad duration {s:?}"))?;
    Duration::try_from_secs_f64(n * mult).map_err(|_| format!("bad duration {s:?}"))
}

/// A unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(stamp: u64) -> String {
    let days = (stamp / 86_400) as i64;
    let secs = stamp % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

pub(crate) use crate::maps::io_reason;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap().as_secs(), 2_592_000);
        assert_eq!(parse_duration("45").unwrap().as_secs(), 45);
        assert_eq!(parse_duration("1.5h").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("0.25").unwrap().as_millis(), 250);
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1d").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
