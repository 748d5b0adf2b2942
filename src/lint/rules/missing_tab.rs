//! An `R` line whose LHS and RHS are not separated by a TAB.
//!
//! ## What it does
//! Finds rewrite rules with no TAB character. sendmail splits `R` lines on TABs only:
//! blanks are part of the LHS.
//!
//! ## Why is this bad?
//! sendmail rejects the line ("invalid rewrite line … (tab expected)") and the rule is
//! missing from the ruleset. Editors that turn TABs into spaces cause this silently.
//! A rule with an empty RHS (`R$*<TAB>`) is reported too: trailing blanks are stripped
//! before the split, so its TAB disappears.
//!
//! ## Example
//! ```text
//! R$* < @ $+ >    $@ $1
//! ```
//!
//! ## Use instead
//! ```text
//! R$* < @ $+ >	$@ $1
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::cf::ProblemKind as P;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for p in &ctx.syntax.problems {
        if p.kind == P::MissingTab {
            out.push(
                Diagnostic::new(rule, p.span, p.message.clone())
                    .help("separate the LHS, the RHS and the comment with TAB characters"),
            );
        }
    }
}
