//! The `host` class and `/canon` (host_map_lookup and host_map_init in daemon.c,
//! getcanonname, text_getcanonname, extract_canonname and switch_map_find in map.c and
//! conf.c), with no resolver to ask.
//!
//! * A name is canonified by the `hosts` services of the service switch file, in order:
//!   `files` reads the HostsFile (the canonical name is the first name of the matching
//!   line that has a dot, else the first name plus `.$m`); `dns` has no server to ask:
//!   that is a temporary failure; anything else is unavailable. A hit without a dot in the
//!   name gets `.$m` appended. Without a switch file the order is `dns`, then `files`.
//! * `[a.b.c.d]` and `[IPv6:…]` are reverse lookups through the C library, whose `files`
//!   source is `/etc/hosts` whatever HostsFile says (and whose DNS is unreachable too):
//!   the answer is the first name of the address's line.
//! * Answers are cached per name for the whole process (also failures). A temporary
//!   failure prints `NAME: Name server timeout` (NAME shortened to 15 + `...` + 15 bytes
//!   when 33 bytes or longer) on every lookup, cached or not, and returns status 75; a
//!   name nobody knows returns 68.

use std::collections::HashMap;

use super::text::{get_column, pieces};
use super::{Common, Ctx, MAXNAME};
use crate::maps::lookup::{Answer, MapEnv};
use crate::sysexits;

/// The host class keeps nothing of its own but a note on its last answer: its cache is
/// the process's.
pub(crate) struct HostMap {
    /// The last answer came from (or went into) the per-process cache without a
    /// timeout: the same key and arguments answer the same from now on, silently.
    pub(crate) last_reusable: bool,
}

/// host_map_init: `-a -T -m -t -S -D -d -r`, other letters ignored.
pub(crate) fn parse_flags(raw: &[u8]) -> Common {
    let mut c = Common::default();
    for w in super::args::flag_words(raw) {
        match w.get(1) {
            Some(b'a') => c.app = Some(w[2..].to_vec()),
            Some(b'm') => c.match_only = true,
            _ => {}
        }
    }
    c
}

/// The service switch entry for `service` (switch_map_find's fall-back reader): `None`
/// when sendmail would find no entry at all.
pub(crate) fn switch_types(ctx: &mut Ctx, service: &[u8]) -> Option<Vec<Vec<u8>>> {
    let table = ctx.switch.get_or_insert_with(|| {
        let mut t = HashMap::new();
        let Ok(data) = std::fs::read(&ctx.switch_file) else {
            return t;
        };
        for piece in pieces(&data) {
            let line = super::cstr(piece);
            let line = match line.iter().position(|&b| b == b'#' || b == b'\n') {
                Some(p) => &line[..p],
                None => line,
            };
            let Some(sp) = line.iter().position(|&b| b == b' ' || b == b'\t') else {
                continue;
            };
            let name = &line[..sp];
            if name.is_empty() {
                continue;
            }
            let types: Vec<Vec<u8>> = line[sp + 1..]
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|w| !w.is_empty())
                .take(128)
                .map(<[u8]>::to_vec)
                .collect();
            if types.is_empty() {
                continue;
            }
            t.insert(name.to_ascii_lowercase(), types);
        }
        t
    });
    if let Some(t) = table.get(&service.to_ascii_lowercase()) {
        return Some(t.clone());
    }
    match service {
        b"aliases" => Some(vec![b"files".to_vec()]),
        b"hosts" => Some(vec![b"dns".to_vec(), b"files".to_vec()]),
        _ => None,
    }
}

/// sendmail's UseNameServer: whether `dns` is one of the `hosts` services.
pub(crate) fn use_name_server(ctx: &mut Ctx) -> bool {
    switch_types(ctx, b"hosts").is_some_and(|t| t.iter().any(|x| x.as_slice() == b"dns"))
}

/// shortenstring(s, 33).
fn shorten(s: &[u8]) -> Vec<u8> {
    if s.len() < 33 {
        return s.to_vec();
    }
    [&s[..15], b"...", &s[s.len() - 15..]].concat()
}

fn timeout_message(name: &[u8]) -> Vec<u8> {
    [&shorten(name)[..], b": Name server timeout"].concat()
}

