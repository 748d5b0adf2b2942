//! A `$=X` or `$~X` class that is never given members.
//!
//! ## What it does
//! Reports class references in rules when no `C`, `T` or `F` line adds to the class and
//! sendmail does not fill it itself (`w`, `k`, `m`, `t`, and the MIME classes `n s e b`).
//! The classes sendmail's m4 configuration references as hooks for the administrator
//! (`$=L` LUSER_RELAY users, `$=M` masquerade domains, `$=N`, `$=E`, `$=G`, `$=U`…`$=Z`,
//! `$={VirtHost}`, `$={TrustAuthMech}`, `$={LDAPRoute}`, `$={LDAPRouteEquiv}`,
//! `$={Canonify}`) are empty by design and not reported.
//!
//! ## Why is this bad?
//! An empty class never matches: `$=X` rules never fire and `$~X` matches every token.
//! Class names are case-sensitive for one-letter names (`$=R` is not `$=r`).
//!
//! ## Example
//! ```text
//! R$* < @ $=R . > $*	$@ RELAY
//! ```
//! (with no `CR` or `FR` line)
//!
//! ## Use instead
//! ```text
//! FR-o /etc/mail/relay-domains
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::cf::MacroName;
use crate::ir::is_predefined_class;

/// Classes the m4 configuration leaves for the administrator to fill.
fn is_m4_hook(name: &MacroName) -> bool {
    match name {
        MacroName::Short(b) => b"EGLMNUVWXYZ".contains(b),
        MacroName::Long(n) => [
            &b"VirtHost"[..],
            b"TrustAuthMech",
            b"LDAPRoute",
            b"LDAPRouteEquiv",
            b"Canonify",
        ]
        .contains(&n.as_slice()),
    }
}

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for c in &ctx.ir.class_refs {
        let id = c.id as usize;
        if is_predefined_class(&c.name)
            || is_m4_hook(&c.name)
            || !ctx.ir.classes.defined_at[id].is_empty()
            || !ctx.ir.classes.members[id].is_empty()
        {
            continue;
        }
        out.push(Diagnostic::new(
            rule,
            c.span,
            format!(
                "class {} has no members (no C or F line); it never matches",
                c.name.display()
            ),
        ));
    }
}
