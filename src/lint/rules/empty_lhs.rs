//! A rule whose LHS has no tokens.
//!
//! ## What it does
//! Reports `R` lines whose left-hand side is empty after macro expansion and
//! tokenizing, for example because it only held an undefined macro or a comment.
//!
//! ## Why is this bad?
//! sendmail prints "R line: null LHS" and keeps the rule with an empty pattern, which
//! matches only an empty workspace: the rule almost never fires.
//!
//! ## Example
//! ```text
//! R$X	$@ local
//! ```
//! (with `$X` never defined)
//!
//! ## Use instead
//! Define the macro before the rule, or write the pattern out.

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::NullLhs]);
}
