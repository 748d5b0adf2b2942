//! The rewrite engine: runs compiled rulesets the way `sendmail -bt` does.
//!
//! A [`Session`] holds what sendmail keeps between test lines — macros, class members,
//! the maps' state, the `/tryflags` setting — and turns each input line into the bytes
//! real sendmail prints for it ([`Session::command`]). It never opens a file or a
//! terminal: maps come in behind [`crate::maps::lookup::Maps`], and output goes to a
//! buffer the caller writes out.
//!
//! * [`matcher`]: LHS matching and backtracking;
//! * [`rewrite`]: the rule loop, RHS building, lookups and `$>` calls;
//! * [`testmode`]: the `-bt` command language;
//! * [`classes`]: class members in sendmail's symbol-table order;
//! * [`cataddr`]: joining tokens into keys and phrases.

pub mod cataddr;
pub mod classes;
mod lookupmemo;
pub mod mailers;
pub mod matcher;
pub mod parse;
pub mod rewrite;
mod scanmemo;
mod tape;
pub mod testmode;
pub mod token;

use crate::cf::MacroName;
use crate::ir::{Ir, MacroTable};
use crate::maps::lookup::{MapEnv, Maps};
use crate::prescan::ScanOf;

pub use classes::ClassTable;
pub use rewrite::Workspace;
pub use token::{Token, TokenTable};

use matcher::Op;
use rewrite::Part;
use token::PAD;

/// A rule as the rewrite loop uses it: its left-hand side with interned literals and
/// the cheap tests that rule a workspace out before the backtracking match, and its
/// right-hand side as parts.
pub(crate) struct Compiled {
    pub ops: Vec<Op>,
    /// The special tokens the template holds.
    pub special: rewrite::Special,
    pub prefix: crate::ir::Prefix,
    pub template: Vec<Part>,
    /// Fewest and most workspace tokens the pattern can match.
    pub min_len: usize,
    pub max_len: Option<usize>,
    /// The folded literal the workspace must start / end with, if any.
    pub first: Option<Token>,
    pub last: Option<Token>,
    /// The pattern's folded literals in order: each matches one workspace token, left
    /// to right, so they must occur in the workspace in this order.
    pub literals: Vec<Token>,
    /// [`token_bit`] of every literal.
    pub literal_mask: u64,
}

/// One of 64 bits for a folded token: a workspace's tokens OR-ed together tell at once
/// that a literal is missing.
pub(crate) fn token_bit(folded: Token) -> u64 {
    1u64 << folded.bit_index()
}

/// A workspace's tokens case-folded (into `folded`), and the OR of their [`token_bit`].
pub(crate) fn fold_workspace(ws: &[Token], toks: &TokenTable, folded: &mut Vec<Token>) -> u64 {
    folded.clear();
    let mut sig = 0;
    for &t in ws {
        let f = toks.fold(t);
        sig |= token_bit(f);
        folded.push(f);
    }
    sig
}

impl Compiled {
    fn new(rule: &crate::ir::Rule, toks: &mut TokenTable) -> Compiled {
        let ops: Vec<Op> = rule.lhs.ops.iter().map(|o| Op::new(o, toks)).collect();
        for op in &ops {
            if let Op::Literal(l) = *op {
                toks.mark_literal(l);
            }
        }
        let literals: Vec<Token> = ops
            .iter()
            .filter_map(|op| match *op {
                Op::Literal(l) => Some(l),
                _ => None,
            })
            .collect();
        let mut folded = |l: &Option<Vec<u8>>| {
            l.as_ref().map(|l| {
                let t = toks.intern(l);
                toks.fold(t)
            })
        };
        let first = folded(&rule.lhs.first);
        let last = folded(&rule.lhs.last);
        for t in [first, last].into_iter().flatten() {
            toks.mark_literal(t);
        }
        let template: Vec<Part> = rule
            .rhs
            .tokens
            .iter()
            .map(|t| Part::new(&t.bytes, toks))
            .collect();
        Compiled {
            special: rewrite::Special::of(&template),
            template,
            min_len: rule.lhs.min_len,
            max_len: rule.lhs.max_len,
            first,
            last,
            literal_mask: literals.iter().fold(0, |m, &l| m | token_bit(l)),
            literals,
            ops,
            prefix: rule.rhs.prefix,
        }
    }

    /// The tests that rule a workspace out by its length, its first and last tokens and
    /// its signature (the literals' order is [`Compiled::literals_in_order`]).
    fn filter(&self) -> Filter {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Filter {
            min_len: clamp(self.min_len),
            max_len: self.max_len.map_or(u32::MAX, clamp),
            first: self.first,
            last: self.last,
            literal_mask: self.literal_mask,
        }
    }

