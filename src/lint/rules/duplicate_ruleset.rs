//! A ruleset selected again by a second `S` line after it already has rules.
//!
//! ## What it does
//! Reports an `S` line that names (or numbers) a ruleset that already holds rules.
//!
//! ## Why is this bad?
//! sendmail appends the new rules to the old ones and prints "WARNING: Ruleset … has
//! multiple definitions". Usually two pieces of configuration (a FEATURE and a local
//! hack) both define the ruleset and the second one's rules come too late to matter.
//!
//! ## Example
//! ```text
//! SLocal_check_mail
//! R$*	$: $1
//! SLocal_check_mail
//! R$* < @ spam.example >	$#error $: 550 go away
//! ```
//!
//! ## Use instead
//! Keep all rules of a ruleset under one `S` line.

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::MultipleDefinitions]);
}
