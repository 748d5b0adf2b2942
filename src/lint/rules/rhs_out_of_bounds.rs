//! A `$n` on the RHS with no matching wildcard on the LHS.
//!
//! ## What it does
//! Counts the wildcards of the LHS (`$*`, `$+`, `$-`, `$=X`, `$~X`) and reports every
//! `$n` on the RHS with `n` of 0 or greater than that count.
//!
//! ## Why is this bad?
//! sendmail warns when it reads the file ("replacement $3 out of bounds") and, when the
//! rule fires, stops the ruleset with "rewrite: ruleset …: replacement $3 out of bounds"
//! and status EX_CONFIG: the address is not rewritten at all.
//!
//! ## Example
//! ```text
//! R$+ @ $+	$: $1 < @ $3 >
//! ```
//!
//! ## Use instead
//! ```text
//! R$+ @ $+	$: $1 < @ $2 >
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::OutOfBounds]);
}
