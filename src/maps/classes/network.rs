//! Classes that ask another process: `program`, `socket`, `dns`, `nis`, `nisplus`, `ldap`,
//! `bestmx`, `userdb`. cfmap never runs or reaches them; each behaves as sendmail does
//! when the service cannot be reached (what a hermetic `sendmail -bt` with no network
//! prints and returns), unless `--map NAME=FILE` gives it answers.
//!
//! | class | open | lookup |
//! |---|---|---|
//! | program | fine | as a program that printed nothing and exited 1: no value, status 1 |
//! | socket | spec errors printed (bad type, bad address, unknown host, unsafe local socket); a connection that would be refused fails silently | — (bogus: 75) |
//! | dns | fine (its parser complains about `-R`) | 75 (resolver gives TRY_AGAIN); 68 without a valid `-R` type |
//! | nis | `NIS map M specified, but NIS not running` (`Cannot bind to map M in domain D: Internal NIS error` with `@D`) | — (bogus: 75) |
//! | nisplus | fails silently | — (bogus: 75) |
//! | ldap | `ldap_init/ldap_bind failed to HOST in map NAME: ERR` | — (bogus: 75) |
//! | bestmx | fine | 75 (no DNS) |
//! | userdb | fine | no value, status 0 (no user database configured) |
//!
//! A `--map` file has one `key value` line per key (the value is the rest of the line;
//! `#` lines and blank lines are skipped); keys match case-insensitively unless the map
//! has `-f`. Found: the value with `%n` substituted and `-a` appended (`-m`: the key);
//! else not found (68).

use std::path::Path;

use super::args::flag_words;
use super::{Common, Ctx, safefile};
use crate::ir::{MapClass, MapDecl};
use crate::maps::lookup::{Answer, MapEnv};
use crate::sysexits;

pub(crate) enum NetMap {
    Program,
    Socket,
    Dns { valid_type: bool },
    Nis,
    Nisplus,
    Ldap { id: Vec<u8>, uri: bool },
    Bestmx,
    Userdb,
}

/// The DNS record types sendmail knows (dns_string_to_type).
const DNS_TYPES: [&str; 14] = [
    "A", "AAAA", "NS", "CNAME", "PTR", "MX", "TXT", "AFSDB", "SRV", "DS", "RRSIG", "NSEC",
    "DNSKEY", "TLSA",
];

impl NetMap {
    /// The class parser; returns flags when the class has its own parser.
    pub(crate) fn parse(decl: &MapDecl, msgs: &mut Vec<Vec<u8>>) -> (NetMap, Option<Common>) {
        let name = String::from_utf8_lossy(&decl.name).into_owned();
        match decl.class {
            MapClass::Program => (NetMap::Program, None),
            MapClass::Socket => (NetMap::Socket, None),
            MapClass::Nis => (NetMap::Nis, None),
            MapClass::Nisplus => (NetMap::Nisplus, None),
            MapClass::Bestmx => (NetMap::Bestmx, None),
            MapClass::Userdb => (NetMap::Userdb, None),
            MapClass::Dns => {
                let mut c = Common::default();
                let mut ty: Option<bool> = None;
                let words = flag_words(super::args::last(&decl.raw_args));
                let all: Vec<&[u8]> = super::args::last(&decl.raw_args)
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .collect();
                for (i, w) in words.iter().enumerate() {
                    match w.get(1) {
                        Some(b'a') => c.app = Some(w[2..].to_vec()),
                        Some(b'm') => c.match_only = true,
                        Some(b'f') => c.keep_case = true,
                        Some(b'o') => c.optional = true,
                        Some(b'R') => {
                            let t: &[u8] = if w.len() > 2 {
                                &w[2..]
                            } else {
                                all.get(i + 1).copied().unwrap_or_default()
                            };
                            let ok = DNS_TYPES
                                .iter()
                                .any(|k| k.as_bytes().eq_ignore_ascii_case(t));
                            if !ok {
                                msgs.push(
                                    format!(
                                        "dns map {name}: wrong type {}",
                                        String::from_utf8_lossy(t)
                                    )
                                    .into_bytes(),
                                );
                            }
                            ty = Some(ok);
                        }
                        _ => {}
                    }
                }
                if ty != Some(true) {
                    msgs.push(format!("dns map {name}: missing -R type").into_bytes());
                }
                (
                    NetMap::Dns {
                        valid_type: ty == Some(true),
                    },
                    Some(c),
                )
            }
            MapClass::Ldap => {
                let mut c = Common::default();
                let mut id = b"localhost".to_vec();
                let mut uri = false;
                let all: Vec<&[u8]> = super::args::last(&decl.raw_args)
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .collect();
                let mut i = 0;
                while i < all.len() && all[i].first() == Some(&b'-') {
                    let w = all[i];
                    // Options with a value take it from the same word or the next one.
                    let value = |i: &mut usize| -> Vec<u8> {
                        if w.len() > 2 {
                            w[2..].to_vec()
                        } else {
                            *i += 1;
                            all.get(*i).map(|v| v.to_vec()).unwrap_or_default()
                        }
                    };
                    match w.get(1) {
                        Some(b'a') => c.app = Some(w[2..].to_vec()),
                        Some(b'm') => c.match_only = true,
                        Some(b'f') => c.keep_case = true,
                        Some(b'o') => c.optional = true,
                        Some(b'h') => {
                            id = value(&mut i);
                            uri = false;
                        }
                        Some(b'H') => {
                            id = value(&mut i);
                            uri = true;
                        }
                        Some(
                            b'b' | b'c' | b'd' | b'K' | b'k' | b'l' | b'M' | b'P' | b'p' | b'r'
                            | b's' | b'v' | b'V' | b'w' | b'z' | b'Z' | b'T' | b'1' | b'2' | b'x',
                        ) => {
                            value(&mut i);
                        }
                        _ => {}
                    }
                    i += 1;
                }
                (NetMap::Ldap { id, uri }, Some(c))
            }
            _ => (NetMap::Userdb, None),
        }
    }

