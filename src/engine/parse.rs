//! `/try` and `/parse` (cf-semantics §5.5): an address through ruleset 3, then the
//! sender/recipient and mailer rulesets (`remotename`), or through rulesets 3 and 0 and
//! `buildaddr` (`parseaddr` in parseaddr.c), with `crackaddr`'s split of the address
//! from its comments and phrase.

use crate::engine::Session;
use crate::engine::cataddr::{MAXLINE, cataddr};
use crate::engine::mailers::{MailerInfo, mailers};
use crate::engine::rewrite::{Workspace, strip_quotes};
use crate::meta;
use crate::prescan::{self, MAXATOM, PSBUFSIZE, Table};
use crate::sysexits as ex;

/// The address proper replaced by `$g`, keeping comments and the text around `<…>`.
pub fn crackaddr(addr: &[u8]) -> Vec<u8> {
    let g = [meta::MACROEXPAND, b'g'];
    // A top-level `<`: keep everything outside the brackets.
    let (mut quoted, mut depth) = (false, 0usize);
    let mut open = None;
    let mut i = 0;
    while i < addr.len() {
        let c = addr[i];
        match c {
            b'\\' => i += 1,
            b'"' if depth == 0 => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted && depth > 0 => depth -= 1,
            b'<' if !quoted && depth == 0 => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(o) = open {
        let mut level = 0usize;
        let mut close = None;
        let mut q = false;
        let mut j = o;
        while j < addr.len() {
            match addr[j] {
                b'\\' => j += 1,
                b'"' => q = !q,
                b'<' if !q => level += 1,
                b'>' if !q => {
                    level -= 1;
                    if level == 0 {
                        close = Some(j);
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        let mut out = addr[..o].to_vec();
        let inner = close.map_or(&addr[o + 1..], |c| &addr[o + 1..c]);
        out.push(b'<');
        if !inner.iter().all(u8::is_ascii_whitespace) {
            out.extend_from_slice(&g);
        }
        out.push(b'>');
        if let Some(c) = close {
            out.extend_from_slice(&addr[c + 1..]);
        }
        return out;
    }
    // No brackets: comments stay, the rest becomes one `$g`.
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut emitted = false;
    let mut quoted = false;
    let mut depth = 0usize;
    let mut i = 0;
    while i < addr.len() {
        let c = addr[i];
        if depth > 0 || (c == b'(' && !quoted) {
            if depth == 0 {
                out.append(&mut pending);
            }
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'\\' if i + 1 < addr.len() => {
                    out.push(c);
                    i += 1;
                    out.push(addr[i]);
                    i += 1;
                    continue;
                }
                _ => {}
            }
            out.push(c);
            i += 1;
            continue;
        }
        if !quoted && (c == b' ' || c == b'\t') {
            pending.push(c);
            i += 1;
            continue;
        }
        if c == b'"' {
            quoted = !quoted;
        } else if c == b'\\' {
            i += 1;
        }
        if !emitted {
            out.append(&mut pending);
            out.extend_from_slice(&g);
            emitted = true;
        } else {
            pending.clear();
        }
        i += 1;
    }
    out
}

/// sendmail's `isenhsc`: the length of an enhanced status code `d.ddd.ddd` at the start
/// of `s` followed by `delim` (or the end when `delim` is 0), else 0.
fn isenhsc(s: &[u8], delim: u8) -> usize {
    let digits = |from: usize, max: usize| {
        let n = s[from.min(s.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n == 0 || n > max {
            None
        } else {
            Some(from + n)
        }
    };
    if !matches!(s.first(), Some(b'2' | b'4' | b'5')) || s.get(1) != Some(&b'.') {
        return 0;
    }
    let Some(e) = digits(2, 3) else { return 0 };
    if s.get(e) != Some(&b'.') {
        return 0;
    }
    let Some(e) = digits(e + 1, 3) else { return 0 };
    match s.get(e) {
        None if delim == 0 => e,
        Some(&d) if d == delim => e,
        _ => 0,
    }
}

/// The result of `buildaddr`.
struct Built {
    mailer: Vec<u8>,
    host: Option<Vec<u8>>,
    user: Vec<u8>,
}

impl Session<'_> {
    /// A message as `usrerr` prints it in `-bt`, with the address prefix for the codes
    /// that carry one.
    fn usrerr(&mut self, code: &[u8], to: &[u8], text: &[u8]) {
        let mut m = Vec::new();
        if !to.is_empty() && [&b"050"[..], b"250", b"252", b"450", b"550", b"553"].contains(&code) {
            m.extend_from_slice(&super::shorten(to));
            m.extend_from_slice(b"... ");
        }
        m.extend_from_slice(text);
        self.message_bytes(&m);
    }

    fn tokenize_address(&mut self, addr: &[u8]) -> Option<Workspace> {
        let mode = prescan::Mode {
            table: Table::External,
            ignore_errors: false,
            delimiter: None,
            bufsize: PSBUFSIZE,
        };
        let toks = &mut self.toks;
        let scan = prescan::prescan_with(addr, &self.ir.tables, mode, |b, _, _| toks.intern(b));
        self.report_scan(addr, &scan);
        if scan.failed || scan.tokens.is_empty() {
            return None;
        }
        Some(scan.tokens)
    }

    fn set_addr_type(&mut self) {
        let v = vec![
            if self.try_header { b'h' } else { b'e' },
            b' ',
            if self.try_sender { b's' } else { b'r' },
        ];
        if let Ok(id) = self
            .macros
            .id(&crate::cf::MacroName::Long(b"addr_type".to_vec()))
        {
            self.macros.define(id, v, None);
        }
    }

    fn direction(&self) -> String {
        format!(
            "{} {}",
            if self.try_header {
                "header"
            } else {
                "envelope"
            },
            if self.try_sender {
                "sender"
            } else {
                "recipient"
            }
        )
    }

    /// `/try mailer address`.
    pub(crate) fn try_command(&mut self, arg: &[u8]) {
        let split = arg.iter().position(|&b| b == b' ' || b == b'\t');
        let (name, addr) = match split {
            Some(p) => {
                let rest = &arg[p..];
                let s = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
                (&arg[..p], &rest[s..])
            }
            None => (arg, &b""[..]),
        };
        if addr.is_empty() {
            self.message("Usage: /try mailer address");
            return;
        }
        let list = mailers(self.ir);
        let Some(m) = list
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .cloned()
        else {
            let mut msg = b"Unknown mailer ".to_vec();
            msg.extend_from_slice(name);
            self.message_bytes(&msg);
            return;
        };
        let mut head = format!("Trying {} address ", self.direction()).into_bytes();
        head.extend_from_slice(addr);
        head.extend_from_slice(b" for mailer ");
        head.extend_from_slice(name);
        self.message_bytes(&head);
        let (rcode, result) = self.remotename(addr, &m);
        let mut line = format!("Rcode = {rcode}, addr = ").into_bytes();
        match result {
            Some(r) => line.extend_from_slice(&r),
            None => line.extend_from_slice(b"<NULL>"),
        }
        self.out.extend_from_slice(&line);
        self.out.push(b'\n');
    }

    fn remotename(&mut self, addr: &[u8], m: &MailerInfo) -> (i32, Option<Vec<u8>>) {
        let rwset = match (self.try_sender, self.try_header) {
            (true, true) => m.sh,
            (true, false) => m.se,
            (false, true) => m.rh,
            (false, false) => m.re,
        };
        self.set_addr_type();
        let fancy = if m.flags[b'c' as usize] {
            vec![meta::MACROEXPAND, b'g']
        } else {
            crackaddr(addr)
        };
        let Some(mut ws) = self.tokenize_address(addr) else {
            return (ex::OK, Some(addr.to_vec()));
        };
        let mut pstat = ex::OK;
        let mut run = |s: &mut Self, ws: &mut Workspace, rs: u16| {
            if s.rewrite(ws, rs, 0, MAXATOM) == ex::TEMPFAIL {
                pstat = ex::TEMPFAIL;
            }
        };
        run(self, &mut ws, 3);
        run(self, &mut ws, if self.try_sender { 1 } else { 2 });
        if rwset > 0 {
            run(self, &mut ws, rwset);
        }
        run(self, &mut ws, 4);
        let joined = cataddr(
            self.toks.texts(&ws),
            &self.ir.tables,
            self.blank_sub,
            false,
            256 + 2,
        );
        let old = self.macros.value(b'g').map(<[u8]>::to_vec);
        self.macros.define(b'g', joined, None);
        let expanded: Vec<u8> = self
            .macros
            .expand(
                &fancy
                    .iter()
                    .map(|&b| (b, crate::cf::Span::default()))
                    .collect::<Vec<_>>(),
            )
            .into_iter()
            .map(|x| x.0)
            .collect();
        match old {
            Some(v) => self.macros.define(b'g', v, None),
            None => self.macros.undefine(b'g'),
        }
        (pstat, Some(expanded))
    }

    /// `/parse address`.
    pub(crate) fn parse_command(&mut self, arg: &[u8]) {
        if arg.is_empty() {
            self.message("Usage: /parse address");
            return;
        }
        let cracked = crackaddr(arg);
        self.out.extend_from_slice(b"Cracked address = ");
        self.xputs(&cracked);
        self.out.push(b'\n');
        let d = self.direction();
        self.message(&format!("Parsing {d} address"));
        match self.parseaddr(arg) {
            None => self.message("Cannot parse"),
            Some(b) => {
                let mut line = b"mailer ".to_vec();
                line.extend_from_slice(&b.mailer);
                if let Some(h) = b.host.filter(|h| !h.is_empty()) {
                    line.extend_from_slice(b", host ");
                    line.extend_from_slice(&h);
                }
                line.extend_from_slice(b", user ");
                line.extend_from_slice(&b.user);
                self.out.extend_from_slice(&line);
                self.out.push(b'\n');
            }
        }
    }

    fn parseaddr(&mut self, addr: &[u8]) -> Option<Built> {
        let mut ws = self.tokenize_address(addr)?;
        if self.invalid_address(addr) {
            return None;
        }
        let mut qup = false;
        qup |= self.rewrite(&mut ws, 3, 0, MAXATOM) == ex::TEMPFAIL;
        qup |= self.rewrite(&mut ws, 0, 0, MAXATOM) == ex::TEMPFAIL;
        let built = self.buildaddr(ws, addr);
        if !self.try_sender
            && !self.try_header
            && built.mailer != b"*error*"
            && let Some(rs) = self.ir.ruleset_names.get(&b"queuegroup"[..]).copied()
        {
            let user = built.user.clone();
            let mode = prescan::Mode {
                table: Table::Internal,
                ignore_errors: false,
                delimiter: None,
                bufsize: PSBUFSIZE,
            };
            let toks = &mut self.toks;
            let scan =
                prescan::prescan_with(&user, &self.ir.tables, mode, |b, _, _| toks.intern(b));
            if !scan.failed && !scan.tokens.is_empty() {
                let mut qws: Workspace = scan.tokens;
                self.rewrite(&mut qws, rs, 0, PSBUFSIZE);
            }
        }
        if qup {
            self.message("Transient parse error -- message queued for future delivery");
        }
        Some(built)
    }

    fn buildaddr(&mut self, ws: Workspace, to: &[u8]) -> Built {
        let error = |user: Vec<u8>, host: Option<Vec<u8>>| Built {
            mailer: b"*error*".to_vec(),
            host,
            user,
        };
        if ws.first().is_none_or(|t| !t.is(meta::CANONNET)) {
            self.message("buildaddr: no mailer in parsed address");
            return error(Vec::new(), None);
        }
        let mname: Vec<u8> = ws
            .get(1)
            .map_or_else(Vec::new, |&t| self.toks.text(t).to_vec());
        let mut k = 2;
        let host_start = if ws.get(k).is_some_and(|t| t.is(meta::CANONHOST)) {
            k += 1;
            Some(k)
        } else {
            None
        };
        while k < ws.len() && !ws[k].is(meta::CANONUSER) {
            k += 1;
        }
        if k >= ws.len() {
            self.message("buildaddr: no user");
            return error(Vec::new(), None);
        }
        let hbuf: Option<Vec<u8>> = match host_start {
            Some(h) if h != k => Some(cataddr(
                self.toks.texts(&ws[h..k]),
                &self.ir.tables,
                self.blank_sub,
                true,
                257,
            )),
            _ => None,
        };
        let mut tv: Workspace = ws[k + 1..].to_vec();
        let ubuf = cataddr(
            self.toks.texts(&tv),
            &self.ir.tables,
            b' ',
            false,
            256 + 2 + 1,
        );
        if mname.eq_ignore_ascii_case(b"error") {
            let stripped = strip_quotes(&ubuf);
            let smtp = stripped.len() > 3
                && stripped[..3].iter().all(u8::is_ascii_digit)
                && stripped[3] == b' ';
            if smtp {
                let code = stripped[..3].to_vec();
                let off = isenhsc(&stripped[4..], b' ');
                let text = if off > 0 {
                    &stripped[4 + off + 1..]
                } else {
                    &stripped[4..]
                };
                self.usrerr(&code, to, text);
            } else {
                self.usrerr(b"553", to, &stripped);
            }
            return error(ubuf, hbuf);
        }
        let list = mailers(self.ir);
        let Some(mut m) = list
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(&mname))
            .cloned()
        else {
            let mut msg = b"buildaddr: unknown mailer ".to_vec();
            msg.extend_from_slice(&mname);
            self.message_bytes(&msg);
            return error(Vec::new(), None);
        };
        if hbuf.is_none() && !m.flags[b'l' as usize] {
            self.message("buildaddr: no host");
            return error(Vec::new(), None);
        }
        let mut p: &[u8] = &ubuf;
        if m.flags[b'@' as usize] && p.first() == Some(&b'@') {
            p = &p[1..];
            if !tv.is_empty() {
                tv.remove(0);
            }
        }
        if p.first() == Some(&b'"') {
            p = &p[1..];
        }
        let by_name = |n: &[u8]| list.iter().find(|x| x.name == n).cloned();
        if p.first() == Some(&b'|') && m.flags[b'|' as usize] {
            if let Some(x) = by_name(b"prog") {
                m = x;
            }
        } else if p.first() == Some(&b'/') && m.flags[b'/' as usize] {
            if let Some(x) = by_name(b"*file*") {
                m = x;
            }
        } else if p.first() == Some(&b':') && m.flags[b':' as usize] {
            let s = strip_quotes(&ubuf);
            if s.len() >= 9 && s[..9].eq_ignore_ascii_case(b":include:") {
                return Built {
                    mailer: b"*include*".to_vec(),
                    host: hbuf,
                    user: s[9..].to_vec(),
                };
            }
        }
        match &hbuf {
            Some(h) => self.macros.define(b'h', h.clone(), None),
            None => self.macros.undefine(b'h'),
        }
        let maxatom = MAXATOM.saturating_sub(k + 2);
        if self.ir.level >= 10 || !(self.try_sender || self.try_header) {
            self.rewrite(&mut tv, 2, 0, maxatom);
            if m.re > 0 {
                self.rewrite(&mut tv, m.re, 0, maxatom);
            }
        }
        self.rewrite(&mut tv, 4, 0, maxatom);
        let mut user = cataddr(
            self.toks.texts(&tv),
            &self.ir.tables,
            self.blank_sub,
            true,
            MAXLINE,
        );
        user.truncate(256 + 1);
        let host = hbuf.map(|h| {
            if m.flags[b'h' as usize] {
                h
            } else {
                h.to_ascii_lowercase()
            }
        });
        if !m.flags[b'u' as usize] {
            user.make_ascii_lowercase();
        }
        Built {
            mailer: m.name.clone(),
            host,
            user,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(b: &[u8]) -> String {
        let b: Vec<u8> = b
            .iter()
            .map(|&c| if c == meta::MACROEXPAND { b'$' } else { c })
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn crackaddr_keeps_the_decoration() {
        // cf-semantics §5.5 [observed].
        assert_eq!(
            shown(&crackaddr(b"(comment) Foo <A@B.C>")),
            "(comment) Foo <$g>"
        );
        assert_eq!(shown(&crackaddr(b"a@b")), "$g");
        assert_eq!(shown(&crackaddr(b"\"quoted name\" a@b")), "$g");
        assert_eq!(shown(&crackaddr(b"a@b (c)")), "$g (c)");
        assert_eq!(shown(&crackaddr(b"<>")), "<>");
    }

    #[test]
    fn enhanced_status_codes() {
        assert_eq!(isenhsc(b"5.1.1 x", b' '), 5);
        assert_eq!(isenhsc(b"5.1.1", 0), 5);
        assert_eq!(isenhsc(b"no such", b' '), 0);
        assert_eq!(isenhsc(b"5.1234.1 x", b' '), 0);
    }
}
