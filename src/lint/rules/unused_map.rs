//! A map declared by a `K` line that nothing uses.
//!
//! ## What it does
//! Reports maps that no rule looks up (`$(name …$)`) and that are not members of a
//! `sequence` or `switch` map. Maps without data (`arith`, `macro`, `dequote`, `host`,
//! `arpa`, `syslog`, `null`) are left alone: m4 configurations declare them whether or
//! not a rule needs them.
//!
//! ## Why is this bad?
//! Usually the lookup was renamed or removed and the map is left behind, or the lookup
//! has a typo and goes to another name. sendmail still opens nothing for it, so the
//! mistake is silent.
//!
//! ## Example
//! ```text
//! Kjunk btree /etc/mail/junk
//! R$+	$: $(junkmail $1 $)
//! ```
//!
//! ## Use instead
//! Use the declared name, or remove the `K` line.

use std::collections::HashSet;

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::{MapClass, Node};

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    let ir = ctx.ir;
    let mut used: HashSet<Vec<u8>> = HashSet::new();
    for (_, r) in super::all_rules(ir) {
        super::walk_nodes(&r.rhs.nodes, &mut |n| {
            if let Node::Lookup(l) = n {
                match &l.map {
                    Some(m) => used.insert(m.bytes.to_ascii_lowercase()),
                    None => used.insert(b"host".to_vec()),
                };
            }
        });
    }
    for m in ir.maps.values() {
        if matches!(m.class, MapClass::Sequence | MapClass::Switch) {
            for member in m.file.iter().chain(&m.args) {
                for part in member.split(|&b| b == b',') {
                    used.insert(part.to_ascii_lowercase());
                }
            }
        }
    }
    for (key, m) in &ir.maps {
        let dataless = matches!(
            m.class,
            MapClass::Arith
                | MapClass::Macro
                | MapClass::Dequote
                | MapClass::Host
                | MapClass::Arpa
                | MapClass::Syslog
                | MapClass::Null
        );
        if m.spans.is_empty() || dataless || used.contains(key) {
            continue;
        }
        out.push(Diagnostic::new(
            rule,
            m.name_span,
            format!(
                "map {} is declared but never used",
                crate::bytes::escape(&m.name)
            ),
        ));
    }
}
