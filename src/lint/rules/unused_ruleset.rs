//! A named ruleset that nothing calls.
//!
//! ## What it does
//! Reports rulesets with rules that no `$>` calls, no mailer `S=`/`R=` field or `H` line
//! names, and that sendmail does not call by itself (rulesets 0 to 5 and the names it
//! looks for: `check_mail`, `check_rcpt`, `check_relay`, `trust_auth`, `tls_client`,
//! `srv_features`, `queuegroup`, …). A call through a binding (`$>$2`) whose LHS
//! wildcard is a class (`$={Src}`) counts as a call of every member of that class; a call
//! through any other binding could reach any ruleset, and then nothing is reported.
//!
//! ## Why is this bad?
//! It is harmless, but often a sign of a typo in a call (which `undefined-ruleset`
//! reports) or of leftovers after an edit.
//!
//! ## Example
//! ```text
//! SLocal_check_mial
//! R$*	$#error $: 550 no
//! ```
//!
//! ## Use instead
//! ```text
//! SLocal_check_mail
//! ```

use std::collections::HashSet;

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::{Node, PatOp};
use crate::meta;

/// Rulesets sendmail calls by name (`rscheck`/`rscap` in the 8.17 sources).
const CALLED_BY_SENDMAIL: &[&str] = &[
    "check_relay",
    "check_mail",
    "check_rcpt",
    "check_data",
    "check_compat",
    "check_eoh",
    "check_eom",
    "check_etrn",
    "check_expn",
    "check_vrfy",
    "check_other",
    "trust_auth",
    "tls_client",
    "tls_server",
    "tls_rcpt",
    "tls_srv_features",
    "tls_clt_features",
    "try_tls",
    "srv_features",
    "clt_features",
    "greet_pause",
    "authinfo",
    "queuegroup",
    "oc_rate",
    "oc_conc",
    "bcc",
    "x_connect",
    "debug_dumpstate",
];

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    let ir = ctx.ir;
    let mut called: HashSet<u16> = HashSet::new();
    let mut unknowable = false;
    for (_, r) in super::all_rules(ir) {
        let bound: Vec<&PatOp> = r.lhs.ops.iter().filter(|o| o.binds()).collect();
        super::walk_nodes(&r.rhs.nodes, &mut |n| {
            let Node::Call { target, .. } = n else { return };
            if let [meta::MATCHREPL, d] = target.as_slice() {
                match bound.get((d.wrapping_sub(b'1')) as usize) {
                    Some(PatOp::Class(id)) => {
                        for member in ir.classes.members[*id as usize].values() {
                            if let Some(t) = ir.resolve_ruleset(member) {
                                called.insert(t);
                            }
                        }
                    }
                    _ => unknowable = true,
                }
            } else if target.first().is_some_and(|b| *b >= 0x80) {
                unknowable = true;
            } else if let Some(t) = ir.resolve_ruleset(target) {
                called.insert(t);
            }
        });
    }
    if unknowable {
        return;
    }
    for rs in ir.rulesets.values() {
        if rs.number <= 5
            || rs.rules.is_empty()
            || !rs.mentioned_at.is_empty()
            || called.contains(&rs.number)
        {
            continue;
        }
        let Some(name) = &rs.name else { continue };
        if CALLED_BY_SENDMAIL
            .iter()
            .any(|c| c.as_bytes() == name.as_slice())
        {
            continue;
        }
        let Some(&at) = rs.defined_at.first() else {
            continue;
        };
        out.push(Diagnostic::new(
            rule,
            at,
            format!("ruleset {} is never called", crate::bytes::escape(name)),
        ));
    }
}
