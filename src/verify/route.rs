//! Where a recipient's domain is verified: one fixed server, or the host its mailertable
//! entry names.
//!
//! The mailertable is read as sendmail's `mailertable` feature reads it: the recipient's
//! domain lower-cased (`mail.example.com`), then each parent with its leading dot
//! (`.example.com`, `.com`), then `.` alone; the first entry found wins. Its value is
//! `MAILER:HOST`:
//!
//! | value | route |
//! |---|---|
//! | `smtp:[host]`, `esmtp:[host]`, `smtp8:[host]`, `dsmtp:[host]`, `relay:[host]` | ask `host` (a name or an address; the brackets mean: no MX lookup) |
//! | `esmtp:[a]:[b]` | ask `a`, and `b` when `a` cannot be reached |
//! | `error:5.1.1:550 text`, `error:550 text` | that answer, without asking anyone |
//! | a host without brackets | refused: it needs an MX lookup, which cfmap does not do |
//! | `local:…` and other mailers | refused: nothing to ask over SMTP |

use std::path::{Path, PathBuf};

use crate::maps::{self, Map, MapType};

/// How to find the server for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSpec {
    /// Every recipient is asked at this host and port.
    Server { host: String, port: u16 },
    /// The domain's mailertable entry names the host; `port` is used for it.
    Mailertable {
        ty: MapType,
        path: PathBuf,
        port: u16,
    },
}

/// Where one domain goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Ask these hosts (in order, the next one when one cannot be reached) on `port`.
    Ask { hosts: Vec<String>, port: u16 },
    /// A fixed answer from an `error:` entry.
    Error {
        code: u16,
        dsn: Option<String>,
        text: String,
    },
    /// No way to verify; the reason.
    Unroutable(String),
}

/// Parses `HOST[:PORT]`, `[HOST]:PORT` or `[v6-address]:PORT`.
pub fn parse_server(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad = || format!("bad server {s:?}: expected HOST[:PORT]");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(bad()),
        }
    } else if s.matches(':').count() == 1 {
        let (h, p) = s.split_once(':').expect("one colon");
        (h, Some(p))
    } else {
        (s, None)
    };
    if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?,
        None => default_port,
    };
    Ok((host.to_string(), port))
}

/// The keys sendmail's mailertable tries for `domain`, in order.
pub fn mailertable_keys(domain: &[u8]) -> Vec<Vec<u8>> {
    let mut keys = vec![domain.to_vec()];
    let mut rest = domain;
    while let Some(i) = rest.iter().position(|&b| b == b'.') {
        rest = &rest[i..];
        if rest.len() > 1 {
            keys.push(rest.to_vec());
        }
        rest = &rest[1..];
    }
    keys.push(b".".to_vec());
    keys.dedup();
    keys
}

/// Reads a mailertable value (module docs).
pub fn parse_entry(value: &[u8], port: u16) -> Route {
    let value = value.strip_suffix(b"\0").unwrap_or(value);
    let text = String::from_utf8_lossy(value).trim().to_string();
    let Some((mailer, rest)) = text.split_once(':') else {
        return Route::Unroutable(format!("mailertable entry {text:?} has no mailer"));
    };
    match mailer {
        "smtp" | "esmtp" | "smtp8" | "dsmtp" | "relay" => {
            let mut hosts = Vec::new();
            for h in rest.split(':') {
                match h.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                    Some(h) if !h.is_empty() && !h.bytes().any(|b| b <= b' ') => {
                        hosts.push(h.to_string())
                    }
                    _ => {
                        return Route::Unroutable(format!(
                            "mailertable entry {text:?}: host {h:?} is not [bracketed] \
                             (an MX lookup would be needed)"
                        ));
                    }
                }
            }
            Route::Ask { hosts, port }
        }
        "error" => {
            let (dsn, rest) = match rest.split_once(':') {
                Some((d, r)) if d.split('.').count() == 3 => (Some(d.to_string()), r),
                _ => (None, rest),
            };
            let (code, text) = rest.split_once(' ').unwrap_or((rest, ""));
            match code.parse::<u16>() {
                Ok(c) if (400..600).contains(&c) => Route::Error {
                    code: c,
                    dsn,
                    text: text.to_string(),
                },
                _ => Route::Error {
                    code: 550,
                    dsn,
                    text: rest.to_string(),
                },
            }
        }
        other => Route::Unroutable(format!(
            "mailertable sends this domain to the {other} mailer, which is not SMTP"
        )),
    }
}

