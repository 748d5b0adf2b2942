//! An option name written as an abbreviation.
//!
//! ## What it does
//! Reports `O` lines whose name is an unambiguous prefix of a longer option name.
//!
//! ## Why is this bad?
//! sendmail accepts it with "Option … used as abbreviation for …", but a future option
//! with the same prefix makes the line ambiguous and then it is rejected.
//!
//! ## Example
//! ```text
//! O BlankS=.
//! ```
//!
//! ## Use instead
//! ```text
//! O BlankSub=.
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::OptionAbbreviation]);
}
