//! The `-bt` command language (`testmodeline` in main.c; cf-semantics §5): ruleset
//! lists with addresses, `.D` `.C`, `=S` `=M`, `$x` `$=x`, and the `/` commands.

use crate::cf::text::{self, LogicalLine};
use crate::cf::{FileId, MacroName};
use crate::engine::Session;
use crate::engine::rewrite::Workspace;
use crate::ir::MacroId;
use crate::maps::lookup::OpenState;
use crate::prescan::{self, MAXATOM, PSBUFSIZE, Table};
use crate::sysexits as ex;

/// Longest address `-bt` accepts (MAXNAME - 1).
const MAX_ADDRESS: usize = 255;

/// How many tokens test lines may leave in the token table before they are forgotten.
const SCRATCH_TOKENS: usize = 1 << 12;
/// Input lines are read into a buffer of this size (MAXLINE).
pub const LINE_BUFFER: usize = 2048;

/// The banner test mode prints before the first prompt.
pub const BANNER: &[u8] =
    b"ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)\nEnter <ruleset> <address>\n";

/// What a command line asks of the session's caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

impl Session<'_> {
    /// Run one input line (without its newline); output accumulates in the session.
    pub fn command(&mut self, line: &[u8]) -> Flow {
        // Earlier lines' tokens go once there are many (a case's result was taken
        // before this line).
        if let Some((ws, _)) = self.last.take() {
            self.give_ws(ws);
        }
        self.forget_trace();
        self.toks.release_beyond(SCRATCH_TOKENS);
        self.maps.next_command();
        let line = match memchr::memchr(0, line) {
            Some(p) => &line[..p],
            None => line,
        };
        let start = line.iter().take_while(|&&b| b == b' ').count();
        let line = &line[start..];
        match line.first() {
            None | Some(b'#') => {}
            Some(b'?') => self.help(),
            Some(b'.') => self.dot_command(line),
            Some(b'=') => self.equals_command(line),
            Some(b'-') => match line.get(1) {
                Some(b'd') => {}
                None => self.message("Usage: -d{debug arguments}"),
                Some(_) => self.unknown("-", line),
            },
            Some(b'$') => self.macro_command(line),
            Some(b'/') => return self.slash_command(line),
            Some(_) => self.apply_line(line),
        }
        Flow::Continue
    }

    /// `?`: the HelpFile's `-bt` lines (sendmail's `help("-bt")`).
    fn help(&mut self) {
        let Some(file) = self.help.clone() else {
            self.message("Sendmail 8.17.1.9 -- HELP not implemented");
            return;
        };
        let mut version: Option<i64> = None;
        let mut found = false;
        for line in file.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if line.first() == Some(&b'#') {
                if version.is_none()
                    && let Some(rest) = line.strip_prefix(b"#vers")
                {
                    let digits: Vec<u8> = rest
                        .iter()
                        .skip_while(|b| b.is_ascii_whitespace())
                        .take_while(|b| b.is_ascii_digit())
                        .copied()
                        .collect();
                    version = std::str::from_utf8(&digits)
                        .ok()
                        .and_then(|d| d.parse().ok());
                }
                continue;
            }
            if !line.starts_with(b"-bt") {
                continue;
            }
            found = true;
            let text = match line.iter().position(|&b| b == b' ' || b == b'\t') {
                Some(p) => &line[p + 1..],
                None => &line[line.len().saturating_sub(1)..],
            };
            let text: Vec<u8> = text.iter().copied().filter(|&b| b != b'\r').collect();
            if version.unwrap_or(0) >= 2 {
                let t = self.translate(&text);
                let v: Vec<u8> = self
                    .macros
                    .expand_text(&t)
                    .into_iter()
                    .map(|x| x.0)
                    .collect();
                self.message_bytes(&v);
            } else {
                self.message_bytes(&text);
            }
        }
        if found {
            self.message("End of HELP info");
        } else {
            self.message("HELP topic \"-bt\" unknown");
        }
    }

    fn unknown(&mut self, kind: &str, line: &[u8]) {
        let mut m = format!("Unknown \"{kind}\" command ").into_bytes();
        m.extend_from_slice(line);
        self.message_bytes(&m);
    }

    /// Parse a macro name at `s` the way `macid_parse` does, printing its complaints;
    /// returns the id and the bytes used.
    fn parse_name(&mut self, s: &[u8]) -> Option<(MacroId, usize)> {
        if s.is_empty() || s.starts_with(b"{}") {
            self.message("Name required for macro/class");
            return None;
        }
        if s[0] != b'{' {
            return Some((s[0], 1));
        }
        let mut name = Vec::new();
        let mut p = 1;
        while p < s.len() && s[p] != b'}' && name.len() < text::MAXMACNAMELEN {
            if s[p].is_ascii_alphanumeric() || s[p] == b'_' {
                name.push(s[p]);
            } else {
                let mut m = b"Invalid macro/class character ".to_vec();
                m.push(s[p]);
                self.message_bytes(&m);
            }
            p += 1;
        }
        let id: Option<MacroId> = if p >= s.len() {
            let mut m = b"Unbalanced { on ".to_vec();
            m.extend_from_slice(&name);
            self.message_bytes(&m);
            None
        } else if s[p] != b'}' {
            let mut m = b"Macro/class name ({".to_vec();
            m.extend_from_slice(&name);
            m.extend_from_slice(
                format!("}}) too long ({} chars max)", text::MAXMACNAMELEN).as_bytes(),
            );
            self.message_bytes(&m);
            None
        } else {
            p += 1;
            if name.len() == 1 && name[0] >= 0x20 {
                Some(name[0])
            } else {
                match self.macros.id(&MacroName::Long(name.clone())) {
                    Ok(id) => Some(id),
                    Err(_) => {
                        let mut m = b"Macro/class {".to_vec();
                        m.extend_from_slice(&name);
                        m.extend_from_slice(b"}: too many long names");
                        self.message_bytes(&m);
                        None
                    }
                }
            }
        };
        match id {
            Some(id) if id != 0 => Some((id, p)),
            Some(_) => None,
            None => {
                self.message("Unable to assign macro/class ID (mid = 0xffffffff)");
                None
            }
        }
    }

    /// `$`-translate a `-bt` argument as `translate_dollars` does.
    fn translate(&mut self, s: &[u8]) -> crate::cf::Text {
        let mut notes = Vec::new();
        let line = LogicalLine {
            start: 0,
            end: s.len(),
        };
        let flat = text::strip(s, line, FileId(0), self.ir.level >= 3, &mut notes);
        text::translate(&flat, 0, flat.bytes.len(), &mut notes)
    }

    fn dot_command(&mut self, line: &[u8]) {
        match line.get(1) {
            Some(b'D') => {
                let Some((id, used)) = self.parse_name(&line[2..]) else {
                    return;
                };
                let text = self.translate(&line[2 + used..]);
                let value: Vec<u8> = self
                    .macros
                    .internal(&text)
                    .into_iter()
                    .map(|x| x.0)
                    .collect();
                self.macros.define(id, value, None);
            }
            Some(b'C') => {
                if line.len() == 2 {
                    return;
                }
                let Some((id, used)) = self.parse_name(&line[2..]) else {
                    return;
                };
                let text = self.translate(&line[2 + used..]);
                let value: Vec<u8> = self
                    .macros
                    .expand_text(&text)
                    .into_iter()
                    .map(|x| x.0)
                    .collect();
                for w in value.split(|b| b.is_ascii_whitespace()) {
                    if !w.is_empty() {
                        self.classes.add(id, w);
                    }
                }
            }
            None => self.message("Usage: .[DC]macro value(s)"),
            Some(_) => self.unknown(".", line),
        }
    }

    fn equals_command(&mut self, line: &[u8]) {
        match line.get(1) {
            Some(b'S') => {
                let arg = &line[2..];
                let Some(rs) = self.find_ruleset(arg) else {
                    let mut m = b"Undefined ruleset ".to_vec();
                    m.extend_from_slice(arg);
                    self.message_bytes(&m);
                    return;
                };
                let ir = self.ir;
                let Some(set) = ir.rulesets.get(&rs) else {
                    return;
                };
                for rule in &set.rules {
                    self.out.push(b'R');
                    for t in crate::ir::emit::pattern_tokens(&rule.lhs) {
                        self.xputs(&t);
                        self.out.push(b' ');
                    }
                    self.out.extend_from_slice(b"\t\t");
                    let prefix: &[u8] = match rule.rhs.prefix {
                        crate::ir::Prefix::Once => &[crate::meta::CANONUSER],
                        crate::ir::Prefix::Return => &[crate::meta::CANONHOST],
                        crate::ir::Prefix::Repeat => &[],
                    };
                    if !prefix.is_empty() {
                        self.xputs(prefix);
                        self.out.push(b' ');
                    }
                    let mut after_call = false;
                    for t in &rule.rhs.tokens {
                        // sendmail strips the quotes of a `$>"name"` target when it
                        // reads the rule.
                        if after_call {
                            let t = crate::engine::rewrite::strip_quotes(&t.bytes);
                            self.xputs(&t);
                        } else {
                            self.xputs(&t.bytes);
                        }
                        after_call = t.is(crate::meta::CALLSUBR);
                        self.out.push(b' ');
                    }
                    self.out.push(b'\n');
                }
            }
            Some(b'M') => self.print_mailers(),
            None => self.message("Usage: =Sruleset or =M"),
            Some(_) => self.unknown("=", line),
        }
    }

    fn macro_command(&mut self, line: &[u8]) {
        if line.get(1) == Some(&b'=') {
            if let Some((id, _)) = self.parse_name(&line[2..]) {
                let members: Vec<Vec<u8>> = self
                    .classes
                    .members(id)
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect();
                for m in members {
                    self.out.extend_from_slice(&m);
                    self.out.push(b'\n');
                }
            }
            return;
        }
        let Some((id, _)) = self.parse_name(&line[1..]) else {
            return;
        };
        match self.macros.value(id).map(<[u8]>::to_vec) {
            None => self.message("Undefined"),
            Some(v) => {
                self.xputs(&v);
                self.out.push(b'\n');
            }
        }
    }

    fn slash_command(&mut self, line: &[u8]) -> Flow {
        let mut end = line.len();
        while end > 0 && line[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        let line = &line[..end];
        let (cmd, arg) = match line.iter().position(|&b| b == b' ' || b == b'\t') {
            Some(p) => {
                let mut a = p;
                while a < line.len() && line[a].is_ascii_whitespace() {
                    a += 1;
                }
                (&line[..p], &line[a..])
            }
            None => (line, &b""[..]),
        };
        let word = &cmd[1..];
        if word.is_empty() {
            self.message("Usage: /[canon|map|mx|parse|try|tryflags]");
            return Flow::Continue;
        }
        let is = |w: &str| word.eq_ignore_ascii_case(w.as_bytes());
        if is("quit") {
            return Flow::Quit;
        } else if is("mx") {
            if arg.is_empty() {
                self.message("Usage: /mx address");
            } else {
                let mut m = b"getmxrr(".to_vec();
                m.extend_from_slice(arg);
                // Offline: a name server never answers (-1); without DNS in the
                // service switch sendmail does not ask for MX records at all.
                let n = if self.maps.use_name_server() {
                    "-1"
                } else {
                    "0"
                };
                m.extend_from_slice(format!(") returns {n} value(s):").as_bytes());
                self.message_bytes(&m);
            }
        } else if is("canon") {
            if arg.is_empty() {
                self.message("Usage: /canon address");
            } else if arg.len() >= 256 {
                self.message("Name too long");
            } else {
                let found = self.with_maps(|m, env| m.canon(arg, env));
                let mut m = b"getcanonname(".to_vec();
                m.extend_from_slice(arg);
                m.extend_from_slice(b") returns ");
                m.extend_from_slice(found.as_deref().unwrap_or(arg));
                self.out.extend_from_slice(&m);
                self.out.push(b'\n');
            }
        } else if is("map") {
            self.map_command(arg);
        } else if is("expand") {
            if arg.is_empty() {
                self.message("Usage: /expand string");
            } else {
                // The argument is not `$`-translated, so only bytes that already are
                // metacharacters could expand; typed text prints as it is.
                let raw: Vec<(u8, crate::cf::Span)> = arg
                    .iter()
                    .map(|&b| (b, crate::cf::Span::default()))
                    .collect();
                let v: Vec<u8> = self.macros.expand(&raw).into_iter().map(|x| x.0).collect();
                self.xputs(&v);
            }
        } else if is("tryflags") {
            if arg.is_empty() {
                self.message("Usage: /tryflags [Hh|Ee][Ss|Rr]");
            } else {
                for &c in arg {
                    match c {
                        b'H' | b'h' => self.try_header = true,
                        b'E' | b'e' => self.try_header = false,
                        b'S' | b's' => self.try_sender = true,
                        b'R' | b'r' => self.try_sender = false,
                        _ => {}
                    }
                }
                let v = vec![
                    if self.try_header { b'h' } else { b'e' },
                    b' ',
                    if self.try_sender { b's' } else { b'r' },
                ];
                if let Ok(id) = self.macros.id(&MacroName::Long(b"addr_type".to_vec())) {
                    self.macros.define(id, v, None);
                }
            }
        } else if is("try") {
            self.try_command(arg);
        } else if is("parse") {
            self.parse_command(arg);
        } else {
            // sendmail has cut the line at the first blank by now.
            self.unknown("/", cmd);
        }
        Flow::Continue
    }

    fn map_command(&mut self, arg: &[u8]) {
        if arg.is_empty() {
            self.message("Usage: /map mapname key");
            return;
        }
        let Some(sp) = arg.iter().position(|b| b.is_ascii_whitespace()) else {
            self.message("No key specified");
            return;
        };
        let (name, key) = (&arg[..sp], &arg[sp + 1..]);
        let Some(ix) = self.maps.find(name) else {
            let mut m = b"Map named \"".to_vec();
            m.extend_from_slice(name);
            m.extend_from_slice(b"\" not found");
            self.message_bytes(&m);
            return;
        };
        let state = self.with_maps(|m, env| m.open(ix, env));
        if state == OpenState::Invalid {
            let mut m = b"Map named \"".to_vec();
            m.extend_from_slice(name);
            m.extend_from_slice(b"\" not open");
            self.message_bytes(&m);
            return;
        }
        let mut head = b"map_lookup: ".to_vec();
        head.extend_from_slice(name);
        head.extend_from_slice(b" (");
        head.extend_from_slice(key);
        head.extend_from_slice(b") ");
        self.out.extend_from_slice(&head);
        let answer = if state == OpenState::Bogus {
            crate::maps::lookup::Answer::status(ex::TEMPFAIL)
        } else {
            let av = vec![key.to_vec()];
            self.with_maps(|m, env| m.lookup(ix, key, &av, env))
        };
        match answer.value {
            None => self
                .out
                .extend_from_slice(format!("no match ({})\n", answer.status).as_bytes()),
            Some(v) => {
                self.out.extend_from_slice(b"returns ");
                self.out.extend_from_slice(&v);
                self.out
                    .extend_from_slice(format!(" ({})\n", answer.status).as_bytes());
            }
        }
    }

    /// `rulesets address[,address…]`.
    fn apply_line(&mut self, line: &[u8]) {
        let lead = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let line = &line[lead..];
        let list_end = line
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(line.len());
        if list_end >= line.len() {
            self.message("No address!");
            return;
        }
        let list = &line[..list_end];
        let rest = &line[list_end + 1..];
        if self.invalid_address(rest) {
            return;
        }
        let table = if self.ir.level >= 9 {
            Table::NoComments
        } else {
            Table::External
        };
        let mode = prescan::Mode {
            table,
            ignore_errors: false,
            delimiter: Some(b','),
            bufsize: PSBUFSIZE,
        };
        let mut pos = 0usize;
        loop {
            let input = &rest[pos..];
            let buf = self.take_ws();
            let toks = &mut self.toks;
            let scan =
                prescan::prescan_into(input, &self.ir.tables, mode, buf, |b, _, _| toks.intern(b));
            self.report_scan(input, &scan);
            let consumed = scan.consumed;
            if !scan.failed && !scan.tokens.is_empty() {
                let ws: Workspace = scan.tokens;
                self.apply_list(list, ws);
            } else {
                self.give_ws(scan.tokens);
            }
            pos += consumed;
            if pos >= rest.len() {
                break;
            }
            pos += 1; // the delimiter
        }
    }

    fn apply_list(&mut self, list: &[u8], mut ws: Workspace) {
        let mut last_status = ex::OK;
        let mut p = 0usize;
        while p < list.len() {
            let here = &list[p..];
            let Some(rs) = self.find_ruleset(here) else {
                let mut m = b"Undefined ruleset ".to_vec();
                m.extend_from_slice(here);
                self.message_bytes(&m);
                break;
            };
            let status = self.rewrite(&mut ws, rs, 0, MAXATOM);
            if status != ex::OK {
                let mut m = b"== Ruleset ".to_vec();
                m.extend_from_slice(here);
                m.extend_from_slice(format!(" ({rs}) status {status}").as_bytes());
                self.message_bytes(&m);
                last_status = status;
            }
            // On after the next comma.
            p = memchr::memchr(b',', &list[p..]).map_or(list.len(), |c| p + c + 1);
        }
        self.last = Some((ws, last_status));
    }

    /// Run one `RULESETS ADDRESS` line for a test case: the final workspace of the last
    /// address as the trace prints it (tokens joined by blanks), and the status of the
    /// last ruleset that did not return OK (0 when all did). `None` when no ruleset ran.
    pub fn run_case(&mut self, rulesets: &[u8], address: &[u8]) -> Option<(Vec<u8>, i32)> {
        let mut line = rulesets.to_vec();
        line.push(b' ');
        line.extend_from_slice(address);
        self.command(&line);
        let (ws, status) = self.last.take()?;
        let mark = self.out.len();
        for (i, &t) in ws.iter().enumerate() {
            if i > 0 {
                self.out.push(b' ');
            }
            self.xputs_token(t);
        }
        let printed = self.out.split_off(mark);
        Some((printed, status))
    }

    /// `invalidaddr`: 8-bit control bytes and overlong addresses.
    pub(crate) fn invalid_address(&mut self, addr: &[u8]) -> bool {
        if addr.len() <= MAX_ADDRESS && !has_control_8bit(addr) {
            return false;
        }
        let mut shown: Vec<u8> = Vec::with_capacity(addr.len());
        let mut bad = false;
        for (i, &b) in addr.iter().enumerate() {
            if i >= MAX_ADDRESS {
                let mut m = b"Address \"".to_vec();
                m.extend_from_slice(&shown);
                m.extend_from_slice(format!("\" too long ({MAX_ADDRESS} bytes max)").as_bytes());
                self.message_bytes(&m);
                return true;
            }
            if b & 0xE0 == 0x80 {
                bad = true;
                shown.push(b'?');
            } else {
                shown.push(b);
            }
        }
        if bad {
            let mut m = b"8-bit character in mailbox address \"".to_vec();
            m.extend_from_slice(&shown);
            m.push(b'"');
            self.message_bytes(&m);
        }
        bad
    }

    fn print_mailers(&mut self) {
        let list = crate::engine::mailers::mailers(self.ir);
        for (i, m) in list.iter().enumerate() {
            let rs = |s: &Self, n: u16| s.ruleset_label(n);
            let mut line = format!("mailer {i} (").into_bytes();
            line.extend_from_slice(&m.name);
            line.extend_from_slice(b"): P=");
            line.extend_from_slice(&m.path);
            line.extend_from_slice(b" S=");
            line.extend_from_slice(&rs(self, m.se));
            line.push(b'/');
            line.extend_from_slice(&rs(self, m.sh));
            line.extend_from_slice(b" R=");
            line.extend_from_slice(&rs(self, m.re));
            line.push(b'/');
            line.extend_from_slice(&rs(self, m.rh));
            line.extend_from_slice(format!(" M={} U={}:{} F=", m.maxsize, m.uid, m.gid).as_bytes());
            for c in 0u8..=0x7F {
                if m.flags[c as usize] {
                    line.push(c);
                }
            }
            line.extend_from_slice(format!(" L={} E=", m.linelimit).as_bytes());
            self.out.extend_from_slice(&line);
            self.xputs(&m.eol);
            let mut line = Vec::new();
            if let Some(c) = &m.charset {
                line.extend_from_slice(b" C=");
                line.extend_from_slice(c);
            }
            line.extend_from_slice(b" T=");
            let undef = b"<undefined>".to_vec();
            line.extend_from_slice(m.mtatype.as_ref().unwrap_or(&undef));
            line.push(b'/');
            line.extend_from_slice(m.addrtype.as_ref().unwrap_or(&undef));
            line.push(b'/');
            line.extend_from_slice(m.diagtype.as_ref().unwrap_or(&undef));
            line.extend_from_slice(format!(" r={}", m.maxrcpt).as_bytes());
            self.out.extend_from_slice(&line);
            if !m.argv.is_empty() {
                self.out.extend_from_slice(b" A=");
                for (j, a) in m.argv.iter().enumerate() {
                    if j > 0 {
                        self.out.push(b' ');
                    }
                    self.xputs(a);
                }
            }
            self.out.push(b'\n');
        }
    }
}

/// Whether `s` holds a byte 0x80–0x9F (high bit set, the next two clear), eight bytes at
/// a time.
fn has_control_8bit(s: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        // Bits 6 and 5 of each byte shifted up under its bit 7.
        if w & !(w << 1) & !(w << 2) & HIGH != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b & 0xE0 == 0x80)
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_8bit_bytes_found_as_one_at_a_time() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    // Neighbours that set the bits a shift could carry over.
                    if at > 0 {
                        s[at - 1] = 0xFF;
                    }
                    let want = s.iter().any(|&c| c & 0xE0 == 0x80);
                    assert_eq!(super::has_control_8bit(&s), want, "{s:?}");
                }
            }
        }
    }
}
