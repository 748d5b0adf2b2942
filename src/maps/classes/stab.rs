//! The `stab` class: an aliases file read into the symbol table at open (stab_map_open,
//! stab_map_lookup).
//!
//! sendmail parses each left-hand side through rulesets 3 and 0 (readaliases); maps know
//! no rulesets, so this keeps the simplest faithful part: `name: value` lines, a line
//! starting with a blank continues the previous value, `#` lines and blank lines are
//! skipped, names are matched case-insensitively (symbol-table lookups fold case). A later
//! entry for the same name replaces the earlier one. An unreadable file fails the open
//! without a message (the map turns bogus); a missing key leaves the status at 0.

use std::collections::HashMap;

use super::safefile;
use super::{Common, Ctx};
use crate::maps::lookup::Answer;
use crate::sysexits;

#[derive(Default)]
pub(crate) struct StabMap {
    aliases: HashMap<Vec<u8>, Vec<u8>>,
}

impl StabMap {
    pub(crate) fn open(&mut self, ctx: &Ctx, file: &[u8]) -> Result<(), Option<Vec<u8>>> {
        safefile::check_map_file(ctx, file).map_err(|_| None)?;
        let data = std::fs::read(ctx.resolve(file)).map_err(|_| None)?;
        self.aliases = parse_aliases(&data);
        Ok(())
    }

    pub(crate) fn lookup(&self, common: &Common, key: &[u8], args: &[Vec<u8>]) -> Answer {
        match self.aliases.get(&key.to_ascii_lowercase()) {
            Some(v) => Answer::found(common.result(key, v, args)),
            None => Answer::status(sysexits::OK),
        }
    }
}

fn parse_aliases(data: &[u8]) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut out = HashMap::new();
    let mut current: Option<(Vec<u8>, Vec<u8>)> = None;
    for line in data.split(|&b| b == b'\n') {
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            if let Some((_, v)) = &mut current {
                v.push(b' ');
                v.extend_from_slice(line.trim_ascii());
            }
            continue;
        }
        if let Some((k, v)) = current.take() {
            out.insert(k, v);
        }
        if line.first() == Some(&b'#') || line.trim_ascii().is_empty() {
            continue;
        }
        if let Some(p) = line.iter().position(|&b| b == b':') {
            let k = line[..p].trim_ascii().to_ascii_lowercase();
            let v = line[p + 1..].trim_ascii().to_vec();
            current = Some((k, v));
        }
    }
    if let Some((k, v)) = current {
        out.insert(k, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_with_continuations() {
        let a = parse_aliases(b"# c\nPostmaster: root\nlist: a,\n\tb\n\nx:y\n");
        assert_eq!(a[&b"postmaster"[..]], b"root");
        assert_eq!(a[&b"list"[..]], b"a, b");
        assert_eq!(a[&b"x"[..]], b"y");
        assert_eq!(a.len(), 3);
    }
}