    /// Whether the pattern's literals occur in `folded` in their order.
    pub(crate) fn literals_in_order(&self, folded: &[Token]) -> bool {
        let mut rest = folded.iter();
        self.literals.iter().all(|l| rest.any(|t| t == l))
    }
}

/// A rule's cheap tests, kept apart from the rest of it so the rewrite loop walks a
/// ruleset's tests in a few cache lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Filter {
    min_len: u32,
    /// `u32::MAX`: no limit.
    max_len: u32,
    first: Option<Token>,
    last: Option<Token>,
    literal_mask: u64,
}

impl Filter {
    /// Whether a workspace (its tokens folded, and their signature) cannot match.
    pub(crate) fn rules_out(&self, folded: &[Token], sig: u64) -> bool {
        let len = folded.len();
        len < self.min_len as usize
            || len > self.max_len as usize
            || self.literal_mask & !sig != 0
            || self.first.is_some_and(|f| folded.first() != Some(&f))
            || self.last.is_some_and(|l| folded.last() != Some(&l))
    }
}

/// A ruleset as the rewrite loop runs it: each rule's [`Filter`], and the rules.
#[derive(Default)]
pub(crate) struct Code {
    pub filters: Box<[Filter]>,
    pub rules: Box<[Compiled]>,
    /// What the patterns compare tokens with besides literals (classes, macros), for
    /// the shape memos; `None` when they are not used (a class has no slot).
    pub looks: Option<scanmemo::Looks>,
    /// The looks of this ruleset and of those it calls by name, theirs, and so on: what
    /// the shape of a recorded call's input takes in (see [`tape`]).
    pub reach: Option<scanmemo::Looks>,
    /// Searches go through the scan memo (the ruleset is long enough for it to pay).
    pub scan_memo: bool,
}

/// Class slots for the scan memo: each class some pattern names gets one of 64, in the
/// order first named (`NO_SLOT` past 64).
fn class_slots<'r>(rules: impl Iterator<Item = &'r Compiled>) -> [u8; 256] {
    let mut slots = [scanmemo::NO_SLOT; 256];
    let mut next = 0u8;
    for op in rules.flat_map(|r| &r.ops) {
        if let Op::Class(id) | Op::NotClass(id) = *op
            && slots[id as usize] == scanmemo::NO_SLOT
            && next < 64
        {
            slots[id as usize] = next;
            next += 1;
        }
    }
    slots
}

impl Code {
    fn new(rules: Vec<Compiled>, slots: &[u8; 256]) -> Code {
        let (mut named, mut macros) = (Vec::new(), Vec::new());
        for op in rules.iter().flat_map(|r| &r.ops) {
            match *op {
                Op::Macro(id) if !macros.contains(&id) => macros.push(id),
                Op::Class(id) | Op::NotClass(id) if !named.contains(&id) => named.push(id),
                _ => {}
            }
        }
        let named: Vec<_> = named.iter().map(|&id| (id, slots[id as usize])).collect();
        let slot_mask = named
            .iter()
            .filter(|n| n.1 != scanmemo::NO_SLOT)
            .fold(0u64, |m, n| m | 1 << n.1);
        let mut macro_set = [0u64; 4];
        for &m in &macros {
            macro_set[usize::from(m / 64)] |= 1 << (m % 64);
        }
        let memo = named.iter().all(|n| n.1 != scanmemo::NO_SLOT);
        Code {
            filters: rules.iter().map(Compiled::filter).collect(),
            scan_memo: memo && rules.len() >= scanmemo::MIN_RULES,
            rules: rules.into(),
            reach: None,
            looks: memo.then(|| scanmemo::Looks {
                classes: named.into(),
                slot_mask,
                macros: macros.into(),
                macro_set,
            }),
        }
    }
}

/// [`Session::scan_value`]'s memory, one map per prescan table.
pub(crate) type ScanCache =
    [std::collections::HashMap<Box<[u8]>, Box<[Token]>, token::FastState>; 3];

/// What the caller knows of the environment sendmail would take from the machine.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// The host's fully qualified name (sendmail asks the system; cfmap takes `-d j=…`
    /// or the config's `Dj`). `None`: the config's `$j`, else `localhost`.
    pub hostname: Option<Vec<u8>>,
    /// `-d NAME=VALUE`: macros defined after the configuration is read.
    pub defines: Vec<(MacroName, Vec<u8>)>,
    /// Members read from F-line files (class id, word), in file order.
    pub file_class_words: Vec<(u8, Vec<u8>)>,
    /// The login name for `$_` (`user@localhost`).
    pub user: Vec<u8>,
    /// `$b`: the date as sendmail formats it.
    pub date: Vec<u8>,
    /// The host name the IR was compiled with (it seeds `$=w`, `$=k`, `$=m` with it;
    /// the session replaces those seeds with its own).
    pub seed_hostname: Vec<u8>,
    /// The HelpFile's contents (`?`), if the configuration names one that can be read.
    pub help: Option<Vec<u8>>,
    /// Search every rule, run every call and ask the maps every time, remembering
    /// nothing by shape or tokens (see [`scanmemo`], [`lookupmemo`]): what the memos
    /// give is checked against this.
    pub no_memos: bool,
}

