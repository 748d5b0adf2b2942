//! TODO docs for missing_map_file

use super::super::{Context, Diagnostic, RuleInfo};

pub(super) fn check(_ctx: &Context, _rule: &RuleInfo, _out: &mut Vec<Diagnostic>) {}
