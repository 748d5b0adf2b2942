//! Lines sendmail rejects or misreads while it loads the configuration.
//!
//! ## What it does
//! Reports every message sendmail's `readcf` would print for the file that no more
//! specific rule covers: unknown line types, bad `S` lines, bad macro names, unknown
//! options, malformed `K` and `M` lines, an `R` line before any `S` line, an empty RHS,
//! more than nine wildcards, tokens too long for sendmail's buffers.
//!
//! ## Why is this bad?
//! sendmail ignores the offending line (or part of it) and goes on, so the configuration
//! that runs is not the one that was written.
//!
//! ## Example
//! ```text
//! Sfoo-bar
//! ```
//!
//! ## Use instead
//! ```text
//! Sfoo_bar
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::cf::ProblemKind as P;
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_syntax(ctx, rule, out, &[P::Syntax, P::NulByte, P::Unsupported]);
    super::from_ir(
        ctx,
        rule,
        out,
        &[
            K::NoRuleset,
            K::BadRuleset,
            K::NullRhs,
            K::TooManyWildcards,
            K::MapArgs,
            K::Tokenize,
            K::Other,
        ],
    );
}