/// One `-bt` session over a compiled configuration.
pub struct Session<'a> {
    pub(crate) ir: &'a Ir,
    pub(crate) macros: MacroTable,
    pub(crate) classes: ClassTable,
    pub(crate) maps: Box<dyn Maps + 'a>,
    pub(crate) out: Vec<u8>,
    pub(crate) blank_sub: u8,
    /// Ruleset names by number (sendmail's RuleSetNames).
    names: Vec<std::rc::Rc<[u8]>>,
    /// The start of each ruleset's trace lines, by number: input, returns.
    trace_heads: Vec<[TraceHead; 2]>,
    /// `/tryflags`: header (else envelope) and sender (else recipient) addresses.
    pub(crate) try_header: bool,
    pub(crate) try_sender: bool,
    /// The workspace and status the last ruleset line ended with (for `cfmap check`).
    pub(crate) last: Option<(Workspace, i32)>,
    pub(crate) help: Option<Vec<u8>>,
    /// Every token the session has seen.
    pub(crate) toks: TokenTable,
    /// Each ruleset's rules compiled against `toks` when the session starts, by number
    /// (empty for a number the configuration does not define).
    compiled: Vec<std::rc::Rc<Code>>,
    /// Emptied workspaces and binding lists, kept for their buffers.
    pool: Vec<Workspace>,
    pub(crate) bindings_pool: Vec<Vec<matcher::Binding>>,
    /// Values already tokenized into lasting tokens, by table and bytes.
    pub(crate) scan_cache: ScanCache,
    /// Which rule matches next, by workspace shape (see [`scanmemo`]).
    pub(crate) scan_memo: scanmemo::ShapeMemo<scanmemo::Search>,
    /// Whole ruleset calls recorded by the shape of their input (see [`tape`]).
    pub(crate) call_memo: scanmemo::ShapeMemo<tape::Tapes>,
    /// The call being recorded, while one is.
    pub(crate) rec: Option<tape::Recorder>,
    /// What the maps found for a replayed tape's lookups (kept for its buffer).
    pub(crate) tape_found: Vec<Option<std::rc::Rc<[u8]>>>,
    /// File map answers by key and argument tokens (see [`lookupmemo`]); `None` with
    /// [`SessionOptions::no_memos`].
    pub(crate) lookup_memo: Option<lookupmemo::LookupMemo>,
    /// Per ruleset: calls a tape answered or recorded, and calls that could not be
    /// recorded.
    pub(crate) call_score: Vec<(u32, u32)>,
    /// Emptied lists of recorded tokens (see [`tape`]), kept for their buffers.
    pub(crate) places_pool: Vec<Vec<u32>>,
    /// The places of a lookup's replacement tokens (kept for its buffer).
    pub(crate) places_next: Vec<u32>,
    /// Scratch room for trace lines' tokens (see `trace_line`).
    trace_room: Vec<u8>,
    /// The printed text of workspaces made only of lasting, statically printed tokens.
    trace_texts: std::collections::HashMap<Box<[Token]>, Box<[u8]>, token::FastState>,
    /// The workspace the last trace line printed, and where its text (after the label)
    /// is in the output (forgotten when the output is taken or cleared).
    last_trace: (Vec<Token>, std::ops::Range<usize>),
    /// Lookup defaults (lasting tokens) and the tokens they give once joined and scanned.
    pub(crate) default_cache:
        std::collections::HashMap<Box<[Token]>, Box<[Token]>, token::FastState>,
    /// A lookup's key and arguments, and its default, joined (kept for their buffers).
    pub(crate) lookup_av: Vec<Vec<u8>>,
    pub(crate) lookup_default: Vec<u8>,
    /// The matcher's buffer for `$=X` phrases.
    pub(crate) phrase: std::cell::RefCell<Vec<u8>>,
    /// The configuration's ruleset names and numbers, for lookups by name.
    ruleset_numbers: std::collections::HashMap<Vec<u8>, u16, token::FastState>,
    /// Map names (lasting tokens) already resolved to a map.
    map_cache: std::collections::HashMap<Token, Option<usize>, token::FastState>,
    /// The ruleset name last resolved by [`Session::find_ruleset`].
    last_name: Option<(Box<[u8]>, u16)>,
    /// `$>` targets already resolved to a ruleset number.
    ruleset_cache: std::collections::HashMap<Token, u16, token::FastState>,
}

