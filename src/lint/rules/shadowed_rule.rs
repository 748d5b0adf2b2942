//! A rule that can never match because an earlier rule takes all its input.
//!
//! ## What it does
//! Reports a rule when an earlier rule of the same ruleset matches every workspace this
//! one would match and then never lets it through: the earlier rule returns (`$@`),
//! resolves (`$#`), or repeats (no prefix) until it no longer matches; and every rule in
//! between ends the ruleset when it matches, so nothing can rewrite the workspace back
//! into something the later rule matches.
//!
//! An exact repetition of an earlier rule's LHS is reported as info (redundant, and
//! sendmail's own m4 output has a few); a general rule placed before a more specific
//! one is a warning.
//!
//! ## Why is this bad?
//! The later rule is dead code: whatever it was meant to do never happens, usually
//! because rules are in the wrong order (the general case before the special one).
//!
//! ## Example
//! ```text
//! R$* < @ $+ >	$@ $1 < @ $2 >
//! R$* < @ localhost >	$@ $1 < @ $j >
//! ```
//!
//! ## Use instead
//! ```text
//! R$* < @ localhost >	$@ $1 < @ $j >
//! R$* < @ $+ >	$@ $1 < @ $2 >
//! ```

use super::super::shape;
use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::{Node, Prefix};

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for rs in ctx.ir.rulesets.values() {
        for (j, later) in rs.rules.iter().enumerate() {
            if later.lhs.ops.is_empty() {
                continue;
            }
            let Some(later_shape) = shape::of_pattern(&later.lhs) else {
                continue;
            };
            // Walk back over rules that end the ruleset when they match; the first rule that
            // can rewrite and go on is the last candidate.
            let mut shadow = None;
            for i in (0..j).rev() {
                let earlier = &rs.rules[i];
                let ends = earlier.rhs.prefix == Prefix::Return
                    || matches!(earlier.rhs.nodes.first(), Some(Node::Resolve { .. }));
                let catches = ends || earlier.rhs.prefix == Prefix::Repeat;
                if catches
                    && !earlier.lhs.ops.is_empty()
                    && shape::covers(&earlier.lhs, &later_shape)
                {
                    shadow = Some((i, earlier));
                    break;
                }
                if !ends {
                    break;
                }
            }
            if let Some((i, earlier)) = shadow {
                let line = ctx.file.locate(earlier.span.start as usize).line;
                let duplicate = earlier.lhs.ops == later.lhs.ops;
                let mut d = Diagnostic::new(
                        rule,
                        later.lhs_span,
                        format!(
                            "this rule never matches: rule {} of ruleset {} (line {line}) takes every input it would",
                            i + 1,
                            rs.label()
                        ),
                    )
                    .label(earlier.lhs_span, "matches first");
                if duplicate {
                    d.severity = crate::lint::Severity::Info;
                }
                out.push(d);
            }
        }
    }
}
