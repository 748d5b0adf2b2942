//! A rule without `$:` or `$@` whose result always matches its own LHS again.
//!
//! ## What it does
//! Works out the shape of what the RHS produces (its literal tokens and the wildcards
//! it copies) and reports the rule when its LHS matches every result of that shape. Rules
//! whose RHS starts with `$#` are not reported (a `$#` result ends the ruleset).
//!
//! ## Why is this bad?
//! A rule without a prefix is applied again and again while it matches. sendmail gives
//! up after 100 rounds with "Infinite loop in ruleset …, rule …", having rewritten the
//! address 100 times (`R$* $1 x` leaves 100 `x` behind).
//!
//! ## Example
//! ```text
//! R$*	$1
//! R$+ @ $+	$1 @ $2
//! ```
//!
//! ## Use instead
//! ```text
//! R$*	$: $1
//! R$+ @ $+	$@ $1 @ $2
//! ```

use super::super::shape;
use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::{Node, Prefix};

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for (rs, r) in super::all_rules(ctx.ir) {
        if r.rhs.prefix != Prefix::Repeat || r.lhs.ops.is_empty() {
            continue;
        }
        if matches!(r.rhs.nodes.first(), Some(Node::Resolve { .. })) {
            continue;
        }
        let produced = shape::of_template(&r.rhs.nodes, &r.lhs);
        if shape::covers(&r.lhs, &produced) {
            out.push(
                Diagnostic::new(
                    rule,
                    r.rhs_span,
                    format!(
                        "the result of this rule always matches its LHS again; sendmail stops after 100 rounds with \"Infinite loop in ruleset {}\"",
                        rs.label()
                    ),
                )
                .label(r.lhs_span, "matches again")
                .help("start the RHS with $: (rewrite once) or $@ (rewrite and return)"),
            );
        }
    }
}
