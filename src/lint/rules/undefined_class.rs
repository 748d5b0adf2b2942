//! TODO docs for undefined_class

use super::super::{Context, Diagnostic, RuleInfo};

pub(super) fn check(_ctx: &Context, _rule: &RuleInfo, _out: &mut Vec<Diagnostic>) {}