/// What maps see of the session while they answer (messages and macros).
struct Env<'s> {
    macros: &'s mut MacroTable,
    out: &'s mut Vec<u8>,
    blank_sub: u8,
}

fn name_of(name: &[u8]) -> MacroName {
    if name.len() == 1 {
        MacroName::Short(name[0])
    } else {
        MacroName::Long(name.to_vec())
    }
}

impl MapEnv for Env<'_> {
    fn message(&mut self, text: &[u8]) {
        push_message(self.out, text);
    }

    fn macro_value(&self, name: &[u8]) -> Option<Vec<u8>> {
        let id = self.macros.lookup_id(&name_of(name))?;
        self.macros.value(id).map(<[u8]>::to_vec)
    }

    fn set_macro(&mut self, name: &[u8], value: Option<&[u8]>) {
        let Ok(id) = self.macros.id(&name_of(name)) else {
            return;
        };
        match value {
            Some(v) => self.macros.define(id, v.to_vec(), None),
            None => self.macros.undefine(id),
        }
    }

    fn blank_sub(&self) -> u8 {
        self.blank_sub
    }
}

/// A message line as sendmail prints it in `-bt`: high bits cleared, then a newline.
fn push_message(out: &mut Vec<u8>, text: &[u8]) {
    out.extend(text.iter().map(|b| b & 0x7F));
    out.push(b'\n');
}

/// The start of a trace line: the ruleset's name as `%-16.16s`, then the label.
type TraceHead = [u8; 25];
/// How many workspace texts [`Session::trace_line`] keeps.
const TRACE_TEXTS_MAX: usize = 4096;
const INPUT: &[u8; 9] = b"   input:";
const RETURNS: &[u8; 9] = b" returns:";

fn trace_head(name: &[u8], label: &[u8; 9]) -> TraceHead {
    let mut head = [b' '; 25];
    let n = name.len().min(16);
    head[..n].copy_from_slice(&name[..n]);
    head[16..].copy_from_slice(label);
    head
}

/// Token `t` as sendmail's `xputs` prints it; a short printable one (or a `$x`
/// metacharacter) is copied as one fixed-size block from the token arena.
// Inlined: it is the inner loop of every trace line.
#[inline(always)]
fn put_token(out: &mut Vec<u8>, toks: &TokenTable, t: Token, macros: &MacroTable) {
    match toks.short_printed(t) {
        Some(b) => TokenTable::extend_block(out, b),
        None => xputs_into(out, toks.text(t), macros),
    }
}

/// Bytes as sendmail's `xputs` prints them.
fn xputs_into(out: &mut Vec<u8>, bytes: &[u8], macros: &MacroTable) {
    if bytes.iter().all(|&b| (0x20..0x7F).contains(&b)) {
        out.extend_from_slice(bytes);
        return;
    }
    let s = crate::ir::emit::xputs(bytes, macros);
    out.extend_from_slice(s.as_bytes());
}

/// `s` shortened as sendmail's `shortenstring(s, 203)` does for messages.
pub(crate) fn shorten(s: &[u8]) -> Vec<u8> {
    const MAXSHORTSTR: usize = 203;
    if s.len() < MAXSHORTSTR {
        return s.to_vec();
    }
    let half = (MAXSHORTSTR - 3) / 2;
    let mut v = s[..half].to_vec();
    v.extend_from_slice(b"...");
    v.extend_from_slice(&s[s.len() - half..]);
    v
}

