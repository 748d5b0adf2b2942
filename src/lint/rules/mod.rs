//! The lint rules, one per file. [`RULES`] is in documentation order.

use super::{Context, Diagnostic, RuleInfo, Severity};
use crate::cf;
use crate::ir;

mod duplicate_ruleset;
mod empty_lhs;
mod infinite_loop;
mod missing_map_file;
mod missing_tab;
mod operator_chars_redefined;
mod option_abbreviation;
mod rhs_out_of_bounds;
mod shadowed_rule;
mod stale_map;
mod syntax_error;
mod unavailable_map_class;
mod unbalanced_lookup;
mod undefined_class;
mod undefined_macro;
mod undefined_map;
mod undefined_ruleset;
mod unknown_mailer;
mod unknown_map_class;
mod unknown_metasymbol;
mod unused_map;
mod unused_ruleset;

macro_rules! rule {
    ($name:literal, $sev:ident, $module:ident) => {
        rule!($name, $sev, $module, false)
    };
    ($name:literal, $sev:ident, $module:ident, $files:literal) => {
        RuleInfo {
            name: $name,
            severity: Severity::$sev,
            source: include_str!(concat!(stringify!($module), ".rs")),
            needs_files: $files,
            check: $module::check,
        }
    };
}

pub static RULES: &[RuleInfo] = &[
    rule!("syntax-error", Error, syntax_error),
    rule!("missing-tab", Error, missing_tab),
    rule!("unknown-metasymbol", Error, unknown_metasymbol),
    rule!("unbalanced-lookup", Error, unbalanced_lookup),
    rule!("empty-lhs", Error, empty_lhs),
    rule!("rhs-out-of-bounds", Error, rhs_out_of_bounds),
    rule!("undefined-ruleset", Error, undefined_ruleset),
    rule!("undefined-map", Error, undefined_map),
    rule!("unknown-map-class", Error, unknown_map_class),
    rule!("unavailable-map-class", Warning, unavailable_map_class),
    rule!("undefined-class", Warning, undefined_class),
    rule!("undefined-macro", Warning, undefined_macro),
    rule!("unknown-mailer", Error, unknown_mailer),
    rule!("duplicate-ruleset", Warning, duplicate_ruleset),
    rule!("infinite-loop", Error, infinite_loop),
    rule!("shadowed-rule", Warning, shadowed_rule),
    rule!("unused-map", Warning, unused_map),
    rule!("unused-ruleset", Info, unused_ruleset),
    rule!(
        "operator-chars-redefined",
        Warning,
        operator_chars_redefined
    ),
    rule!("option-abbreviation", Info, option_abbreviation),
    rule!("missing-map-file", Error, missing_map_file, true),
    rule!("stale-map", Warning, stale_map, true),
];

/// Report the compile problems of the given kinds under `rule`.
pub(super) fn from_ir(
    ctx: &Context,
    rule: &RuleInfo,
    out: &mut Vec<Diagnostic>,
    kinds: &[ir::ProblemKind],
) {
    for p in &ctx.ir.problems {
        if kinds.contains(&p.kind) {
            let mut d = Diagnostic::new(rule, p.span, p.message.clone());
            for (s, t) in &p.related {
                d = d.label(*s, t.clone());
            }
            out.push(d);
        }
    }
}

/// Report the reader problems of the given kinds under `rule`.
pub(super) fn from_syntax(
    ctx: &Context,
    rule: &RuleInfo,
    out: &mut Vec<Diagnostic>,
    kinds: &[cf::ProblemKind],
) {
    for p in &ctx.syntax.problems {
        if kinds.contains(&p.kind) {
            out.push(Diagnostic::new(rule, p.span, p.message.clone()));
        }
    }
}

/// Every node of a template tree, depth first.
pub(super) fn walk_nodes<'a>(nodes: &'a [ir::Node], f: &mut dyn FnMut(&'a ir::Node)) {
    for n in nodes {
        f(n);
        match n {
            ir::Node::Lookup(l) => {
                walk_nodes(&l.key, f);
                for a in &l.args {
                    walk_nodes(a, f);
                }
                if let Some(d) = &l.default {
                    walk_nodes(d, f);
                }
            }
            ir::Node::Call { input, .. } => walk_nodes(input, f),
            ir::Node::Resolve {
                mailer, host, user, ..
            } => {
                walk_nodes(mailer, f);
                if let Some(h) = host {
                    walk_nodes(h, f);
                }
                if let Some(u) = user {
                    walk_nodes(u, f);
                }
            }
            _ => {}
        }
    }
}

/// Every rule with its ruleset.
pub(super) fn all_rules(ir: &ir::Ir) -> impl Iterator<Item = (&ir::Ruleset, &ir::Rule)> {
    ir.rulesets
        .values()
        .flat_map(|rs| rs.rules.iter().map(move |r| (rs, r)))
}
