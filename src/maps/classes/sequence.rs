//! `sequence` and `switch` (seq_map_parse, switch_map_open, seq_map_lookup).
//!
//! A sequence names its members on the K line (any non-alphanumeric bytes separate them;
//! each must be declared earlier); a switch takes them from the service switch file:
//! `Kname switch service` has the members `name.type` for each type listed for
//! `service`. A lookup asks the members in order, each through its own class with its own
//! flags; a member that cannot be opened is skipped, the first value wins. With no value,
//! a member's temporary failure makes the whole lookup one; otherwise the status is the
//! last member's (68 when that was 0).

use super::{Data, MapSet, host};
use crate::ir::MapDecl;
use crate::maps::lookup::{Answer, MapEnv, Maps, OpenState};
use crate::sysexits;

/// Debian's MAXMAPSTACK (upstream 12; the maxseq patch raises it).
const MAXMAPSTACK: usize = 128;

#[derive(Default)]
pub(crate) struct SwitchMap {
    pub(crate) members: Vec<usize>,
}

/// seq_map_parse: member indices, complaining about unknown names.
pub(crate) fn parse_members(set: &MapSet, decl: &MapDecl, msgs: &mut Vec<Vec<u8>>) -> Vec<usize> {
    let raw = super::args::last(&decl.raw_args);
    let name = String::from_utf8_lossy(&decl.name);
    let mut out = Vec::new();
    let mut count = 0;
    let mut i = 0;
    while i < raw.len() {
        while i < raw.len() && raw[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < raw.len() && (raw[i].is_ascii_alphanumeric() || raw[i] == b'_' || raw[i] == b'.')
        {
            i += 1;
        }
        let member = &raw[start..i];
        // The byte that ended the name is consumed, then everything up to an alphanumeric.
        if i < raw.len() {
            i += 1;
        }
        while i < raw.len() && !raw[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if member.is_empty() {
            continue;
        }
        match set.find_declared(member) {
            None => msgs.push(
                format!(
                    "Sequence map {name}: unknown member map {}",
                    String::from_utf8_lossy(member)
                )
                .into_bytes(),
            ),
            Some(_) if count >= MAXMAPSTACK => {
                msgs.push(
                    format!("Sequence map {name}: too many member maps ({MAXMAPSTACK} max)")
                        .into_bytes(),
                );
                count += 1;
            }
            Some(m) => {
                out.push(m);
                count += 1;
            }
        }
    }
    out
}

/// switch_map_open: find the members; no entry for the service fails the open silently.
pub(crate) fn open_switch(
    set: &mut MapSet,
    index: usize,
    env: &mut dyn MapEnv,
) -> Result<(), Option<Vec<u8>>> {
    let service = set.entries[index].file.clone().unwrap_or_default();
    let types = host::switch_types(&mut set.ctx, &service).unwrap_or_default();
    if types.is_empty() || types.len() > MAXMAPSTACK {
        return Err(None);
    }
    let name = set.entries[index].name.clone();
    let mut members = Vec::new();
    for t in types {
        let member = [&name[..], b".", &t[..]].concat();
        match set.find_declared(&member) {
            Some(m) => members.push(m),
            None => env.message(
                format!(
                    "Switch map {}: unknown member map {}",
                    String::from_utf8_lossy(&name),
                    String::from_utf8_lossy(&member)
                )
                .as_bytes(),
            ),
        }
    }
    if let Data::Switch(s) = &mut set.entries[index].data {
        s.members = members;
    }
    Ok(())
}

/// seq_map_lookup.
pub(crate) fn lookup(
    set: &mut MapSet,
    members: &[usize],
    key: &[u8],
    args: &[Vec<u8>],
    env: &mut dyn MapEnv,
) -> Answer {
    let mut status = sysexits::OK;
    let mut tempfail = false;
    for &m in members {
        if set.open(m, env) == OpenState::Invalid {
            continue;
        }
        let a = set.class_lookup(m, key, args, env);
        if a.value.is_some() {
            return a;
        }
        status = a.status;
        if status == sysexits::TEMPFAIL {
            tempfail = true;
        }
    }
    if tempfail {
        Answer::status(sysexits::TEMPFAIL)
    } else if status == sysexits::OK {
        Answer::not_found()
    } else {
        Answer::status(status)
    }
}
