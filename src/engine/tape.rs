//! Whole ruleset calls, recorded once and replayed for inputs of the same shape.
//!
//! A call's run depends on its input only through the input's *shape* (see
//! [`crate::engine::scanmemo`]) and through what the maps answer: which rules match,
//! which tokens each right-hand side copies from where, which rulesets it calls and
//! which keys it looks up all follow from the shape. So a run is recorded as a *tape*:
//! every workspace as places of the input (`INPUT` | position) and token ids, every
//! trace line a called ruleset prints, and every lookup with the answer it got. For a
//! later input of the same shape the tape is played back when each of its lookups gets
//! the same answer again from the lookup memo (asked first, before anything is
//! printed); otherwise the call runs and its tape joins the shape's others.
//!
//! A `$&x` gives the macro's tokens, which stay until a macro changes (and the memo
//! with them). A run is not recorded (*spoiled*) when it prints anything but trace
//! lines (errors, map messages, loop and recursion limits), asks a map the lookup memo
//! cannot answer again, takes a `$>` target or a map name from the input, joins input
//! tokens into a lookup default (the join and rescan depend on more than the shape),
//! or calls a ruleset whose patterns look at classes or macros the caller's shape did
//! not take in.

use std::rc::Rc;

use crate::engine::Session;
use crate::engine::lookupmemo::Kept;
use crate::engine::rewrite::{MAX_MAP_ARGS, Workspace};
use crate::engine::scanmemo::{INPUT, Looks};
use crate::engine::token::Token;

/// Tapes kept for one shape (a new one past this replaces the oldest).
const TAPES_PER_SHAPE: usize = 4;

/// Something a recorded run did that a replay does again or checks.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A trace line printed by a ruleset called inside the run: the ruleset, whether it
    /// is the returns line, the workspace.
    Trace {
        rs: u16,
        returns: bool,
        ws: Box<[u32]>,
    },
    /// A lookup the lookup memo answered or learned: map, key, arguments and value.
    Lookup {
        map: usize,
        key: Box<[u32]>,
        args: Box<[Box<[u32]>]>,
        value: Option<Rc<[u8]>>,
    },
}

/// A recorded run: its events, result and status.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tape {
    events: Box<[Event]>,
    result: Box<[u32]>,
    status: i32,
}

/// The tapes of one shape.
pub(crate) type Tapes = Vec<Rc<Tape>>;

/// A run being recorded.
#[derive(Debug)]
pub(crate) struct Recorder {
    events: Vec<Event>,
    /// Bytes the recorded trace lines printed (the run may print nothing else).
    traced: usize,
    spoiled: bool,
    /// The class slots and macros the shape of the input took in.
    looks: Looks,
}

impl Recorder {
    pub(crate) fn new(looks: &Looks) -> Recorder {
        Recorder {
            events: Vec::new(),
            traced: 0,
            spoiled: false,
            looks: Looks {
                slot_mask: looks.slot_mask,
                macro_set: looks.macro_set,
                ..Looks::default()
            },
        }
    }

    pub(crate) fn spoil(&mut self) {
        self.spoiled = true;
    }

    /// A ruleset whose patterns look at `looks` (`None`: at what shapes cannot take
    /// in) runs inside the recorded one.
    pub(crate) fn enter(&mut self, looks: Option<&Looks>) {
        if looks.is_none_or(|l| !l.within(&self.looks)) {
            self.spoiled = true;
        }
    }

    pub(crate) fn trace(&mut self, rs: u16, returns: bool, ws: &[u32], printed: usize) {
        self.traced += printed;
        self.events.push(Event::Trace {
            rs,
            returns,
            ws: ws.into(),
        });
    }

    pub(crate) fn lookup(
        &mut self,
        map: usize,
        key: &[u32],
        args: impl Iterator<Item = Box<[u32]>>,
        value: Option<&[u8]>,
    ) {
        self.events.push(Event::Lookup {
            map,
            key: key.into(),
            args: args.collect(),
            value: value.map(Rc::from),
        });
    }

    /// The tape of the finished run, unless spoiled or it printed more than its traces.
    pub(crate) fn finish(self, printed: usize, result: &[u32], status: i32) -> Option<Tape> {
        (!self.spoiled && printed == self.traced).then(|| Tape {
            events: self.events.into(),
            result: result.into(),
            status,
        })
    }
}

