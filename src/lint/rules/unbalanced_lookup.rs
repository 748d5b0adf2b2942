//! A map lookup `$( … $)` or host lookup `$[ … $]` that is not properly closed.
//!
//! ## What it does
//! Reports lookups that are never closed, lookups opened inside another lookup, and
//! closing tokens with no lookup open (including a `$]` closing a `$(`).
//!
//! ## Why is this bad?
//! sendmail rejects an unclosed or nested lookup when it reads the file ("missing map
//! closing token", "cannot nest map lookups") and, at run time, takes everything up to
//! the end of the RHS as the key. A stray `$)` or `$]` is kept as a plain token and
//! ends up in the rewritten address.
//!
//! ## Example
//! ```text
//! R$+	$: $(access $1 $: OK
//! ```
//!
//! ## Use instead
//! ```text
//! R$+	$: $(access $1 $: OK $)
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(
        ctx,
        rule,
        out,
        &[
            K::UnclosedLookup,
            K::NestedLookup,
            K::StrayLookupClose,
            K::TooManyMapArgs,
        ],
    );
}
