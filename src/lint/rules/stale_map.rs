//! A map database older than its text source (with `--check-files`).
//!
//! ## What it does
//! For every file-based map whose text source sits next to its database (the K-line
//! file name without the `.db`, `.cdb` or `.dir`/`.pag` suffix, as makemap is usually
//! run), reports the map when the database was last modified before the source.
//!
//! ## Why is this bad?
//! Someone edited the source (`junkmail`) and forgot to rebuild the database
//! (`junkmail.db`): sendmail still answers from the old entries.
//!
//! ## Example
//! `/etc/mail/junkmail` changed today, `/etc/mail/junkmail.db` last week.
//!
//! ## Use instead
//! Rebuild: `makemap btree /etc/mail/junkmail < /etc/mail/junkmail`.

use std::path::PathBuf;

use super::super::{Context, Diagnostic, RuleInfo};
use crate::ir::MapClass;

fn path_of(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for m in ctx.ir.maps.values() {
        if m.spans.is_empty() || matches!(m.class, MapClass::Text | MapClass::Stab) {
            continue;
        }
        let Some(file) = &m.file else { continue };
        let source = ctx.resolve_path(&path_of(file));
        let Ok(src_time) = source.metadata().and_then(|md| md.modified()) else {
            continue;
        };
        for db in m.class.database_files(file) {
            let path = ctx.resolve_path(&path_of(&db));
            if path == source {
                continue;
            }
            let Ok(db_time) = path.metadata().and_then(|md| md.modified()) else {
                continue;
            };
            if db_time < src_time {
                out.push(Diagnostic::new(
                    rule,
                    m.file_span.unwrap_or(m.name_span),
                    format!(
                        "{} is older than its source {}: rebuild the map",
                        path.display(),
                        source.display()
                    ),
                ));
            }
        }
    }
}