/// An open route source.
pub enum Router {
    Server {
        host: String,
        port: u16,
    },
    Mailertable {
        map: Box<dyn Map>,
        path: PathBuf,
        port: u16,
    },
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Router::Server { host, port } => write!(f, "Server({host}:{port})"),
            Router::Mailertable { path, .. } => write!(f, "Mailertable({})", path.display()),
        }
    }
}

impl Router {
    /// Opens the mailertable, if the spec names one.
    pub fn open(spec: &RouteSpec) -> Result<Router, maps::MapError> {
        Ok(match spec {
            RouteSpec::Server { host, port } => Router::Server {
                host: host.clone(),
                port: *port,
            },
            RouteSpec::Mailertable { ty, path, port } => Router::Mailertable {
                map: maps::open(*ty, path)?,
                path: path.clone(),
                port: *port,
            },
        })
    }

    /// Where `domain` (lower-case) goes.
    pub fn route(&self, domain: &[u8]) -> Route {
        match self {
            Router::Server { host, port } => Route::Ask {
                hosts: vec![host.clone()],
                port: *port,
            },
            Router::Mailertable { map, path, port } => {
                for key in mailertable_keys(domain) {
                    match map.get(&key) {
                        Ok(Some(v)) => return parse_entry(&v, *port),
                        Ok(None) => {}
                        Err(e) => return Route::Unroutable(format!("mailertable: {e}")),
                    }
                }
                Route::Unroutable(format!(
                    "no mailertable entry for {} in {}",
                    String::from_utf8_lossy(domain),
                    path_name(path)
                ))
            }
        }
    }
}

fn path_name(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_walk_up_the_domain() {
        let k: Vec<String> = mailertable_keys(b"a.mail.example.com")
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect();
        assert_eq!(
            k,
            [
                "a.mail.example.com",
                ".mail.example.com",
                ".example.com",
                ".com",
                "."
            ]
        );
        assert_eq!(mailertable_keys(b"localhost"), [&b"localhost"[..], b"."]);
    }

    #[test]
    fn entries() {
        assert_eq!(
            parse_entry(b"esmtp:[10.0.0.5]", 25),
            Route::Ask {
                hosts: vec!["10.0.0.5".into()],
                port: 25
            }
        );
        assert_eq!(
            parse_entry(b"smtp:[mx1.example.com]:[mx2.example.com]\0", 2525),
            Route::Ask {
                hosts: vec!["mx1.example.com".into(), "mx2.example.com".into()],
                port: 2525
            }
        );
        assert!(matches!(
            parse_entry(b"esmtp:mx.example.com", 25),
            Route::Unroutable(m) if m.contains("MX lookup")
        ));
        assert!(matches!(
            parse_entry(b"local:user", 25),
            Route::Unroutable(_)
        ));
        assert_eq!(
            parse_entry(b"error:5.1.1:550 No such domain", 25),
            Route::Error {
                code: 550,
                dsn: Some("5.1.1".into()),
                text: "No such domain".into()
            }
        );
        assert_eq!(
            parse_entry(b"error:450 later", 25),
            Route::Error {
                code: 450,
                dsn: None,
                text: "later".into()
            }
        );
    }

    #[test]
    fn servers() {
        assert_eq!(parse_server("mx", 25).unwrap(), ("mx".into(), 25));
        assert_eq!(
            parse_server("127.0.0.1:2525", 25).unwrap(),
            ("127.0.0.1".into(), 2525)
        );
        assert_eq!(parse_server("[::1]:26", 25).unwrap(), ("::1".into(), 26));
        assert_eq!(parse_server("::1", 25).unwrap(), ("::1".into(), 25));
        assert!(parse_server("mx:0", 25).is_err());
        assert!(parse_server("mx:x", 25).is_err());
        assert!(parse_server("", 25).is_err());
        assert!(parse_server("[mx", 25).is_err());
    }
}
