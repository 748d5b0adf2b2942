//! A `K` line with a map class that Debian's sendmail is built without.
//!
//! ## What it does
//! Reports maps of class `dbm`, `cdb`, `hesiod`, `netinfo`, `nsd` or `ph`: sendmail
//! knows these classes, but the 8.17 binary Debian ships was compiled without them.
//!
//! ## Why is this bad?
//! That sendmail prints "class … not available" and the map does not exist there. cfmap
//! can build and read `dbm` (SDBM) and `cdb` files, but a sendmail that cannot open them
//! will not answer from them.
//!
//! ## Example
//! ```text
//! Kjunk dbm /etc/mail/junk
//! ```
//!
//! ## Use instead
//! ```text
//! Kjunk hash /etc/mail/junk
//! ```

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::ProblemKind as K;

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    super::from_ir(ctx, rule, out, &[K::UnavailableMapClass]);
}
