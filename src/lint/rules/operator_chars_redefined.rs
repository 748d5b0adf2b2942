//! An `OperatorChars` option after the first rule or a second time.
//!
//! ## What it does
//! Reports `O OperatorChars=` lines that come after the first `R` line (or after an
//! earlier `OperatorChars`).
//!
//! ## Why is this bad?
//! sendmail fixes its tokenizer at the first rule it reads. A later `OperatorChars` is
//! ignored, with "Warning: OperatorChars is being redefined": rules then tokenize with
//! other operator characters than the author expects.
//!
//! ## Example
//! ```text
//! S0
//! R$*	$@ $1
//! O OperatorChars=.:%@!^/[]+
//! ```
//!
//! ## Use instead
//! Put the option before the first ruleset.

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::OperatorCharsRedefined]);
}
