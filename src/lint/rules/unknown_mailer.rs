//! A `$#mailer` in address resolution that names no mailer.
//!
//! ## What it does
//! In ruleset 0 and every ruleset it calls (directly or through others), reports a
//! right-hand side `$# name …` whose name is neither declared by an `M` line nor one of
//! sendmail's own (`error`, `discard`, `prog`, `*file*`, `*include*`). Mailer names are
//! compared case-insensitively. `check_*` rulesets are not looked at: there `$#` marks a
//! verdict, not a mailer.
//!
//! ## Why is this bad?
//! sendmail cannot deliver to a mailer it does not have: the address fails with
//! "buildaddr: unknown mailer …".
//!
//! ## Example
//! ```text
//! R$+ < @ $+ >	$#smtpx $@ $2 $: $1 < @ $2 >
//! ```
//!
//! ## Use instead
//! ```text
//! R$+ < @ $+ >	$#esmtp $@ $2 $: $1 < @ $2 >
//! ```

use std::collections::BTreeSet;

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::Node;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    let ir = ctx.ir;
    // Rulesets reachable from ruleset 0.
    let mut seen = BTreeSet::new();
    let mut todo = vec![0u16];
    while let Some(n) = todo.pop() {
        if !seen.insert(n) {
            continue;
        }
        let Some(rs) = ir.rulesets.get(&n) else {
            continue;
        };
        for r in &rs.rules {
            super::walk_nodes(&r.rhs.nodes, &mut |node| {
                if let Node::Call { target, .. } = node
                    && let Some(t) = ir.resolve_ruleset(target)
                {
                    todo.push(t);
                }
            });
        }
    }
    for n in seen {
        let Some(rs) = ir.rulesets.get(&n) else {
            continue;
        };
        for r in &rs.rules {
            let Some(Node::Resolve { mailer, span, .. }) = r.rhs.nodes.first() else {
                continue;
            };
            // Only a single literal token can be checked; `$1` etc. are run-time values.
            let [Node::Token(t)] = mailer.as_slice() else {
                continue;
            };
            if t.bytes.first().is_none_or(|b| *b >= 0x80) || ir.has_mailer(&t.bytes) {
                continue;
            }
            out.push(Diagnostic::new(
                rule,
                t.span.to(*span),
                format!(
                    "mailer {} is not defined (no M line); sendmail fails the address with \"buildaddr: unknown mailer {}\"",
                    crate::bytes::escape(&t.bytes),
                    crate::bytes::escape(&t.bytes)
                ),
            ));
        }
    }
}