/// shorten_hostname: drop a final dot; when the domain is `$m` (or a prefix of it ending
/// at a label), cut the name at its first dot and say where.
fn shorten_hostname(name: &mut Vec<u8>, m: &[u8]) -> Option<usize> {
    let mut canon = false;
    if name.last() == Some(&b'.') {
        name.pop();
        canon = true;
    }
    let dot = name.iter().position(|&b| b == b'.')?;
    let dom = &name[dot + 1..];
    let same = if canon {
        dom.eq_ignore_ascii_case(m)
    } else {
        m.len() >= dom.len()
            && m[..dom.len()].eq_ignore_ascii_case(dom)
            && (m.len() == dom.len() || m[dom.len()] == b'.')
    };
    if same { Some(dot) } else { None }
}

/// extract_canonname over one hosts line.
fn extract_canonname(
    full: &[u8],
    short: Option<&[u8]>,
    line: &[u8],
    m: Option<&[u8]>,
) -> Option<Vec<u8>> {
    if line.first() == Some(&b'#') {
        return None;
    }
    let mut cbuf: Vec<u8> = Vec::new();
    let mut found = false;
    let mut i = 1;
    while let Some(p) = get_column(line, i, 0) {
        i += 1;
        if p.is_empty() {
            continue;
        }
        if cbuf.is_empty() || (!cbuf.contains(&b'.') && p.contains(&b'.')) {
            cbuf = p.clone();
        }
        let name = short.unwrap_or(full);
        if name.eq_ignore_ascii_case(&p) || (short.is_some() && full.eq_ignore_ascii_case(&p)) {
            found = true;
        }
    }
    if !found {
        return None;
    }
    if !cbuf.contains(&b'.')
        && let Some(d) = m
        && d.len() + cbuf.len() + 1 < MAXNAME + 1
    {
        cbuf.push(b'.');
        cbuf.extend_from_slice(d);
    }
    Some(cbuf)
}

/// text_getcanonname: `Ok(name)` or the status.
fn files_canon(ctx: &mut Ctx, host: &[u8], m: Option<&[u8]>) -> Result<Vec<u8>, i32> {
    if host.len() > MAXNAME {
        return Err(sysexits::UNAVAILABLE);
    }
    let mut nbuf = host.to_vec();
    let dot = shorten_hostname(&mut nbuf, m.unwrap_or_default());
    let (short, full) = match dot {
        Some(d) => (Some(nbuf[..d].to_vec()), nbuf.clone()),
        None => (None, nbuf.clone()),
    };
    let data = ctx
        .hosts
        .bytes(&ctx.hosts_file)
        .ok_or(sysexits::UNAVAILABLE)?;
    for piece in pieces(&data) {
        let line = super::cstr(piece);
        let line = match line.iter().position(|&b| b == b'#' || b == b'\n') {
            Some(p) => &line[..p],
            None => line,
        };
        if line.is_empty() {
            continue;
        }
        if let Some(c) = extract_canonname(&full, short.as_deref(), line, m) {
            return Ok(c);
        }
    }
    Err(sysexits::NOHOST)
}

/// getcanonname: `Ok(canonical name)`, or `Err(tempfail seen)`.
pub(crate) fn getcanonname(ctx: &mut Ctx, host: &[u8], m: Option<&[u8]>) -> Result<Vec<u8>, bool> {
    let types = switch_types(ctx, b"hosts").unwrap_or_default();
    let mut got_tempfail = false;
    let mut found: Option<Vec<u8>> = None;
    for t in &types {
        let (f, status) = match t.as_slice() {
            b"files" => match files_canon(ctx, host, m) {
                Ok(n) => (Some(n), sysexits::OK),
                Err(s) => (None, s),
            },
            b"dns" => (None, sysexits::TEMPFAIL),
            _ => (None, sysexits::UNAVAILABLE),
        };
        found = f;
        if found.is_some() && (m.is_some() || host.contains(&b'.')) {
            break;
        }
        if status == sysexits::TEMPFAIL {
            got_tempfail = true;
        }
    }
    let Some(mut name) = found else {
        return Err(got_tempfail);
    };
    let first_dot = name.iter().position(|&b| b == b'.');
    if first_dot.is_none_or(|d| d + 1 == name.len()) {
        match m {
            Some(d) if MAXNAME > name.len() + d.len() + 1 => {
                if name.last() != Some(&b'.') {
                    name.push(b'.');
                }
                name.extend_from_slice(d);
            }
            _ => return Err(false),
        }
    }
    Ok(name)
}

/// glibc's address parsers, which the libc crate does not declare.
pub(crate) mod inet {
    unsafe extern "C" {
        pub fn inet_addr(cp: *const libc::c_char) -> libc::in_addr_t;
        pub fn inet_pton(
            af: libc::c_int,
            src: *const libc::c_char,
            dst: *mut libc::c_void,
        ) -> libc::c_int;
    }
}

