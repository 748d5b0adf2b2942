//! The rewrite loop (`rewrite` and `callsubr` in parseaddr.c; cf-semantics §3): apply a
//! ruleset's rules to a workspace, build each right-hand side (substitution, then lookups
//! left to right, then `$>` calls right to left), and print the trace lines `-bt` shows.

use crate::engine::cataddr::{MAXKEY, cataddr_tokens};
use crate::engine::matcher::{Binding, MatchCtx, match_lhs};
use crate::engine::scanmemo::{Against, INPUT};
use crate::engine::tape::{self, Recorder, from_input};
use crate::engine::token::{Token, TokenTable};
use crate::engine::{Code, Session};
use crate::ir::Prefix;
use crate::maps::lookup::{Answer, OpenState};
use crate::meta;
use crate::prescan::{MAXATOM, PSBUFSIZE, Table};
use crate::sysexits as ex;

/// A workspace: one token per element.
pub type Workspace = Vec<Token>;

/// Which special tokens (`$[`/`$(` lookups, `$>` calls) a right-hand side may hold once
/// substituted; `false` is a promise, `true` only a maybe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Special {
    pub lookups: bool,
    pub calls: bool,
    /// The template copies workspace tokens (`$n`) or macro values (`$&x`).
    pub copies: bool,
}

impl Special {
    const LOOKUP_BITS: u64 = (1 << Token::byte(meta::HOSTBEGIN).bit_index())
        | (1 << Token::byte(meta::LOOKUPBEGIN).bit_index());
    const CALL_BITS: u64 = 1 << Token::byte(meta::CALLSUBR).bit_index();

    pub(crate) fn of(template: &[Part]) -> Special {
        let mut s = Special::default();
        for p in template {
            match *p {
                Part::Token(t) => {
                    s.lookups |= t.is(meta::HOSTBEGIN) || t.is(meta::LOOKUPBEGIN);
                    s.calls |= t.is(meta::CALLSUBR);
                }
                Part::Binding(_) => s.copies = true,
                // A macro's value may tokenize into anything.
                Part::Deferred(_) => {
                    s.copies = true;
                    s.lookups = true;
                    s.calls = true;
                }
            }
        }
        s
    }

    /// With the tokens `$n` copies from a workspace whose signature is `sig` (its
    /// folded tokens' bits; a one-byte metacharacter token folds to itself).
    pub(crate) fn or_copied(self, sig: u64) -> Special {
        if !self.copies {
            return self;
        }
        Special {
            lookups: self.lookups || sig & Self::LOOKUP_BITS != 0,
            calls: self.calls || sig & Self::CALL_BITS != 0,
            copies: true,
        }
    }
}

/// One piece of a right-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// A token copied as it is.
    Token(Token),
    /// `$1`…`$9`: the byte after the `$` (for the out-of-bounds message).
    Binding(u8),
    /// `$&x`: the macro's value at run time, tokenized.
    Deferred(u8),
}

impl Part {
    pub(crate) fn new(bytes: &[u8], toks: &mut TokenTable) -> Part {
        match bytes {
            [meta::MATCHREPL, d] => Part::Binding(*d),
            [meta::MACRODEXPAND, m] => Part::Deferred(*m),
            _ => Part::Token(toks.intern(bytes)),
        }
    }
}

/// A lookup's value: from the map just now, or kept from an earlier lookup.
pub(crate) enum Value {
    Fresh(Vec<u8>),
    Kept(std::rc::Rc<[u8]>),
}

impl Value {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Value::Fresh(v) => v,
            Value::Kept(v) => v,
        }
    }
}

/// sendmail's limits for the rewrite loop.
pub const MAX_RULE_RECURSION: usize = 50;
pub const MAX_LOOP: usize = 100;
pub const MAX_SUBR: usize = 16;
/// `$@` arguments per lookup that reach the map (`%1`…`%8`).
pub(crate) const MAX_MAP_ARGS: usize = 8;

/// A fatal error inside one rewrite: return this status at once, without a returns line.
struct Abort(i32);

/// The [`crate::engine::token_bit`]s of the metacharacters in `ws` that make a
/// right-hand side look up or call (what [`Special::or_copied`] reads of a signature).
fn meta_sig(ws: &[Token]) -> u64 {
    ws.iter()
        .filter(|t| t.is(meta::HOSTBEGIN) || t.is(meta::LOOKUPBEGIN) || t.is(meta::CALLSUBR))
        .fold(0, |s, &t| s | crate::engine::token_bit(t))
}

