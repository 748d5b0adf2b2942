//! A `$>` call to a ruleset that does not exist.
//!
//! ## What it does
//! Reports `$>name` on a right-hand side when no `S` line, mailer `S=`/`R=` field or `H`
//! line ever named that ruleset, and `$>N` with a number of 100 or more.
//!
//! ## Why is this bad?
//! sendmail resolves `$>` targets when the rule runs. An unknown name gives "Unknown
//! ruleset …" and the calling ruleset stops with EX_CONFIG, leaving `$>` in the address;
//! the usual cause is a typo or a case difference (ruleset names are case-sensitive).
//!
//! ## Example
//! ```text
//! R$*	$: $>canonify_local $1
//! ```
//!
//! ## Use instead
//! ```text
//! SCanonify_local
//! …
//! R$*	$: $>Canonify_local $1
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::Node;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for (_, r) in super::all_rules(ctx.ir) {
        super::walk_nodes(&r.rhs.nodes, &mut |n| {
            let Node::Call { target, span, .. } = n else {
                return;
            };
            // A target that is a metasymbol (`$1`, `$&x`) is only known at run time.
            if target.is_empty() || target[0] >= 0x80 {
                return;
            }
            if target[0].is_ascii_digit() {
                if let Some(n) = ctx.ir.resolve_ruleset(target)
                    && n < 100
                {
                    return;
                }
                out.push(Diagnostic::new(
                    rule,
                    *span,
                    format!(
                        "bad ruleset {} (100 max): sendmail cannot call it",
                        crate::bytes::escape(target)
                    ),
                ));
                return;
            }
            if ctx.ir.ruleset_names.contains_key(target.as_slice()) {
                return;
            }
            let mut d = Diagnostic::new(
                rule,
                *span,
                format!(
                    "ruleset {} is not defined; sendmail stops with \"Unknown ruleset {}\"",
                    crate::bytes::escape(target),
                    crate::bytes::escape(target)
                ),
            );
            if let Some(other) = ctx
                .ir
                .ruleset_names
                .keys()
                .find(|k| k.eq_ignore_ascii_case(target))
            {
                d = d.help(format!(
                    "ruleset names are case-sensitive: did you mean {}?",
                    crate::bytes::escape(other)
                ));
            }
            out.push(d);
        });
    }
}
