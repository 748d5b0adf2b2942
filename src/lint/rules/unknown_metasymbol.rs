//! A `$` sequence that is no metasymbol, or a metasymbol on the wrong side of a rule.
//!
//! ## What it does
//! Reports `$` followed by a punctuation character that is neither a metasymbol nor a
//! defined macro (`$%`, `$!`, `$ `), and metasymbols used where they mean nothing:
//! `$1`…`$9`, `$:`, `$>`, `$[`, `$]`, `$(`, `$)` on the LHS; `$*`, `$+`, `$-`, `$=`, `$~`
//! on the RHS.
//!
//! ## Why is this bad?
//! sendmail reads `$%` as a reference to an undefined macro and silently drops it; a
//! misplaced metasymbol is matched or copied as a literal token (sendmail prints
//! "Inappropriate use of … on LHS/RHS"). Either way the rule does something other than
//! what it says.
//!
//! ## Example
//! ```text
//! R$* $% $*	$1 $2
//! R$+	$: $*
//! ```
//!
//! ## Use instead
//! ```text
//! R$* % $*	$1 $2
//! R$+	$: $1
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::UnknownMeta, K::MisplacedMeta]);
}