impl<'a> Session<'a> {
    /// A session as sendmail starts test mode after reading the configuration.
    pub fn new(ir: &'a Ir, maps: Box<dyn Maps + 'a>, opts: &SessionOptions) -> Session<'a> {
        let mut macros = ir.macros.clone();
        let mut classes = ClassTable::new();
        let host: Vec<u8> = opts
            .hostname
            .clone()
            .or_else(|| ir.macros.value(b'j').map(<[u8]>::to_vec))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| b"localhost".to_vec());
        // Before the .cf: the host's names (main.c); the .cf's own D lines came later and
        // win, so only fill what the configuration left alone.
        let short: Vec<u8> = host.split(|&b| b == b'.').next().unwrap_or(&[]).to_vec();
        let domain: Option<Vec<u8>> = host
            .iter()
            .position(|&b| b == b'.')
            .map(|p| host[p + 1..].to_vec())
            .filter(|d| !d.is_empty());
        let defined_by_cf = |m: &MacroTable, id: u8| m.defined_at[id as usize].is_some();
        if !defined_by_cf(&macros, b'w') {
            macros.define(b'w', short, None);
        }
        if !defined_by_cf(&macros, b'j') {
            macros.define(b'j', host.clone(), None);
        }
        if !defined_by_cf(&macros, b'm') {
            match &domain {
                Some(d) => macros.define(b'm', d.clone(), None),
                None => macros.undefine(b'm'),
            }
        }
        if !defined_by_cf(&macros, b'k') {
            macros.define(b'k', host.clone(), None);
        }
        classes.add(b'w', &host);
        classes.add(b'k', &host);
        let seed = opts.seed_hostname.to_ascii_lowercase();
        let seed_domain: Vec<u8> = seed
            .iter()
            .position(|&b| b == b'.')
            .map(|p| seed[p + 1..].to_vec())
            .unwrap_or_default();
        for (id, members) in ir.classes.members.iter().enumerate() {
            let id = id as u8;
            for (lower, word) in members {
                let seeded = match id {
                    b'w' | b'k' => {
                        *lower == seed
                            || lower.as_slice() == seed.split(|&b| b == b'.').next().unwrap_or(&[])
                    }
                    b'm' => *lower == seed_domain,
                    _ => false,
                };
                if !seeded {
                    classes.add(id, word);
                }
            }
        }
        for (id, w) in &opts.file_class_words {
            classes.add(*id, w);
        }
        for (name, value) in &opts.defines {
            if let Ok(id) = macros.id(name) {
                macros.define(id, value.clone(), None);
            }
        }
        if !opts.date.is_empty() {
            macros.define(b'b', opts.date.clone(), None);
        }
        let user = if opts.user.is_empty() {
            b"root".to_vec()
        } else {
            opts.user.clone()
        };
        macros.define(b'_', [&user[..], b"@localhost"].concat(), None);
        if let Ok(id) = macros.id(&MacroName::Long(b"opMode".to_vec())) {
            macros.define(id, b"t".to_vec(), None);
        }
        // After the .cf: $=m from $m, $j into $=w, then sendmail's MIME classes.
        if let Some(m) = macros.value(b'm').map(<[u8]>::to_vec)
            && !m.is_empty()
        {
            classes.add(b'm', &m);
        }
        let my_host = macros.value(b'j').map(<[u8]>::to_vec).unwrap_or_default();
        let mut out = Vec::new();
        let my_host = if my_host.is_empty() {
            b"localhost".to_vec()
        } else {
            my_host
        };
        if ir.level < 10 {
            push_message(
                &mut out,
                format!(
                    "Warning: .cf file is out of date: sendmail 8.17.1.9 supports version 10, .cf file is version {}",
                    ir.level
                )
                .as_bytes(),
            );
        }
        if !my_host.contains(&b'.') {
            push_message(
                &mut out,
                format!(
                    "WARNING: local host name ({}) is not qualified; see cf/README: WHO AM I?",
                    String::from_utf8_lossy(&my_host)
                )
                .as_bytes(),
            );
        }
        classes.add(b'w', &my_host);
        classes.add(b'n', b"multipart/signed");
        classes.add(b's', b"rfc822");
        for w in ["7bit", "8bit", "binary"] {
            classes.add(b'e', w.as_bytes());
        }
        let long = |m: &mut MacroTable, n: &str| m.id(&MacroName::Long(n.as_bytes().to_vec()));
        let sets: [(&str, &[&str]); 4] = [
            (
                "checkMIMEFieldHeaders",
                &["content-disposition", "content-type"],
            ),
            ("checkMIMETextHeaders", &["content-description"]),
            (
                "checkMIMEHeaders",
                &[
                    "content-disposition",
                    "content-id",
                    "content-transfer-encoding",
                    "content-type",
                    "mime-version",
                ],
            ),
            (
                "persistentMacros",
                &["r", "s", "_", "{if_addr}", "{daemon_flags}"],
            ),
        ];
        for (class, words) in sets {
            if let Ok(id) = long(&mut macros, class) {
                for w in words {
                    classes.add(id, w.as_bytes());
                }
            }
        }
        if let Ok(id) = long(&mut macros, "addr_type") {
            macros.define(id, b"e r".to_vec(), None);
        }
        let mut names: Vec<std::rc::Rc<[u8]>> = (0..crate::ir::MAXRWSETS)
            .map(|n| std::rc::Rc::from(n.to_string().into_bytes()))
            .collect();
        for (name, &n) in &ir.ruleset_names {
            if let Some(slot) = names.get_mut(n as usize) {
                *slot = std::rc::Rc::from(name.as_slice());
            }
        }
        for (n, rs) in &ir.rulesets {
            if let (Some(name), Some(slot)) = (&rs.name, names.get_mut(*n as usize)) {
                *slot = std::rc::Rc::from(name.as_slice());
            }
        }
        let trace_heads = names
            .iter()
            .map(|n| [trace_head(n, INPUT), trace_head(n, RETURNS)])
            .collect();
        let mut session = Session {
            ir,
            macros,
            classes,
            maps,
            out,
            blank_sub: ir.blank_sub,
            names,
            trace_heads,
            try_header: false,
            try_sender: false,
            last: None,
            help: opts.help.clone(),
            toks: TokenTable::new(),
            compiled: Vec::new(),
            pool: Vec::new(),
            bindings_pool: Vec::new(),
            ruleset_cache: std::collections::HashMap::default(),
            map_cache: std::collections::HashMap::default(),
            ruleset_numbers: ir
                .ruleset_names
                .iter()
                .map(|(k, &v)| (k.clone(), v))
                .collect(),
            default_cache: Default::default(),
            lookup_av: Vec::new(),
            lookup_default: Vec::new(),
            last_name: None,
            last_trace: (Vec::new(), 0..0),
            trace_room: Vec::new(),
            trace_texts: Default::default(),
            phrase: std::cell::RefCell::new(Vec::with_capacity(256)),
            scan_cache: ScanCache::default(),
            scan_memo: scanmemo::ShapeMemo::default(),
            call_memo: scanmemo::ShapeMemo::default(),
            rec: None,
            tape_found: Vec::new(),
            call_score: Vec::new(),
            lookup_memo: (!opts.no_memos).then(lookupmemo::LookupMemo::default),
            places_pool: Vec::new(),
            places_next: Vec::new(),
        };
        // Every ruleset's tokens are made now, to last; test lines' tokens come later
        // and go in bulk (TokenTable::release_beyond).
        let top = ir
            .rulesets
            .keys()
            .map(|&rs| rs as usize + 1)
            .max()
            .unwrap_or(0);
        session.compiled = vec![std::rc::Rc::default(); top];
        let mut sets: Vec<(u16, Vec<Compiled>)> = Vec::new();
        for (&rs, set) in &ir.rulesets {
            let toks = &mut session.toks;
            sets.push((
                rs,
                set.rules.iter().map(|r| Compiled::new(r, toks)).collect(),
            ));
        }
        let slots = class_slots(sets.iter().flat_map(|(_, rules)| rules));
        let mut codes: Vec<(u16, Code)> = sets
            .into_iter()
            .map(|(rs, rules)| (rs, Code::new(rules, &slots)))
            .collect();
        session.set_reach(&mut codes);
        for (rs, mut code) in codes {
            if opts.no_memos {
                code.looks = None;
                code.reach = None;
                code.scan_memo = false;
            }
            session.compiled[rs as usize] = std::rc::Rc::new(code);
        }
        // Metacharacters (and other 8-bit one-byte tokens) keep their place in shapes:
        // `$#` first stops a ruleset, `$>` and `$(` copied by `$n` act.
        for b in 0x80..=0xFF {
            session.toks.mark_literal(Token::byte(b));
        }
        session.toks.set_mark();
        session
    }

    /// Each ruleset's [`Code::reach`]: its own looks and those of the rulesets its
    /// right-hand sides call by name (`$>name`), and theirs, on to the end.
    fn set_reach(&self, codes: &mut [(u16, Code)]) {
        let at: std::collections::HashMap<u16, usize> = codes
            .iter()
            .enumerate()
            .map(|(i, (rs, _))| (*rs, i))
            .collect();
        let calls: Vec<Vec<usize>> = codes
            .iter()
            .map(|(_, code)| {
                let mut to = Vec::new();
                for r in code.rules.iter() {
                    for w in r.template.windows(2) {
                        if let [rewrite::Part::Token(c), rewrite::Part::Token(name)] = *w
                            && c.is(crate::meta::CALLSUBR)
                            && let Some(&i) = self.quiet_ruleset(name).and_then(|rs| at.get(&rs))
                            && !to.contains(&i)
                        {
                            to.push(i);
                        }
                    }
                }
                to
            })
            .collect();
        for i in 0..codes.len() {
            let Some(own) = &codes[i].1.looks else {
                continue;
            };
            let mut reach = own.clone();
            let mut seen = vec![false; codes.len()];
            let mut todo = vec![i];
            seen[i] = true;
            while let Some(j) = todo.pop() {
                if let Some(l) = &codes[j].1.looks {
                    reach.add(l);
                }
                for &k in &calls[j] {
                    if !seen[k] {
                        seen[k] = true;
                        todo.push(k);
                    }
                }
            }
            codes[i].1.reach = Some(reach);
        }
    }

    /// The ruleset a `$>` target names, found without a word printed.
    fn quiet_ruleset(&self, t: Token) -> Option<u16> {
        let text = self.toks.text(t);
        if !text.is_empty() && text.iter().all(u8::is_ascii_digit) {
            return std::str::from_utf8(text)
                .ok()?
                .parse()
                .ok()
                .filter(|&n| n < 100);
        }
        self.ruleset_numbers.get(text).copied()
    }

    /// What the rewrite loop keeps of ruleset `rs`'s rules (none for an undefined one).
    pub(crate) fn compiled(&self, rs: u16) -> std::rc::Rc<Code> {
        self.compiled.get(rs as usize).cloned().unwrap_or_default()
    }

    /// An empty workspace (with a buffer from the pool when there is one).
    pub(crate) fn take_ws(&mut self) -> Workspace {
        self.pool.pop().unwrap_or_default()
    }

    /// Give a workspace's buffer back to the pool.
    pub(crate) fn give_ws(&mut self, mut ws: Workspace) {
        ws.clear();
        self.pool.push(ws);
    }

    /// The ruleset a `$>` target token names ([`Session::find_ruleset`], remembered).
    pub(crate) fn ruleset_of(&mut self, target: Token) -> Option<u16> {
        if let Some(&rs) = self.ruleset_cache.get(&target) {
            return Some(rs);
        }
        let text = self.toks.text(target).to_vec();
        let rs = self.find_ruleset(&text)?;
        if self.toks.is_lasting(target) {
            self.ruleset_cache.insert(target, rs);
        }
        Some(rs)
    }

    /// Take what the session has printed so far.
    /// What the session has printed since the last [`Session::clear_output`]; a caller
    /// that writes it out and clears it keeps the buffer's capacity from line to line.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Add bytes to the output as they are (the caller's prompt).
    pub fn print(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub fn clear_output(&mut self) {
        self.forget_trace();
        self.out.clear();
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        self.forget_trace();
        std::mem::take(&mut self.out)
    }

    pub(crate) fn message(&mut self, text: &str) {
        push_message(&mut self.out, text.as_bytes());
    }

    pub(crate) fn message_bytes(&mut self, text: &[u8]) {
        push_message(&mut self.out, text);
    }

    /// The ruleset's name, or its number (sendmail's `RuleSetNames`).
    pub(crate) fn ruleset_label(&self, rs: u16) -> std::rc::Rc<[u8]> {
        match self.names.get(rs as usize) {
            Some(n) => n.clone(),
            None => std::rc::Rc::from(rs.to_string().into_bytes()),
        }
    }

    /// Ruleset `rs`'s name `%-16.16s` + the label (input or returns) + each token after
    /// a blank.
    pub(crate) fn trace_line(&mut self, rs: u16, returns: bool, ws: &[Token]) {
        let head = match self.trace_heads.get(usize::from(rs)) {
            Some(h) => h[usize::from(returns)],
            None => trace_head(
                &self.ruleset_label(rs),
                [INPUT, RETURNS][usize::from(returns)],
            ),
        };
        let out = &mut self.out;
        out.reserve(32 + ws.len() * 12);
        out.extend_from_slice(&head);
        // A call's input is often the workspace the line before printed (a returns
        // line, or the caller's input): its text is copied from then.
        let (last_ws, last_text) = &mut self.last_trace;
        if last_ws.as_slice() == ws && last_text.end <= out.len() {
            out.extend_from_within(last_text.clone());
            out.push(b'\n');
            return;
        }
        // Workspaces of the configuration's own tokens (results such as `$# error …`)
        // come back line after line: their text is kept.
        let toks = &self.toks;
        let lasting = ws
            .iter()
            .all(|&t| toks.is_lasting(t) && toks.prints_static(t));
        if lasting && let Some(text) = self.trace_texts.get(ws) {
            out.extend_from_slice(text);
            out.push(b'\n');
            return;
        }
        let from = out.len();
        let toks = &self.toks;
        let room = &mut self.trace_room;
        let mut rest = ws;
        while !rest.is_empty() {
            // Short tokens go as fixed-size blocks into a scratch line (kept
            // between calls, so never zeroed again); the first other token goes the
            // long way.
            let need = rest.len() * (PAD + 1);
            if room.len() < need {
                room.resize(need, 0);
            }
            let (mut at, mut done) = (0, 0);
            for &t in rest {
                let Some((block, len)) = toks.short_printed(t) else {
                    break;
                };
                room[at] = b' ';
                room[at + 1..at + 1 + PAD].copy_from_slice(block);
                at += 1 + len;
                done += 1;
            }
            out.extend_from_slice(&room[..at]);
            rest = &rest[done..];
            if let Some((&t, tail)) = rest.split_first() {
                out.push(b' ');
                put_token(out, toks, t, &self.macros);
                rest = tail;
            }
        }
        last_ws.clear();
        last_ws.extend_from_slice(ws);
        *last_text = from..out.len();
        if lasting && self.trace_texts.len() < TRACE_TEXTS_MAX {
            self.trace_texts.insert(ws.into(), out[from..].into());
        }
        out.push(b'\n');
    }

    /// Forget the last trace line's workspace (its tokens may go, or print otherwise).
    pub(crate) fn forget_trace(&mut self) {
        self.last_trace.0.clear();
        self.last_trace.1 = 0..0;
    }

    /// A workspace token as sendmail's `xputs` prints it.
    pub(crate) fn xputs_token(&mut self, t: Token) {
        put_token(&mut self.out, &self.toks, t, &self.macros);
    }

    /// A token as sendmail's `xputs` prints it.
    pub(crate) fn xputs(&mut self, bytes: &[u8]) {
        xputs_into(&mut self.out, bytes, &self.macros);
    }

    /// Print prescan's messages for a scan of `input` (`<input>... <problem>`).
    pub(crate) fn report_scan<T>(&mut self, input: &[u8], scan: &ScanOf<T>) {
        if scan.problems.is_empty() {
            return;
        }
        let end = input.iter().position(|&b| b == 0).unwrap_or(input.len());
        let shown = shorten(&input[..end]);
        for (p, _) in &scan.problems {
            let mut line = shown.clone();
            line.extend_from_slice(b"... ");
            line.extend_from_slice(p.message().as_bytes());
            push_message(&mut self.out, &line);
        }
    }

    /// Resolve a ruleset name or number as `strtorwset(…, ST_FIND)` does, printing its
    /// messages for bad numbers and names.
    pub(crate) fn find_ruleset(&mut self, s: &[u8]) -> Option<u16> {
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        let p = &s[i..];
        let first = p.first().copied().unwrap_or(0);
        if first >= 0x80 {
            self.invalid_ruleset_name(p);
            return None;
        }
        if first.is_ascii_digit() {
            // The number saturates: anything past i32 is sendmail's -1.
            let n = p
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .fold(0i64, |n, &d| {
                    n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
                });
            let n = if n > i64::from(i32::MAX) { -1 } else { n };
            if !(0..100).contains(&n) {
                self.message(&format!("bad ruleset {n} (100 max)"));
                return None;
            }
            return Some(n as u16);
        }
        let len = p
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        if len == 0 || !first.is_ascii_alphabetic() {
            self.invalid_ruleset_name(p);
            return None;
        }
        let name = &p[..len];
        // Test lines name the same ruleset line after line.
        if let Some((last, rs)) = &self.last_name
            && **last == *name
        {
            return Some(*rs);
        }
        let rs = self.ruleset_numbers.get(name).copied()?;
        self.last_name = Some((name.into(), rs));
        Some(rs)
    }

    fn invalid_ruleset_name(&mut self, p: &[u8]) {
        let shown = &p[..p.len().min(20)];
        let mut m = b"invalid ruleset name: \"".to_vec();
        m.extend_from_slice(shown);
        m.push(b'"');
        self.message_bytes(&m);
    }

    /// The space substitute a map joins key atoms with.
    pub(crate) fn map_space_sub(&self, ix: usize) -> u8 {
        let Some(d) = self.map_decl(ix) else {
            return self.blank_sub;
        };
        if let Some(s) = d.flags.space_sub {
            return s;
        }
        if d.class.generic_args() {
            d.space_sub
        } else {
            self.blank_sub
        }
    }

    /// The declaration of map `ix`: the maps' own (it covers the maps sendmail declares
    /// itself), else the IR's.
    pub(crate) fn map_decl(&self, ix: usize) -> Option<&crate::ir::MapDecl> {
        self.maps
            .decl(ix)
            .or_else(|| self.ir.maps.get_index(ix).map(|(_, d)| d))
    }

    /// Classes whose lookups keep quotes in the key (`dequote` sets `-q` itself).
    pub(crate) fn class_keeps_quotes(&self, ix: usize) -> bool {
        self.map_decl(ix)
            .is_some_and(|d| d.class == crate::ir::MapClass::Dequote)
    }

    /// Run a closure with the maps and the environment they may use.
    pub(crate) fn with_maps<R>(
        &mut self,
        f: impl FnOnce(&mut dyn Maps, &mut dyn MapEnv) -> R,
    ) -> R {
        let mut env = Env {
            macros: &mut self.macros,
            out: &mut self.out,
            blank_sub: self.blank_sub,
        };
        f(self.maps.as_mut(), &mut env)
    }
}