/// Whether `o` (a recorded token) is a place in the input.
pub(crate) fn from_input(o: u32) -> bool {
    o & INPUT != 0
}

/// The tokens recorded as `places`, for the input `ws`, appended to `out`.
fn tokens_of(places: &[u32], ws: &[Token], out: &mut Vec<Token>) {
    out.extend(places.iter().map(|&o| {
        if from_input(o) {
            ws[(o & !INPUT) as usize]
        } else {
            Token::from_id(o)
        }
    }));
}

impl Tape {
    /// About how many bytes the tape takes.
    pub(crate) fn bytes(&self) -> usize {
        let events: usize = self
            .events
            .iter()
            .map(|e| {
                std::mem::size_of::<Event>()
                    + 16
                    + match e {
                        Event::Trace { ws, .. } => 4 * ws.len(),
                        Event::Lookup {
                            key, args, value, ..
                        } => {
                            4 * key.len()
                                + args.iter().map(|a| 16 + 4 * a.len()).sum::<usize>()
                                + value.as_ref().map_or(0, |v| 16 + v.len())
                        }
                    }
            })
            .sum();
        std::mem::size_of::<Tape>() + 32 + events + 4 * self.result.len()
    }
}

/// Add `tape` to a shape's tapes (once).
pub(crate) fn keep(tapes: &mut Tapes, tape: Tape) {
    if tapes.iter().any(|t| **t == tape) {
        return;
    }
    if tapes.len() >= TAPES_PER_SHAPE {
        tapes.remove(0);
    }
    tapes.push(Rc::new(tape));
}

impl Session<'_> {
    /// Play back a tape of the call memo's last shape whose lookups all get their
    /// answers again: `ws` becomes the result, and the status is returned. `None`: no
    /// tape fits (nothing was printed or changed).
    pub(crate) fn replay_tape(&mut self, ws: &mut Workspace) -> Option<i32> {
        // Out of the memo while their lookups are asked (the memo's key stays).
        let tapes = std::mem::take(self.call_memo.get_mut()?);
        let mut found = std::mem::take(&mut self.tape_found);
        let mut scratch = self.take_ws();
        let mut asked = Asked::default();
        let tape = tapes
            .iter()
            .find(|t| self.answers_agree(t, ws, &mut scratch, &mut asked, &mut found))
            .cloned();
        drop(asked);
        if let Some(kept) = self.call_memo.get_mut() {
            *kept = tapes;
        }
        let status = tape.map(|tape| {
            let mut answers = found.iter();
            for e in &tape.events {
                match e {
                    Event::Trace { rs, returns, ws: w } => {
                        scratch.clear();
                        tokens_of(w, ws, &mut scratch);
                        self.trace_line(*rs, *returns, &scratch);
                    }
                    Event::Lookup { map, .. } => {
                        let f = answers.next().and_then(Option::as_deref);
                        self.maps.replay(*map, f);
                    }
                }
            }
            scratch.clear();
            tokens_of(&tape.result, ws, &mut scratch);
            std::mem::swap(ws, &mut scratch);
            tape.status
        });
        found.clear();
        self.tape_found = found;
        self.give_ws(scratch);
        status
    }
}

