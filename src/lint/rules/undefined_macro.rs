//! A macro used before (or without) being defined.
//!
//! ## What it does
//! Reports `$x` in `R`, `S`, `K` and `C` lines when macro `x` has no value at that point
//! of the file, and `$&x` when nothing ever gives `x` a value: no `D` line, no
//! `$(macro_map {x} …$)` lookup, and it is not one of the macros sendmail sets while it
//! works (`$&{client_addr}`, `$&f`, …). The one-letter macros sendmail's m4
//! configuration uses as optional settings (`$S` SMART_HOST, `$R` LOCAL_RELAY, `$H`
//! MAIL_HUB, `$Y` UUCP_RELAY, `$M` masquerade name, …) mean "not set" when undefined and
//! are reported only when a `D` line further down defines them.
//!
//! ## Why is this bad?
//! sendmail replaces `$x` while it reads the line, with the value it has *then*: a macro
//! defined further down, or not at all, becomes nothing and the rule means something
//! else. An `$&x` that is never set is always empty.
//!
//! ## Example
//! ```text
//! R$* < @ $M > $*	$: $1 < @ $j > $2
//! DMmail.example.com
//! ```
//!
//! ## Use instead
//! ```text
//! DMmail.example.com
//! R$* < @ $M > $*	$: $1 < @ $j > $2
//! ```

use std::collections::HashSet;

use super::super::{Context, Diagnostic, RuleInfo};
use crate::cf::MacroName;
use crate::ir::{MapClass, Node, RefKind};

/// Long macro names sendmail itself sets during an SMTP session or delivery
/// (op.me, "Macros": the `${…}` list) and a few it registers at start-up.
const RUNTIME_LONG: &[&str] = &[
    "addr_type",
    "alg_bits",
    "auth_authen",
    "auth_author",
    "auth_ssf",
    "auth_type",
    "bodytype",
    "cert_fp",
    "cert_issuer",
    "cert_md5",
    "cert_subject",
    "cipher",
    "cipher_bits",
    "client_addr",
    "client_connections",
    "client_flags",
    "client_name",
    "client_port",
    "client_ptr",
    "client_rate",
    "client_resolve",
    "cn_issuer",
    "cn_subject",
    "currHeader",
    "daemon_addr",
    "daemon_family",
    "daemon_flags",
    "daemon_info",
    "daemon_name",
    "daemon_port",
    "deliveryMode",
    "dsn_envid",
    "dsn_notify",
    "dsn_ret",
    "envid",
    "hdrlen",
    "hdr_name",
    "if_addr",
    "if_addr_out",
    "if_family",
    "if_family_out",
    "if_name",
    "if_name_out",
    "load_avg",
    "mail_addr",
    "mail_from",
    "mail_host",
    "mail_mailer",
    "msg_id",
    "msg_size",
    "nbadrcpts",
    "nrcpts",
    "ntries",
    "opMode",
    "quarantine",
    "rcpt_addr",
    "rcpt_host",
    "rcpt_mailer",
    "server_addr",
    "server_name",
    "sm_dane",
    "time",
    "tls_version",
    "total_rcpts",
    "verify",
    "TLS_Name",
    "auth_realm",
    "client_resolve",
    "rcpt_host",
    "ssl_engine",
    "tls_srv_features",
    "tls_clt_features",
    "sasl_realm",
    "sni",
];

fn is_runtime(name: &MacroName) -> bool {
    match name {
        // Every lower-case one-letter macro is sendmail's ($a date … $z home directory),
        // as are `$_` (RFC 1413 sender) and `$Z`/`$Y` set by m4 configurations.
        MacroName::Short(b) => b.is_ascii_lowercase() || *b == b'_',
        MacroName::Long(n) => RUNTIME_LONG.iter().any(|r| r.as_bytes() == n.as_slice()),
    }
}

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    let ir = ctx.ir;
    // Macros set by `$(m {x} …$)` lookups in maps of class macro.
    let mut set_by_rules: HashSet<u8> = HashSet::new();
    for (_, r) in super::all_rules(ir) {
        super::walk_nodes(&r.rhs.nodes, &mut |n| {
            let Node::Lookup(l) = n else { return };
            let Some(map) = &l.map else { return };
            if ir
                .map(&map.bytes)
                .is_some_and(|m| m.class == MapClass::Macro)
                && let Some(Node::Token(key)) = l.key.first()
            {
                let b = &key.bytes;
                let name = if b.len() > 2 && b[0] == b'{' && b[b.len() - 1] == b'}' {
                    MacroName::Long(b[1..b.len() - 1].to_vec())
                } else if let Some(&c) = b.first() {
                    MacroName::Short(c)
                } else {
                    return;
                };
                if let Some(id) = ir.macros.lookup_id(&name) {
                    set_by_rules.insert(id);
                }
            }
        });
    }
    for m in &ir.macro_refs {
        match m.kind {
            RefKind::Conditional => {}
            RefKind::ReadTime => {
                if m.defined_then {
                    continue;
                }
                // Punctuation names are reported by unknown-metasymbol.
                if matches!(m.name, MacroName::Short(b) if !b.is_ascii_alphanumeric()) {
                    continue;
                }
                let later = ir.macros.defined_at[m.id as usize];
                let m4_setting =
                    matches!(m.name, MacroName::Short(b) if b"ABCFHLMRSUVWXY".contains(&b));
                if later.is_none() && m4_setting {
                    continue;
                }
                let mut d = Diagnostic::new(
                    rule,
                    m.span,
                    format!(
                        "macro ${} is not defined here; sendmail replaces it with nothing while reading this line",
                        m.name.display()
                    ),
                );
                if let Some(at) = later {
                    d = d.label(at, "defined only later, here");
                }
                out.push(d);
            }
            RefKind::Deferred => {
                if ir.macros.is_defined(m.id)
                    || ir.macros.defined_at[m.id as usize].is_some()
                    || set_by_rules.contains(&m.id)
                    || is_runtime(&m.name)
                {
                    continue;
                }
                out.push(Diagnostic::new(
                    rule,
                    m.span,
                    format!(
                        "macro ${} is never given a value (no D line, no macro-map lookup, not set by sendmail); $&{} is always empty",
                        m.name.display(),
                        m.name.display()
                    ),
                ));
            }
        }
    }
}