/// The address inside `[…]`, as sendmail parses it (inet_addr, then inet_pton for v6
/// with an optional `IPv6:` prefix).
fn parse_bracket(addr: &[u8]) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(addr).ok()?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let a = unsafe { inet::inet_addr(c.as_ptr()) };
    if a != libc::INADDR_NONE {
        return Some(a.to_ne_bytes().to_vec());
    }
    let body = if addr.len() >= 5 && addr[..5].eq_ignore_ascii_case(b"IPv6:") {
        &addr[5..]
    } else {
        addr
    };
    pton(libc::AF_INET6, body)
}

/// inet_pton for one family: the address bytes.
pub(crate) fn pton(family: i32, s: &[u8]) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(s).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: buf has room for an in6_addr (16 bytes), c is NUL-terminated.
    let r = unsafe { inet::inet_pton(family, c.as_ptr(), buf.as_mut_ptr().cast()) };
    if r != 1 {
        return None;
    }
    let n = if family == libc::AF_INET { 4 } else { 16 };
    Some(buf[..n].to_vec())
}

/// gethostbyaddr through glibc's `files` source, /etc/hosts (not the HostsFile option):
/// the first name of the first line for `addr`.
fn reverse(ctx: &Ctx, addr: &[u8]) -> Option<Vec<u8>> {
    let data = std::fs::read(ctx.resolve(b"/etc/hosts")).ok()?;
    let family = if addr.len() == 4 {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    for line in data.split(|&b| b == b'\n') {
        let line = match line.iter().position(|&b| b == b'#') {
            Some(p) => &line[..p],
            None => line,
        };
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let (Some(a), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        if pton(family, a).as_deref() == Some(addr) {
            return Some(name.to_vec());
        }
    }
    None
}

/// The HostsFile's bytes as last read; whether the file changed (its size, inode and
/// times) is looked at once per test line and tick of the coarse clock, as file maps
/// are, instead of reading it again for every new name.
#[derive(Debug, Default)]
pub(crate) struct HostsFile {
    stamp: Option<[i64; 7]>,
    data: Option<std::rc::Rc<[u8]>>,
    checked: bool,
    checked_tick: Option<(i64, i64)>,
}

impl HostsFile {
    /// A new test line begins (`now`: the coarse clock, read once for all files).
    pub(crate) fn next_command(&mut self, now: &mut Option<(i64, i64)>) {
        if self.checked
            && self.checked_tick != Some(*now.get_or_insert_with(super::db::coarse_tick))
        {
            self.checked = false;
        }
    }

    /// The file's bytes (`None`: it cannot be read).
    fn bytes(&mut self, path: &std::path::Path) -> Option<std::rc::Rc<[u8]>> {
        use std::os::unix::fs::MetadataExt;
        if !self.checked {
            let stamp = std::fs::metadata(path).ok().map(|m| {
                [
                    m.dev() as i64,
                    m.ino() as i64,
                    m.len() as i64,
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                ]
            });
            if stamp.is_none() || stamp != self.stamp {
                self.data = std::fs::read(path).ok().map(std::rc::Rc::from);
                self.stamp = stamp;
            }
            self.checked = true;
            self.checked_tick = Some(super::db::coarse_tick());
        }
        self.data.clone()
    }
}

/// Whether looking `key` up prints nothing, now and when asked again: no name server
/// is asked (a fresh failure is then not reported) and the answer is not a temporary
/// failure (a cached one is always reported). Only an address in brackets fails so
/// without a name server.
pub(crate) fn silent(ctx: &mut Ctx, key: &[u8]) -> bool {
    if use_name_server(ctx) {
        return false;
    }
    match ctx.host_cache.get(key) {
        Some((status, _)) => *status != sysexits::TEMPFAIL,
        None => key.first() != Some(&b'['),
    }
}

pub(crate) fn lookup(
    common: &Common,
    ctx: &mut Ctx,
    key: &[u8],
    args: &[Vec<u8>],
    env: &mut dyn MapEnv,
) -> Answer {
    let answer = |cname: &[u8]| {
        Answer::found(if common.match_only {
            common.rewrite(key, None)
        } else {
            common.rewrite(cname, Some(args))
        })
    };
    if let Some((status, cname)) = ctx.host_cache.get(key) {
        if *status == sysexits::TEMPFAIL {
            env.message(&timeout_message(key));
        }
        return match cname {
            Some(c) if *status == sysexits::OK => answer(c),
            _ => Answer::status(*status),
        };
    }
    let m = env.macro_value(b"m");
    let result: Result<Vec<u8>, bool> = if key.first() != Some(&b'[') {
        let hbuf = &key[..key.len().min(MAXNAME)];
        getcanonname(ctx, hbuf, m.as_deref())
    } else {
        let Some(close) = key.iter().position(|&b| b == b']') else {
            // No cache entry and no status: sendmail returns before either.
            return Answer::status(sysexits::OK);
        };
        match parse_bracket(&key[1..close]) {
            Some(addr) => reverse(ctx, &addr).ok_or(true),
            // Nothing was asked: h_errno is what the last resolver call left, and
            // sendmail's start-up lookups of its own name (no network) left TRY_AGAIN.
            None => Err(true),
        }
    };
    match result {
        Ok(c) => {
            ctx.host_cache
                .insert(key.to_vec(), (sysexits::OK, Some(c.clone())));
            answer(&c)
        }
        Err(tempfail) => {
            let status = if tempfail {
                // A fresh failure is reported only when DNS is among the host services
                // (UseNameServer); a cached one always is (above).
                if use_name_server(ctx) {
                    env.message(&timeout_message(key));
                }
                sysexits::TEMPFAIL
            } else {
                sysexits::NOHOST
            };
            ctx.host_cache.insert(key.to_vec(), (status, None));
            Answer::status(status)
        }
    }
}

/// `/canon`: getcanonname's answer (not cached, no message).
pub(crate) fn canon(ctx: &mut Ctx, host: &[u8], env: &mut dyn MapEnv) -> Option<Vec<u8>> {
    let m = env.macro_value(b"m");
    let host = &host[..host.len().min(MAXNAME - 1)];
    getcanonname(ctx, host, m.as_deref()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_file_is_read_again_once_it_changed_and_a_new_line_looks() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("hosts");
        std::fs::write(&path, "192.0.2.1 a\n").unwrap();
        let mut h = HostsFile::default();
        assert_eq!(h.bytes(&path).as_deref(), Some(&b"192.0.2.1 a\n"[..]));
        std::fs::write(&path, "192.0.2.2 bb\n").unwrap();
        // Within the line (and tick) the file is not looked at again.
        assert_eq!(h.bytes(&path).as_deref(), Some(&b"192.0.2.1 a\n"[..]));
        h.next_command(&mut Some((i64::MAX, 0)));
        assert_eq!(h.bytes(&path).as_deref(), Some(&b"192.0.2.2 bb\n"[..]));
        std::fs::remove_file(&path).unwrap();
        h.next_command(&mut Some((i64::MIN, 0)));
        assert!(h.bytes(&path).is_none());
    }

    #[test]
    fn shortened_names() {
        assert_eq!(shorten(b"short"), b"short");
        let long = b"abcdefghijklmnopqrstuvwxyz0123456789";
        assert_eq!(shorten(long), b"abcdefghijklmno...vwxyz0123456789");
    }

    #[test]
    fn canonical_name_prefers_a_dotted_name() {
        let m = Some(&b"example.com"[..]);
        assert_eq!(
            extract_canonname(b"alpha", None, b"192.0.2.3 alpha Alpha.Example.COM", m).unwrap(),
            b"Alpha.Example.COM"
        );
        assert_eq!(
            extract_canonname(b"shorty", None, b"192.0.2.2 shorty", m).unwrap(),
            b"shorty.example.com"
        );
        assert!(extract_canonname(b"x", None, b"192.0.2.2 shorty", m).is_none());
        let mut n = b"mail.example.com".to_vec();
        assert_eq!(shorten_hostname(&mut n, b"example.com"), Some(4));
        let mut n = b"mail.example.com.".to_vec();
        assert_eq!(shorten_hostname(&mut n, b"example.com"), Some(4));
        assert_eq!(n, b"mail.example.com");
        let mut n = b"mail.other".to_vec();
        assert_eq!(shorten_hostname(&mut n, b"example.com"), None);
    }

    #[test]
    fn bracket_addresses() {
        assert_eq!(parse_bracket(b"192.0.2.1").unwrap(), [192, 0, 2, 1]);
        assert_eq!(parse_bracket(b"IPv6:::1").unwrap().len(), 16);
        assert!(parse_bracket(b"nonsense").is_none());
    }
}