impl Session<'_> {
    /// Whether every lookup of `tape`, its key and arguments taken from `ws`, gets the
    /// recorded answer again ([`Session::ask_again`]); what the maps found for them in
    /// `found`.
    fn answers_agree<'t>(
        &mut self,
        tape: &'t Tape,
        ws: &[Token],
        scratch: &mut Vec<Token>,
        asked: &mut Asked<'t>,
        found: &mut Vec<Option<Rc<[u8]>>>,
    ) -> bool {
        found.clear();
        for e in tape.events.iter() {
            let Event::Lookup {
                map,
                key,
                args,
                value,
            } = e
            else {
                continue;
            };
            let kept = match asked.get(e) {
                Some(kept) => kept.clone(),
                None => {
                    let kept = self.ask_again(*map, key, args, ws, scratch);
                    asked.put(e, kept.clone());
                    kept
                }
            };
            match kept {
                Some(kept) if kept.value.as_deref() == value.as_deref() => found.push(kept.found),
                _ => return false,
            }
        }
        true
    }

    /// The answer to a recorded lookup (map, key and argument places) for the input
    /// `ws`: the lookup memo's, else the map's when it answers silently (the run the
    /// replay stands for would ask it the same first); `None` when neither can say.
    fn ask_again(
        &mut self,
        map: usize,
        key: &[u32],
        args: &[Box<[u32]>],
        ws: &[Token],
        scratch: &mut Vec<Token>,
    ) -> Option<Kept> {
        scratch.clear();
        tokens_of(key, ws, scratch);
        let mut ends = [0usize; MAX_MAP_ARGS];
        for (a, end) in args.iter().zip(ends.iter_mut()) {
            tokens_of(a, ws, scratch);
            *end = scratch.len();
        }
        let mut parts: [&[Token]; MAX_MAP_ARGS] = [&[]; MAX_MAP_ARGS];
        let mut start = key.len();
        for (p, &end) in parts.iter_mut().zip(&ends[..args.len()]) {
            *p = &scratch[start..end];
            start = end;
        }
        let (_, status, known) =
            self.lookup_tokens(Some(map), &scratch[..key.len()], &parts[..args.len()], true);
        if status != crate::sysexits::OK || !known {
            return None;
        }
        self.lookup_memo.as_ref()?.get().cloned()
    }
}

/// The lookup memo's answers for the lookups of the tapes tried so far: tapes of one
/// shape mostly start with the same lookup.
#[derive(Default)]
struct Asked<'t> {
    n: usize,
    items: [(Option<&'t Event>, Option<Kept>); 4],
}

impl<'t> Asked<'t> {
    fn get(&self, e: &Event) -> Option<&Option<Kept>> {
        self.items[..self.n]
            .iter()
            .find(|(a, _)| a.is_some_and(|a| same_lookup(a, e)))
            .map(|(_, k)| k)
    }

    fn put(&mut self, e: &'t Event, kept: Option<Kept>) {
        if self.n < self.items.len() {
            self.items[self.n] = (Some(e), kept);
            self.n += 1;
        }
    }
}

/// Whether `a` and `b` look up the same key and arguments in the same map.
fn same_lookup(a: &Event, b: &Event) -> bool {
    match (a, b) {
        (
            Event::Lookup {
                map: m1,
                key: k1,
                args: a1,
                ..
            },
            Event::Lookup {
                map: m2,
                key: k2,
                args: a2,
                ..
            },
        ) => m1 == m2 && k1 == k2 && a1 == a2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tape(status: i32) -> Tape {
        let mut r = Recorder::new(&Looks::default());
        r.trace(3, false, &[INPUT, 46], 10);
        r.lookup(1, &[INPUT | 1], std::iter::empty(), Some(b"OK"));
        r.finish(10, &[INPUT | 1, 46], status).unwrap()
    }

    #[test]
    fn a_shape_keeps_a_few_different_tapes() {
        let mut tapes = Tapes::new();
        keep(&mut tapes, tape(0));
        keep(&mut tapes, tape(0));
        assert_eq!(tapes.len(), 1);
        for status in 1..=TAPES_PER_SHAPE as i32 {
            keep(&mut tapes, tape(status));
        }
        assert_eq!(tapes.len(), TAPES_PER_SHAPE);
        // The oldest went first.
        assert_eq!(tapes[0].status, 1);
    }

    #[test]
    fn a_run_that_printed_more_or_looked_further_is_not_kept() {
        let mut r = Recorder::new(&Looks::default());
        r.trace(3, false, &[INPUT], 10);
        assert!(r.finish(11, &[INPUT], 0).is_none());
        let mut r = Recorder::new(&Looks::default());
        r.enter(Some(&Looks::default()));
        assert!(!r.spoiled);
        r.enter(Some(&Looks {
            slot_mask: 4,
            ..Looks::default()
        }));
        assert!(r.finish(0, &[], 0).is_none());
        let mut r = Recorder::new(&Looks::default());
        r.enter(None);
        assert!(r.finish(0, &[], 0).is_none());
    }

    #[test]
    fn recorded_places_give_the_inputs_tokens() {
        let ws = [Token::from_id(300), Token::from_id(301)];
        let mut out = Vec::new();
        tokens_of(&[INPUT | 1, 46, INPUT], &ws, &mut out);
        assert_eq!(out, [ws[1], Token::from_id(46), ws[0]]);
    }
}