/// The first rule from `from` on that matches: the cheap tests, then the matcher; the
/// rules after a failed one that the cheap tests rule out are passed over at once.
#[inline(always)]
fn scan(
    code: &Code,
    from: usize,
    ws: &[Token],
    folded: &[Token],
    sig: u64,
    ctx: &MatchCtx,
    bindings: &mut Vec<Binding>,
) -> Option<usize> {
    let n = code.rules.len();
    let mut idx = from;
    while idx < n {
        let c = &code.rules[idx];
        if !code.filters[idx].rules_out(folded, sig)
            && c.literals_in_order(folded)
            && match_lhs(&c.ops, ws, folded, ctx, bindings)
        {
            return Some(idx);
        }
        idx += 1;
        while idx < n && code.filters[idx].rules_out(folded, sig) {
            idx += 1;
        }
    }
    None
}

impl Session<'_> {
    /// Run ruleset `rs` on `ws` (sendmail's `rewrite`); returns the status.
    pub fn rewrite(&mut self, ws: &mut Workspace, rs: u16, reclevel: usize, maxatom: usize) -> i32 {
        self.rewrite_in(ws, None, rs, reclevel, maxatom)
    }

    /// [`Session::rewrite`]. `places`: while a call further out is recorded (see
    /// [`crate::engine::tape`]), where `ws`'s tokens come from, and on return where
    /// the result's do.
    fn rewrite_in(
        &mut self,
        ws: &mut Workspace,
        places: Option<&mut Vec<u32>>,
        rs: u16,
        reclevel: usize,
        maxatom: usize,
    ) -> i32 {
        self.trace_rec(rs, false, ws, places.as_deref().map(Vec::as_slice));
        if reclevel > MAX_RULE_RECURSION {
            self.message(&format!(
                "rewrite: excessive recursion (max {MAX_RULE_RECURSION}), ruleset {}",
                String::from_utf8_lossy(&self.ruleset_label(rs))
            ));
            return ex::CONFIG;
        }
        let code = self.compiled(rs);
        let rules = &code.rules;
        let at = usize::from(rs);
        if self.call_score.len() <= at {
            self.call_score.resize(at + 1, (0, 0));
        }
        // Inside a recorded call this one is part of the recording; otherwise a call
        // seen before with an input of this shape may be played back.
        let nested = places.is_some();
        if nested && let Some(rec) = &mut self.rec {
            rec.enter(code.looks.as_ref());
        }
        // Rulesets whose calls mostly cannot be recorded stop trying.
        let (good, bad) = self.call_score[at];
        let worth = bad < 64 || bad < good.saturating_mul(2);
        let shaped = match &code.reach {
            Some(looks) if worth && !nested && self.rec.is_none() => {
                let against = Against {
                    toks: &self.toks,
                    classes: &self.classes,
                    macros: &self.macros,
                };
                let tag = (maxatom | reclevel << 16) as u32;
                self.call_memo.shape(rs, tag, looks, ws, true, &against)
            }
            _ => false,
        };
        if shaped && let Some(status) = self.replay_tape(ws) {
            self.call_score[at].0 = self.call_score[at].0.saturating_add(1);
            self.trace_line(rs, true, ws);
            return status;
        }
        let mut rstat = ex::OK;
        let mut idx = 0usize;
        let mut loopcount = 0usize;
        let mut bindings: Vec<Binding> = self.bindings_pool.pop().unwrap_or_default();
        // The next workspace is built here and swapped in, so its buffer is reused.
        let mut spare = self.take_ws();
        // The workspace case-folded (literals compare with it) and its signature, made
        // when a search needs them (a scan memo answer does not).
        let mut folded = self.take_ws();
        let mut sig = 0;
        let mut fold_ok = false;
        // Where the workspace's tokens come from while a call is recorded (this one:
        // its input's places are their positions), and the next workspace's.
        let recording = shaped;
        let tracking = recording || nested;
        let mut own = self.places_pool.pop().unwrap_or_default();
        let mut next_places = self.places_pool.pop().unwrap_or_default();
        own.clear();
        if recording {
            self.rec = code.reach.as_ref().map(Recorder::new);
            own.extend((0..ws.len() as u32).map(|p| INPUT | p));
        } else if let Some(p) = places.as_deref() {
            own.extend_from_slice(p);
        }
        let out_mark = self.out.len();
        // The first search is of the input the call memo just shaped.
        let mut fresh = shaped;
        let status = 'rules: {
            while idx < rules.len() {
                if ws.first().is_some_and(|t| t.is(meta::CANONNET)) {
                    break;
                }
                loopcount += 1;
                if loopcount > MAX_LOOP {
                    self.message(&format!(
                        "Infinite loop in ruleset {}, rule {}",
                        String::from_utf8_lossy(&self.ruleset_label(rs)),
                        idx + 1
                    ));
                    break;
                }
                // The next rule from here that matches: each rule passed over would
                // count the loop up to one and back.
                let found = if code.scan_memo {
                    // The first search takes the call memo's shape of the same input.
                    let reuse = std::mem::take(&mut fresh);
                    let fold = (&mut folded, &mut sig, &mut fold_ok);
                    self.next_match(&code, rs, idx, ws, fold, &mut bindings, reuse)
                } else {
                    if !fold_ok {
                        sig = crate::engine::fold_workspace(ws, &self.toks, &mut folded);
                        fold_ok = true;
                    }
                    scan(
                        &code,
                        idx,
                        ws,
                        &folded,
                        sig,
                        &self.match_ctx(),
                        &mut bindings,
                    )
                };
                let Some(found) = found else {
                    break;
                };
                if found != idx {
                    loopcount = 1;
                    idx = found;
                }
                let c = &rules[idx];
                let next = match c.prefix {
                    Prefix::Once => {
                        loopcount = 0;
                        idx + 1
                    }
                    Prefix::Return => rules.len(),
                    Prefix::Repeat => idx,
                };
                // Only its metacharacters count here: without the signature, those.
                let copied = if fold_ok { sig } else { meta_sig(ws) };
                let track = tracking.then_some((own.as_slice(), &mut next_places));
                match self.build_rhs(
                    rs,
                    &c.template,
                    c.special.or_copied(copied),
                    ws,
                    &bindings,
                    reclevel,
                    maxatom,
                    &mut spare,
                    track,
                ) {
                    Ok(status) => {
                        if rstat == ex::OK || status == ex::TEMPFAIL {
                            rstat = status;
                        }
                        std::mem::swap(ws, &mut spare);
                        if tracking {
                            std::mem::swap(&mut own, &mut next_places);
                        }
                        fold_ok = false;
                    }
                    Err(Abort(status)) => break 'rules Err(status),
                }
                idx = next;
            }
            Ok(rstat)
        };
        if tracking && status.is_err() {
            self.spoil_recording();
        }
        if recording {
            let rec = self.rec.take().expect("the call being recorded");
            let printed = self.out.len() - out_mark;
            let tape = status.ok().and_then(|st| rec.finish(printed, &own, st));
            let score = &mut self.call_score[at];
            match tape {
                Some(tape) => {
                    score.0 = score.0.saturating_add(1);
                    self.call_memo.add_bytes(tape.bytes());
                    match self.call_memo.get_mut() {
                        Some(tapes) => tape::keep(tapes, tape),
                        None => self.call_memo.put(vec![std::rc::Rc::new(tape)]),
                    }
                }
                None => score.1 = score.1.saturating_add(1),
            }
        }
        self.give_ws(folded);
        self.give_ws(spare);
        bindings.clear();
        self.bindings_pool.push(bindings);
        let status = match status {
            Ok(rstat) => {
                self.trace_rec(rs, true, ws, nested.then_some(own.as_slice()));
                rstat
            }
            Err(status) => status,
        };
        if let Some(p) = places {
            p.clear();
            p.extend_from_slice(&own);
        }
        self.places_pool.push(own);
        self.places_pool.push(next_places);
        status
    }

    /// A trace line; recorded (its tokens' places given) while a call is.
    fn trace_rec(&mut self, rs: u16, returns: bool, ws: &[Token], places: Option<&[u32]>) {
        let before = self.out.len();
        self.trace_line(rs, returns, ws);
        if let (Some(p), Some(rec)) = (places, self.rec.as_mut()) {
            rec.trace(rs, returns, p, self.out.len() - before);
        }
    }

    /// The call being recorded cannot be played back.
    fn spoil_recording(&mut self) {
        if let Some(rec) = &mut self.rec {
            rec.spoil();
        }
    }

    /// What the matcher reads of the session.
    fn match_ctx(&self) -> MatchCtx<'_> {
        MatchCtx {
            classes: &self.classes,
            macros: &self.macros,
            tables: &self.ir.tables,
            toks: &self.toks,
            phrase: &self.phrase,
            blank_sub: self.blank_sub,
        }
    }

    /// The first rule from `from` on whose pattern matches `ws`, its bindings in
    /// `bindings`; from the scan memo when the shape was seen before. `folded` and `sig`
    /// are `ws` folded and its signature when `fold_ok`, made here when a search needs
    /// them. `reuse`: the call memo's last shape is this workspace's.
    #[allow(clippy::too_many_arguments)]
    fn next_match(
        &mut self,
        code: &Code,
        rs: u16,
        from: usize,
        ws: &[Token],
        (folded, sig, fold_ok): (&mut Workspace, &mut u64, &mut bool),
        bindings: &mut Vec<Binding>,
        reuse: bool,
    ) -> Option<usize> {
        let against = Against {
            toks: &self.toks,
            classes: &self.classes,
            macros: &self.macros,
        };
        let memo = match &code.looks {
            None => false,
            Some(_) if reuse => {
                self.scan_memo
                    .shape_from(&self.call_memo, from as u32, &against);
                true
            }
            Some(looks) => self
                .scan_memo
                .shape(rs, from as u32, looks, ws, true, &against),
        };
        if memo && let Some((rule, remembered)) = self.scan_memo.get() {
            bindings.clear();
            bindings.extend_from_slice(remembered);
            return rule.map(|r| r as usize);
        }
        if !*fold_ok {
            *sig = crate::engine::fold_workspace(ws, &self.toks, folded);
            *fold_ok = true;
        }
        let found = scan(code, from, ws, folded, *sig, &self.match_ctx(), bindings);
        if memo {
            let kept: &[Binding] = if found.is_some() { bindings } else { &[] };
            self.scan_memo.add_bytes(std::mem::size_of_val(kept));
            self.scan_memo.put((found.map(|r| r as u32), kept.into()));
        }
        found
    }

    #[allow(clippy::too_many_arguments)]
    fn build_rhs(
        &mut self,
        rs: u16,
        template: &[Part],
        scan: Special,
        ws: &Workspace,
        bindings: &[Binding],
        reclevel: usize,
        maxatom: usize,
        nv: &mut Workspace,
        places: Option<(&[u32], &mut Vec<u32>)>,
    ) -> Result<i32, Abort> {
        nv.clear();
        // While a call is recorded: where `ws`'s tokens come from, and `nv`'s.
        let (ws_places, mut nv_places) = match places {
            Some((w, n)) => {
                n.clear();
                (w, Some(n))
            }
            None => (&[][..], None),
        };
        // 1. substitution
        for &part in template {
            if let Some(np) = nv_places.as_deref_mut() {
                match part {
                    Part::Binding(d) => {
                        if let Some(bd) = bindings.get(d.wrapping_sub(b'1') as usize) {
                            np.extend_from_slice(&ws_places[bd.start..bd.end]);
                        }
                    }
                    Part::Token(t) => np.push(t.id()),
                    // Its tokens, pushed below, are the macro's (the memo goes
                    // when a macro changes).
                    Part::Deferred(_) => {}
                }
            }
            match part {
                Part::Binding(d) => {
                    let n = d.wrapping_sub(b'1') as usize;
                    let Some(bd) = bindings.get(n) else {
                        self.message(&format!(
                            "rewrite: ruleset {}: replacement ${} out of bounds",
                            String::from_utf8_lossy(&self.ruleset_label(rs)),
                            d as char
                        ));
                        return Err(Abort(ex::CONFIG));
                    };
                    // sendmail stops at the token that would reach the limit.
                    if nv.len() + (bd.end - bd.start) > maxatom {
                        return Err(self.too_long());
                    }
                    nv.extend_from_slice(&ws[bd.start..bd.end]);
                }
                Part::Deferred(m) => {
                    if nv.len() >= maxatom {
                        return Err(self.too_long());
                    }
                    let Some(val) = self.macros.value(m).map(<[u8]>::to_vec) else {
                        continue;
                    };
                    if val.is_empty() {
                        continue;
                    }
                    let Some(toks) = self.scan_value(&val, Table::External) else {
                        return Err(Abort(ex::DATAERR));
                    };
                    for t in toks {
                        nv.push(t);
                        if let Some(np) = nv_places.as_deref_mut() {
                            np.push(t.id());
                        }
                        if nv.len() >= maxatom {
                            return Err(self.too_long());
                        }
                    }
                }
                Part::Token(t) => {
                    if nv.len() >= maxatom {
                        return Err(self.too_long());
                    }
                    nv.push(t);
                }
            }
        }
        // 2. lookups, left to right (when the template or the tokens it copied may hold
        // one: `scan` says which kinds of special tokens may be there)
        let mut rstat = ex::OK;
        let mut i = if scan.lookups { 0 } else { nv.len() };
        // Whether a `$>` may be in place: one a lookup put there counts too.
        let mut may_call = scan.calls;
        while i < nv.len() {
            let t = nv[i];
            let (end_tok, named) = if t.is(meta::HOSTBEGIN) {
                (meta::HOSTEND, false)
            } else if t.is(meta::LOOKUPBEGIN) {
                (meta::LOOKUPEND, true)
            } else {
                i += 1;
                continue;
            };
            let begin = i;
            let mut j = i + 1;
            let name_tok = if named {
                match nv.get(j) {
                    Some(&n) => {
                        // A map named by the input is not the shape's.
                        if nv_places.as_deref().is_some_and(|p| from_input(p[j])) {
                            self.spoil_recording();
                        }
                        j += 1;
                        Some(n)
                    }
                    // sendmail aborts here ("rewrite: missing mapname"); keep the tokens.
                    None => {
                        self.message("rewrite: missing mapname");
                        break;
                    }
                }
            } else {
                None
            };
            let map = self.find_map(name_tok);
            // Split key / args / default up to the end token.
            let key_start = j;
            let mut key_end: Option<usize> = None;
            // The first MAX_MAP_ARGS arguments (sendmail drops the others).
            let mut arg_spans = [(0usize, 0usize); MAX_MAP_ARGS];
            let mut nargs = 0usize;
            let mut arg_start: Option<usize> = None;
            let mut default: Option<(usize, usize)> = None;
            let mut default_start: Option<usize> = None;
            let mut end_arg = |s: usize, e: usize| {
                if nargs < MAX_MAP_ARGS {
                    arg_spans[nargs] = (s, e);
                    nargs += 1;
                }
            };
            while j < nv.len() && !nv[j].is(end_tok) {
                let sep_host = nv[j].is(meta::CANONHOST);
                let sep_user = nv[j].is(meta::CANONUSER);
                if !sep_host && !sep_user {
                    j += 1;
                    continue;
                }
                if key_end.is_none() {
                    key_end = Some(j);
                }
                if let Some(s) = default_start.take() {
                    default = Some((s, j));
                }
                if let Some(s) = arg_start.take() {
                    end_arg(s, j);
                }
                if sep_host {
                    arg_start = Some(j + 1);
                } else {
                    default_start = Some(j + 1);
                }
                j += 1;
            }
            let seg_end = j;
            if let Some(s) = default_start.take() {
                default = Some((s, seg_end));
            }
            if let Some(s) = arg_start.take() {
                end_arg(s, seg_end);
            }
            let after = if j < nv.len() { j + 1 } else { j };
            let key_end = key_end.unwrap_or(seg_end);
            let mut arg_toks: [&[Token]; MAX_MAP_ARGS] = [&[]; MAX_MAP_ARGS];
            for (t, &(s, e)) in arg_toks.iter_mut().zip(&arg_spans[..nargs]) {
                *t = &nv[s..e];
            }
            let (value, status, memo_knows) =
                self.lookup_tokens(map, &nv[key_start..key_end], &arg_toks[..nargs], false);
            if status == ex::TEMPFAIL {
                rstat = ex::TEMPFAIL;
            }
            let mut new_toks = self.take_ws();
            let scanned = match (value.as_ref().map(Value::bytes), default) {
                (Some([]), _) => true,
                (Some(v), _) => self.scan_value_into(v, Table::External, &mut new_toks),
                (None, Some((s, e))) => self.scan_default(&nv[s..e], &mut new_toks),
                (None, None) => {
                    new_toks.extend_from_slice(&nv[key_start..key_end]);
                    true
                }
            };
            if !scanned {
                return Err(Abort(ex::DATAERR));
            }
            if let Some(np) = nv_places.as_deref_mut() {
                self.record_lookup(
                    map.filter(|_| memo_knows),
                    np,
                    (key_start, key_end),
                    &arg_spans[..nargs],
                    value.as_ref().map(Value::bytes),
                    default,
                    &new_toks,
                );
                np.splice(begin..after, self.places_next.drain(..));
            }
            may_call = may_call || new_toks.iter().any(|t| t.is(meta::CALLSUBR));
            // Each token put in place counts against the limit, sendmail stopping at
            // the first that reaches it.
            let added = new_toks.len() + (nv.len() - after);
            if added > 0 && begin + added >= maxatom {
                return Err(self.too_long());
            }
            i = begin + new_toks.len();
            nv.splice(begin..after, new_toks.drain(..));
            self.give_ws(new_toks);
        }
        // 3. subroutine calls, right to left
        if !may_call {
            return Ok(rstat);
        }
        let status = self.call_subroutines(nv, reclevel, nv_places);
        if rstat == ex::OK || status == ex::TEMPFAIL {
            rstat = status;
        }
        Ok(rstat)
    }

    /// A lookup in `map` (`None`: there is none) of the key and arguments joined from
    /// `key` and `args`, answered by the lookup memo when it can: the value, the status,
    /// and whether the memo answered or learned it (a replay can then ask it). `ahead`:
    /// a replay asks before it plays anything back, so a kept answer is not replayed
    /// into the map yet, and a map that could not answer silently is not asked
    /// (`false`).
    pub(crate) fn lookup_tokens(
        &mut self,
        map: Option<usize>,
        key: &[Token],
        args: &[&[Token]],
        ahead: bool,
    ) -> (Option<Value>, i32, bool) {
        // A file map unchanged since it answered the same tokens answers as then.
        let generation = match (map, &self.lookup_memo) {
            (Some(ix), Some(_)) => self.maps.stable_generation(ix),
            _ => None,
        };
        if let (Some(ix), Some(g), Some(memo)) = (map, generation, &mut self.lookup_memo) {
            memo.key(ix, g, key, args.iter().copied(), self.toks.releases());
            if let Some(kept) = memo.get().cloned() {
                // Asked ahead, the map is left alone: the replay replays it in turn.
                if !ahead {
                    self.maps.replay(ix, kept.found.as_deref());
                }
                return (kept.value.map(Value::Kept), ex::OK, true);
            }
        }
        let Some(ix) = map else {
            return (None, ex::OK, false);
        };
        // The key is `%0`, the first of the arguments; the buffers are kept.
        let space_sub = self.map_space_sub(ix);
        let mut av = std::mem::take(&mut self.lookup_av);
        av.resize_with(args.len() + 1, Vec::new);
        let parts = std::iter::once((key, space_sub, MAXKEY))
            .chain(args.iter().map(|&a| (a, self.blank_sub, PSBUFSIZE)));
        for ((toks, sub, size), buf) in parts.zip(av.iter_mut()) {
            buf.clear();
            cataddr_tokens(buf, &self.toks, toks, &self.ir.tables, sub, true, size);
        }
        let asked = self.map_lookup(ix, &mut av[..=args.len()], ahead);
        self.lookup_av = av;
        let Some((value, status)) = asked else {
            return (None, ex::OK, false);
        };
        let mut memo_knows = false;
        if generation.is_some()
            && status == ex::OK
            && self.maps.stable_generation(ix) == generation
            && let Some(found) = self.maps.reusable_find(ix)
            && let Some(memo) = &mut self.lookup_memo
        {
            memo.put(value.as_deref(), found);
            memo_knows = true;
        }
        (value.map(Value::Fresh), status, memo_knows)
    }

    /// Record a lookup of the call being recorded, `map` when the lookup memo answered
    /// or learned it: its key's and arguments' places in `nv_places`, and the value;
    /// the places of the tokens that replace it (`new_toks`) go to `places_next`.
    #[allow(clippy::too_many_arguments)]
    fn record_lookup(
        &mut self,
        map: Option<usize>,
        nv_places: &[u32],
        (key_start, key_end): (usize, usize),
        arg_spans: &[(usize, usize)],
        value: Option<&[u8]>,
        default: Option<(usize, usize)>,
        new_toks: &[Token],
    ) {
        let next = &mut self.places_next;
        next.clear();
        let Some(rec) = &mut self.rec else {
            return;
        };
        match map {
            Some(ix) => rec.lookup(
                ix,
                &nv_places[key_start..key_end],
                arg_spans.iter().map(|&(s, e)| nv_places[s..e].into()),
                value,
            ),
            None => rec.spoil(),
        }
        match (value, default) {
            // The key itself, as it was.
            (None, None) => next.extend_from_slice(&nv_places[key_start..key_end]),
            // A default is joined and scanned again: the same only for the same tokens.
            (None, Some((s, e))) if nv_places[s..e].iter().any(|&o| from_input(o)) => {
                rec.spoil();
                next.extend(new_toks.iter().map(|t| t.id()));
            }
            _ => next.extend(new_toks.iter().map(|t| t.id())),
        }
    }

    /// A lookup's default (`$: …`) joined and tokenized into `out`; `false` is "no
    /// result". Defaults of lasting tokens that scan cleanly give the same tokens every
    /// time and are remembered.
    fn scan_default(&mut self, default: &[Token], out: &mut Workspace) -> bool {
        if let Some(toks) = self.default_cache.get(default) {
            out.extend_from_slice(toks);
            return true;
        }
        let from = out.len();
        let mut r = std::mem::take(&mut self.lookup_default);
        r.clear();
        cataddr_tokens(
            &mut r,
            &self.toks,
            default,
            &self.ir.tables,
            self.blank_sub,
            false,
            MAXKEY,
        );
        let ok = r.is_empty() || self.scan_value_into(&r, Table::Internal, out);
        // A clean scan is in the scan cache.
        let clean =
            r.is_empty() || self.scan_cache[Table::Internal as usize].contains_key(r.as_slice());
        if ok
            && clean
            && self.default_cache.len() < SCAN_CACHE_MAX
            && default.iter().all(|&t| self.toks.is_lasting(t))
        {
            self.default_cache
                .insert(default.into(), out[from..].into());
        }
        self.lookup_default = r;
        ok
    }

    /// The map a lookup names (`None`: `$[ $]`, the host map), saying so when there is
    /// none; found once per lasting name token.
    fn find_map(&mut self, name: Option<Token>) -> Option<usize> {
        if let Some(t) = name
            && let Some(&found) = self.map_cache.get(&t)
        {
            return found;
        }
        let text: &[u8] = match name {
            Some(t) => self.toks.text(t),
            None => b"host",
        };
        let found = self.maps.find(text);
        if found.is_none() {
            let m = format!("rewrite: map {} not found", String::from_utf8_lossy(text));
            self.message(&m);
        } else if let Some(t) = name
            && self.toks.is_lasting(t)
        {
            self.map_cache.insert(t, found);
        }
        found
    }

    fn too_long(&mut self) -> Abort {
        self.message("rewrite: expansion too long");
        Abort(ex::DATAERR)
    }

    /// The map lookup wrapper (`map_lookup` in parseaddr.c): value and status. `av` is
    /// the key (`%0`) and the arguments; the key loses its quotes unless the map keeps
    /// them.
    /// `ahead`: a replay asks ahead of the run it stands for; `None` when the map could
    /// not answer silently (see [`crate::maps::lookup::Maps::silent_lookup`]), and it
    /// is not asked.
    fn map_lookup(
        &mut self,
        ix: usize,
        av: &mut [Vec<u8>],
        ahead: bool,
    ) -> Option<(Option<Vec<u8>>, i32)> {
        let decl = self.map_decl(ix);
        let (keep_quotes, no_defer) = match decl {
            Some(d) => (
                d.flags.keep_quotes || self.class_keeps_quotes(ix),
                d.flags.tempfail_is_notfound,
            ),
            None => (false, false),
        };
        let state = self.with_maps(|m, env| m.open(ix, env));
        if state == OpenState::Invalid {
            return (!ahead).then_some((None, ex::OK));
        }
        if !keep_quotes && av[0].iter().any(|&b| b == b'"' || b == b'\\') {
            av[0] = strip_quotes(&av[0]);
        }
        if ahead && (state != OpenState::Open || !self.maps.silent_lookup(ix, &av[0])) {
            return None;
        }
        let answer = match state {
            OpenState::Invalid | OpenState::Bogus => Answer::status(ex::TEMPFAIL),
            OpenState::Open => self.with_maps(|m, env| m.lookup(ix, &av[0], av, env)),
        };
        let mut status = ex::OK;
        if answer.status == ex::TEMPFAIL && !no_defer {
            status = ex::TEMPFAIL;
        }
        if answer.status == ex::TEMPFAIL
            && let Some(t) = self
                .map_decl(ix)
                .and_then(|d| d.flags.tempfail_text.as_deref())
        {
            let mut v = av[0].clone();
            v.extend_from_slice(t);
            return Some((Some(v), status));
        }
        Some((answer.value, status))
    }

    /// `$>` calls in `nv` (sendmail's `callsubr`): the status. `places`: where `nv`'s
    /// tokens come from while a call is recorded.
    fn call_subroutines(
        &mut self,
        nv: &mut Workspace,
        reclevel: usize,
        mut places: Option<&mut Vec<u32>>,
    ) -> i32 {
        // At most MAX_SUBR - 1 calls are made.
        let mut calls = [(0usize, 0u16); MAX_SUBR];
        let mut ncalls = 0usize;
        let mut j = 0usize;
        while j < nv.len() {
            if nv[j].is(meta::CALLSUBR) && j + 1 < nv.len() {
                // A target named by the input is not the shape's.
                if places.as_deref().is_some_and(|p| from_input(p[j + 1])) {
                    self.spoil_recording();
                }
                let text = self.toks.text(nv[j + 1]);
                if text.iter().any(|&b| b == b'"' || b == b'\\') {
                    let stripped = strip_quotes(text);
                    nv[j + 1] = self.toks.intern(&stripped);
                    if let Some(p) = places.as_deref_mut() {
                        p[j + 1] = nv[j + 1].id();
                    }
                }
                let rs = match self.ruleset_of(nv[j + 1]) {
                    Some(rs) => rs,
                    None => {
                        let target = self.toks.text(nv[j + 1]).to_vec();
                        self.message(&format!(
                            "Unknown ruleset {}",
                            String::from_utf8_lossy(&target)
                        ));
                        return ex::CONFIG;
                    }
                };
                if self.compiled(rs).rules.is_empty() {
                    nv.drain(j..j + 2);
                    if let Some(p) = places.as_deref_mut() {
                        p.drain(j..j + 2);
                    }
                    // sendmail's scan moves past the token that slid into place.
                    j += 1;
                    continue;
                }
                if ncalls + 1 >= MAX_SUBR {
                    self.message(&format!("Too many subroutine calls ({MAX_SUBR} max)"));
                    return ex::CONFIG;
                }
                calls[ncalls] = (j, rs);
                ncalls += 1;
            }
            j += 1;
        }
        let mut rstat = ex::OK;
        for &(pos, rs) in calls[..ncalls].iter().rev() {
            nv.drain(pos..pos + 2);
            let mut tail = self.take_ws();
            tail.extend_from_slice(&nv[pos..]);
            nv.truncate(pos);
            let status = match places.as_deref_mut() {
                Some(p) => {
                    p.drain(pos..pos + 2);
                    let mut tail_places = self.places_pool.pop().unwrap_or_default();
                    tail_places.clear();
                    tail_places.extend_from_slice(&p[pos..]);
                    p.truncate(pos);
                    let status = self.rewrite_in(
                        &mut tail,
                        Some(&mut tail_places),
                        rs,
                        reclevel + 1,
                        MAXATOM - pos,
                    );
                    p.extend_from_slice(&tail_places);
                    self.places_pool.push(tail_places);
                    status
                }
                None => self.rewrite_in(&mut tail, None, rs, reclevel + 1, MAXATOM - pos),
            };
            nv.extend_from_slice(&tail);
            self.give_ws(tail);
            if status != ex::OK && status != ex::TEMPFAIL {
                return status;
            }
            if rstat == ex::OK || status == ex::TEMPFAIL {
                rstat = status;
            }
        }
        rstat
    }

    /// Tokenize a macro value, map result or default in reporting mode; `None` is
    /// sendmail's "no result" (messages already printed).
    pub(crate) fn scan_value(&mut self, value: &[u8], table: Table) -> Option<Workspace> {
        let mut toks = Workspace::new();
        self.scan_value_into(value, table, &mut toks)
            .then_some(toks)
    }

    /// [`Session::scan_value`] appending to `out`; `false` is "no result".
    pub(crate) fn scan_value_into(
        &mut self,
        value: &[u8],
        table: Table,
        out: &mut Workspace,
    ) -> bool {
        // Map results and macro values repeat ("OK", "REJECT"): a clean scan into
        // lasting tokens is remembered.
        let slot = table as usize;
        if let Some(toks) = self.scan_cache[slot].get(value) {
            out.extend_from_slice(toks);
            return true;
        }
        let mode = crate::prescan::Mode {
            table,
            ignore_errors: false,
            delimiter: None,
            bufsize: PSBUFSIZE,
        };
        let buf = self.take_ws();
        let toks = &mut self.toks;
        let scan = crate::prescan::prescan_into(value, &self.ir.tables, mode, buf, |b, _, _| {
            toks.intern(b)
        });
        self.report_scan(value, &scan);
        let ok = !scan.failed && !scan.tokens.is_empty();
        if ok {
            if scan.problems.is_empty()
                && self.scan_cache[slot].len() < SCAN_CACHE_MAX
                && scan.tokens.iter().all(|&t| self.toks.is_lasting(t))
            {
                self.scan_cache[slot].insert(value.into(), scan.tokens.as_slice().into());
            }
            out.extend_from_slice(&scan.tokens);
        }
        self.give_ws(scan.tokens);
        ok
    }
}

/// How many scans of values [`Session::scan_value`] remembers.
const SCAN_CACHE_MAX: usize = 4096;

/// Remove double quotes and backslash escapes (sendmail's `stripquotes`).
pub fn strip_quotes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c == b'\\' {
            if i < s.len() {
                out.push(s[i]);
                i += 1;
            }
            continue;
        }
        if c == b'"' {
            continue;
        }
        out.push(c);
    }
    out
}
