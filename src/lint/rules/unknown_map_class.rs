//! A `K` line with a map class sendmail does not have.
//!
//! ## What it does
//! Reports map declarations whose class is not one of sendmail's (`hash`, `btree`,
//! `text`, `regex`, `sequence`, `socket`, …).
//!
//! ## Why is this bad?
//! sendmail prints "class … not available" and creates no map: every lookup in it
//! fails with "map … not found" when the rules run.
//!
//! ## Example
//! ```text
//! Kaccess hashdb /etc/mail/access
//! ```
//!
//! ## Use instead
//! ```text
//! Kaccess hash /etc/mail/access
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::UnknownMapClass]);
}