    pub(crate) fn open(
        &mut self,
        ctx: &Ctx,
        name: &[u8],
        file: &[u8],
        common: &Common,
    ) -> Result<(), Option<Vec<u8>>> {
        let name = String::from_utf8_lossy(name);
        let msg = |s: String| Err(Some(s.into_bytes()));
        match self {
            NetMap::Program | NetMap::Dns { .. } | NetMap::Bestmx | NetMap::Userdb => Ok(()),
            NetMap::Nisplus => Err(None),
            NetMap::Nis => {
                let file_s = String::from_utf8_lossy(file);
                match file_s.split_once('@') {
                    Some((map, dom)) if !dom.is_empty() => {
                        let map = if map.is_empty() { "mail.aliases" } else { map };
                        msg(format!(
                            "Cannot bind to map {map} in domain {dom}: Internal NIS error"
                        ))
                    }
                    other => {
                        let map = other.map_or(file_s.as_ref(), |(m, _)| m);
                        let map = if map.is_empty() { "mail.aliases" } else { map };
                        msg(format!("NIS map {map} specified, but NIS not running"))
                    }
                }
            }
            NetMap::Ldap { id, uri } => {
                let host: Vec<u8> = if *uri {
                    let s = id.split(|&b| b == b' ').next().unwrap_or_default();
                    let rest = s
                        .windows(3)
                        .position(|w| w == b"://")
                        .map_or(s, |p| &s[p + 3..]);
                    let end = rest
                        .iter()
                        .position(|&b| b == b':' || b == b'/')
                        .unwrap_or(rest.len());
                    rest[..end].to_vec()
                } else {
                    id.split(|&b| b == b' ').next().unwrap_or_default().to_vec()
                };
                let err = if host.is_empty() || resolves(ctx, &host) {
                    "Transport endpoint is not connected"
                } else {
                    "Resource temporarily unavailable"
                };
                let _ = common;
                msg(format!(
                    "ldap_init/ldap_bind failed to {} in map {name}: {err}",
                    String::from_utf8_lossy(id)
                ))
            }
            NetMap::Socket => socket_open(ctx, &name, file),
        }
    }

    pub(crate) fn lookup(
        &self,
        _common: &Common,
        _key: &[u8],
        _args: &[Vec<u8>],
        _env: &mut dyn MapEnv,
    ) -> Answer {
        match self {
            NetMap::Program => Answer::status(1),
            NetMap::Dns { valid_type: false } => Answer::not_found(),
            NetMap::Userdb => Answer::status(sysexits::OK),
            _ => Answer::status(sysexits::TEMPFAIL),
        }
    }
}

/// Whether a host name resolves without DNS: a numeric address or a hosts-file name.
fn resolves(ctx: &Ctx, host: &[u8]) -> bool {
    if super::host::pton(libc::AF_INET, host).is_some()
        || super::host::pton(libc::AF_INET6, host).is_some()
    {
        return true;
    }
    let Ok(data) = std::fs::read(&ctx.hosts_file) else {
        return false;
    };
    data.split(|&b| b == b'\n').any(|line| {
        let line = line.split(|&b| b == b'#').next().unwrap_or_default();
        line.split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .skip(1)
            .any(|w| w.eq_ignore_ascii_case(host))
    })
}

