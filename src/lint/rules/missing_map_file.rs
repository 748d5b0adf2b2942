//! A map or class file that does not exist (with `--check-files`).
//!
//! ## What it does
//! For every `K` line of a file-based class (`hash`, `btree` and `implicit` read
//! `FILE.db`, `dbm` reads `FILE.dir` and `FILE.pag`, `cdb` reads `FILE.cdb`, `text` reads
//! `FILE`) and every `F` line that reads a file, checks that the file exists. Relative
//! paths are resolved from `--base-dir` (sendmail resolves them from its current
//! directory). Optional maps and classes (`-o`) are skipped.
//!
//! ## Why is this bad?
//! sendmail reports the missing file the first time the map is used ("hash map …:
//! missing map file …") and then treats every lookup as a temporary failure: mail is
//! deferred with 4xx answers.
//!
//! ## Example
//! ```text
//! Kaccess hash /etc/mail/access
//! ```
//! (with no `/etc/mail/access.db`)
//!
//! ## Use instead
//! Build the map (`makemap hash /etc/mail/access < /etc/mail/access`), or mark it
//! optional with `-o`.

use std::path::PathBuf;

use super::super::{Context, Diagnostic, RuleInfo};
use crate::cf::ClassSource;

fn path_of(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

pub(super) fn check(ctx: &Context, rule: &RuleInfo, out: &mut Vec<Diagnostic>) {
    for m in ctx.ir.maps.values() {
        if m.flags.optional || m.spans.is_empty() {
            continue;
        }
        let Some(file) = &m.file else { continue };
        for db in m.class.database_files(file) {
            let path = ctx.resolve_path(&path_of(&db));
            if !path.exists() {
                out.push(Diagnostic::new(
                    rule,
                    m.file_span.unwrap_or(m.name_span),
                    format!(
                        "{} map {}: missing map file {}",
                        m.class.name(),
                        crate::bytes::escape(&m.name),
                        path.display()
                    ),
                ));
            }
        }
    }
    for f in &ctx.ir.file_classes {
        let ClassSource::File(name) = &f.source else {
            continue;
        };
        if f.optional || name.is_empty() {
            continue;
        }
        let path = ctx.resolve_path(&path_of(name));
        if !path.exists() {
            out.push(Diagnostic::new(
                rule,
                f.source_span,
                format!(
                    "fileclass: cannot open '{}': No such file or directory",
                    path.display()
                ),
            ));
        }
    }
}
