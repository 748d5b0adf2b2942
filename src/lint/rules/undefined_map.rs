//! A `$(map …$)` lookup in a map no `K` line declares.
//!
//! ## What it does
//! Reports lookups whose map name (compared case-insensitively, as sendmail does) has no
//! `K` line. `$[ … $]` uses the `host` map, which sendmail declares itself.
//!
//! ## Why is this bad?
//! When the rule runs, sendmail prints "rewrite: map … not found" and the lookup
//! behaves as "not found": the default after `$:` (or the key) is used, so an access or
//! junk-mail check silently lets everything through.
//!
//! ## Example
//! ```text
//! R$+	$: $(junkmail $1 $: OK $)
//! ```
//! (with no `Kjunkmail` line)
//!
//! ## Use instead
//! ```text
//! Kjunkmail btree /etc/mail/junkmail
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::Node;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for (_, r) in super::all_rules(ctx.ir) {
        super::walk_nodes(&r.rhs.nodes, &mut |n| {
            let Node::Lookup(l) = n else { return };
            let Some(map) = &l.map else { return };
            if map.bytes.first().is_none_or(|b| *b >= 0x80) {
                return;
            }
            let lower = map.bytes.to_ascii_lowercase();
            if ctx.ir.maps.contains_key(&lower) || ctx.ir.unknown_class_maps.contains_key(&lower) {
                return;
            }
            out.push(Diagnostic::new(
                rule,
                map.span,
                format!(
                    "map {} is not declared; sendmail prints \"rewrite: map {} not found\" and uses the default",
                    crate::bytes::escape(&map.bytes),
                    crate::bytes::escape(&map.bytes)
                ),
            ));
        });
    }
}
