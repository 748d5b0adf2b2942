//! TODO docs for unused_map

use super::super::{Context, Diagnostic, RuleInfo};

pub(super) fn check(_ctx: &Context, _rule: &RuleInfo, _out: &mut Vec<Diagnostic>) {}
