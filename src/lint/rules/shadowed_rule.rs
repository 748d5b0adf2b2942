//! TODO docs for shadowed_rule

use super::super::{Context, Diagnostic, RuleInfo};

pub(super) fn check(_ctx: &Context, _rule: &RuleInfo, _out: &mut Vec<Diagnostic>) {}