/// socket_map_open up to the connect, which would fail.
fn socket_open(ctx: &Ctx, name: &str, spec: &[u8]) -> Result<(), Option<Vec<u8>>> {
    let msg = |s: String| Err(Some(s.into_bytes()));
    let spec_s = String::from_utf8_lossy(spec).into_owned();
    if spec.is_empty() {
        return msg(format!(
            "socket map \"{name}\": empty or missing socket information"
        ));
    }
    let (family, rest) = match spec_s.split_once(':') {
        None => ("unix", spec_s.as_str()),
        Some(("", r)) => ("unix", r),
        Some((p, r)) => {
            let l = p.to_ascii_lowercase();
            match l.as_str() {
                "unix" | "local" => ("unix", r),
                "inet" => ("inet", r),
                "inet6" => ("inet6", r),
                _ => {
                    return msg(format!(
                        "socket map \"{name}\": unknown socket type {p}: Protocol not supported"
                    ));
                }
            }
        }
    };
    if family == "unix" {
        if rest.len() >= 108 {
            return msg(format!(
                "socket map \"{name}\": local socket name {rest} too long"
            ));
        }
        return match check_socket(ctx, rest.as_bytes()) {
            Err(p) => msg(format!(
                "socket map \"{name}\": local socket name {rest} unsafe: {}",
                p.text()
            )),
            Ok(()) => Err(None),
        };
    }
    let Some((port, host)) = rest.split_once('@') else {
        return msg(format!(
            "socket map \"{name}\": bad address {rest} (expected port@host)"
        ));
    };
    if !port.as_bytes().first().is_some_and(u8::is_ascii_digit) && !known_service(port) {
        return msg(format!("socket map \"{name}\": unknown port name {port}"));
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ok = match inner.find(']') {
            Some(end) => {
                let a = &inner[..end];
                if family == "inet" {
                    let c = std::ffi::CString::new(a).unwrap_or_default();
                    // SAFETY: c is NUL-terminated.
                    (unsafe { super::host::inet::inet_addr(c.as_ptr()) }) != libc::INADDR_NONE
                } else {
                    let body = if a.len() >= 5 && a[..5].eq_ignore_ascii_case("IPv6:") {
                        &a[5..]
                    } else {
                        a
                    };
                    super::host::pton(libc::AF_INET6, body.as_bytes()).is_some()
                }
            }
            None => false,
        };
        if !ok {
            return msg(format!(
                "socket map \"{name}\": Invalid numeric domain spec \"{host}\""
            ));
        }
        return Err(None);
    }
    if !resolves(ctx, host.as_bytes()) {
        return msg(format!(
            "socket map \"{name}\": Unknown host name {host}: Resource temporarily unavailable"
        ));
    }
    Err(None)
}

/// A TCP service name getservbyname would know.
fn known_service(port: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(port) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated; the result is only tested for null.
    !unsafe { libc::getservbyname(c.as_ptr(), c"tcp".as_ptr()) }.is_null()
}

/// safefile for a local socket (SFF_SAFEDIRPATH|SFF_OPENASROOT|SFF_NOLINK|SFF_EXECOK).
fn check_socket(ctx: &Ctx, path: &[u8]) -> Result<(), safefile::Problem> {
    use std::os::unix::fs::MetadataExt;
    let real = ctx.resolve(path);
    let st = std::fs::symlink_metadata(&real).map_err(safefile::Problem::Io)?;
    if st.file_type().is_symlink() {
        return Err(safefile::Problem::NoSymlink);
    }
    if st.nlink() != 1 {
        return Err(safefile::Problem::NoHardlink);
    }
    Ok(())
}

/// `--map NAME=FILE`: the file must be readable.
pub(crate) fn override_open(name: &[u8], file: &Path) -> Result<(), Option<Vec<u8>>> {
    match std::fs::metadata(file) {
        Ok(_) => Ok(()),
        Err(e) => Err(Some(
            format!(
                "map {}: cannot read --map file {}: {}",
                String::from_utf8_lossy(name),
                file.display(),
                super::strerror(&e)
            )
            .into_bytes(),
        )),
    }
}

/// A lookup in a `--map` file.
pub(crate) fn override_lookup(
    common: &Common,
    file: &Path,
    key: &[u8],
    args: &[Vec<u8>],
) -> Answer {
    let Ok(data) = std::fs::read(file) else {
        return Answer::status(sysexits::TEMPFAIL);
    };
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'#') || line.trim_ascii().is_empty() {
            continue;
        }
        let line = line.trim_ascii_start();
        let split = line
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(line.len());
        let (k, v) = line.split_at(split);
        let hit = if common.keep_case {
            k == key
        } else {
            k.eq_ignore_ascii_case(key)
        };
        if hit {
            return Answer::found(common.result(key, v.trim_ascii(), args));
        }
    }
    Answer::not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_files_answer() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("m");
        std::fs::write(&f, "# comment\nAlice  OK %0 fine\nbob\n").unwrap();
        let c = Common::default();
        let a = vec![b"ALICE".to_vec()];
        assert_eq!(
            override_lookup(&c, &f, b"ALICE", &a).value.unwrap(),
            b"OK ALICE fine"
        );
        assert_eq!(override_lookup(&c, &f, b"bob", &a).value.unwrap(), b"");
        assert_eq!(override_lookup(&c, &f, b"carol", &a), Answer::not_found());
        let f2 = Common {
            keep_case: true,
            ..Common::default()
        };
        assert_eq!(override_lookup(&f2, &f, b"alice", &a), Answer::not_found());
    }
}
