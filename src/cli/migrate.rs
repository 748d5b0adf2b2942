//! `cfmap migrate -C sendmail.cf --to cdb`: every hash, btree, dbm and implicit map of a
//! configuration converted beside the old file, the K lines (and the .mc) patched, and
//! the proof that the new configuration answers as the old one (`crate::migrate`).

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use super::test::{build_maps, load};
use crate::convert::{self, Endpoint, show};
use crate::engine::Session;
use crate::maps::{MapError, MapType};
use crate::migrate::{self, Blocker, Edit, Entry, diff, mc, proof};

/// Move a sendmail configuration off Berkeley DB: convert every hash, btree and dbm map
/// to cdb and patch the K lines, with a proof that nothing answers differently.
///
/// Every K line whose class needs libdb (hash, btree, dbm, implicit) is found, its map
/// file converted pair for pair beside the old one (NAME.db -> NAME.cdb), and the .cf
/// (and with --mc the .mc) rewritten with only the class word and the .db ending
/// changed, after a backup. Before anything is written, every key of every map is looked
/// up through the old and the new configuration with cfmap's engine (/map NAME KEY), and
/// run as a test address through check_mail, check_rcpt, check_relay, their Local_
/// hooks, every other check_* ruleset and 3,0: every answer must be the same.
#[derive(Debug, Args)]
#[command(after_long_help = MIGRATE_AFTER_HELP)]
pub struct MigrateArgs {
    /// The configuration (sendmail.cf).
    #[arg(short = 'C', value_name = "FILE.cf")]
    pub config: PathBuf,
    /// The new map type.
    #[arg(long, value_name = "TYPE", value_parser = ["cdb"])]
    pub to: String,
    /// The m4 source the .cf was built from: its FEATURE/define arguments are patched too.
    #[arg(long, value_name = "FILE.mc")]
    pub mc: Option<PathBuf>,
    /// Change nothing: print the unified diff of the .cf (and .mc), and the proof.
    #[arg(long)]
    pub dry_run: bool,
    /// Read and write absolute map paths below DIR (/etc/mail/x is DIR/etc/mail/x).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Migrate the maps that can be, when others cannot (missing file, network class).
    #[arg(long)]
    pub partial: bool,
}

const MIGRATE_AFTER_HELP: &str = "\
OUTPUT:
  One line per map (converted, or why not), the proof (lookups and ruleset cases asked of
  both configurations, and the first differences), then what was written. With
  --dry-run the diff goes to standard output and the report to standard error.

  The old .db files are left in place; the .cf and .mc are saved as FILE.bak (or
  FILE.bak.N) before they are rewritten.

EXIT STATUS:
  0    Migrated (or, with --dry-run, would be) and every answer is the same.
  1    The new configuration answers differently: nothing changed.
  65   A map cannot be migrated (missing or damaged file, ldap/nis map, unknown class)
       and --partial was not given: nothing changed.
  66   The configuration or .mc cannot be read.
  73   A file cannot be written.
  78   The configuration does not parse.

EXAMPLES:
  cfmap migrate -C /etc/mail/sendmail.cf --mc /etc/mail/sendmail.mc --to cdb --dry-run
  cfmap migrate -C /etc/mail/sendmail.cf --mc /etc/mail/sendmail.mc --to cdb";

/// A converted map waiting to be put in place.
struct Ready {
    entry: Entry,
    records: Vec<crate::maps::Record>,
    /// The converted file, written under a hidden name beside the final one.
    temp: Endpoint,
    /// The K-line file word of the temporary map (for the proof configuration).
    temp_kfile: Vec<u8>,
}

fn temp_names(kfile: &[u8], dst: &Endpoint) -> (Endpoint, Vec<u8>) {
    let base_of = |b: &[u8]| -> (Vec<u8>, Vec<u8>) {
        match b.iter().rposition(|&c| c == b'/') {
            Some(i) => (b[..=i].to_vec(), b[i + 1..].to_vec()),
            None => (Vec::new(), b.to_vec()),
        }
    };
    let hidden = |name: &[u8]| {
        [
            &b"."[..],
            name,
            format!(".cfmap-migrate-{}", std::process::id()).as_bytes(),
        ]
        .concat()
    };
    let kfile = kfile.strip_suffix(b".db").unwrap_or(kfile);
    let (kdir, kbase) = base_of(kfile);
    let (pdir, pbase) = base_of(dst.path.as_os_str().as_bytes());
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(
        &[pdir, hidden(&pbase)].concat(),
    ));
    (
        Endpoint {
            format: dst.format,
            path,
        },
        [kdir, hidden(&kbase)].concat(),
    )
}

fn remove_temps(ready: &[Ready]) {
    for r in ready {
        for f in r.temp.files() {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// The first free `FILE.bak`, `FILE.bak.1`, ….
fn backup_name(p: &Path) -> PathBuf {
    let mut name = p.as_os_str().to_owned();
    name.push(".bak");
    let first = PathBuf::from(&name);
    if !first.exists() {
        return first;
    }
    (1..)
        .map(|n| {
            let mut s = name.clone();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        })
        .find(|p| !p.exists())
        .expect("a free name")
}

/// Save `path` as a backup, then replace it atomically with `text`.
fn rewrite(path: &Path, old: &[u8], text: &[u8]) -> Result<PathBuf, String> {
    let bak = backup_name(path);
    crate::maps::commit::replace_file(&bak, 0o600, |f, p| {
        f.write_all(old).map_err(|e| MapError::io(p, e))
    })
    .map_err(|e| e.to_string())?;
    if let Ok(m) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&bak, m.permissions());
    }
    crate::maps::commit::replace_file(path, 0o644, |f, p| {
        f.write_all(text).map_err(|e| MapError::io(p, e))
    })
    .map_err(|e| e.to_string())?;
    Ok(bak)
}

pub fn run(a: MigrateArgs) -> i32 {
    let to = MapType::Cdb;
    let mut err = std::io::stderr().lock();
    let mut out_buf: Vec<u8> = Vec::new();
    let cf_text = match std::fs::read(&a.config) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(
                err,
                "cfmap: {}: {}",
                a.config.display(),
                super::io_reason(&e)
            );
            return exit::NOINPUT;
        }
    };
    let mc_text = match &a.mc {
        None => None,
        Some(p) => match std::fs::read(p) {
            Ok(t) => Some(t),
            Err(e) => {
                let _ = writeln!(err, "cfmap: {}: {}", p.display(), super::io_reason(&e));
                return exit::NOINPUT;
            }
        },
    };
    let setup = |config: &std::path::Path| super::test::SetupArgs {
        config: config.to_path_buf(),
        define: Vec::new(),
        root: a.root.clone(),
        maps: Vec::new(),
        passwd: None,
    };
    let old = match load(&setup(&a.config), &[], &[]) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let syntax = crate::cf::parse(&old.file);
    if !syntax.problems.is_empty() {
        for p in &syntax.problems {
            let line = old.file.locate(p.span.start as usize).line;
            let _ = writeln!(
                err,
                "cfmap: {}: line {line}: {}",
                a.config.display(),
                p.message
            );
        }
        let _ = writeln!(
            err,
            "cfmap: {}: does not parse; nothing changed",
            a.config.display()
        );
        return 78;
    }

    // Plan, read every source, check every destination.
    let mut entries = migrate::plan(&old.ir, to, a.root.as_deref());
    let mut ready: Vec<Ready> = Vec::new();
    let mut report: Vec<String> = Vec::new();
    let mut blocked = 0;
    for e in &mut entries {
        let mut dup_notes = Vec::new();
        if e.blocker.is_none()
            && let (Some(src), Some(dst)) = (&e.src, &e.dst)
        {
            match convert::read(src, &convert::Options::default()) {
                Err(x) => e.blocker = Some(Blocker::File(x.to_string())),
                Ok(source) => match convert::check_destination(dst, false) {
                    Err(x) => e.blocker = Some(Blocker::File(x.to_string())),
                    Ok(()) => {
                        let (records, notes) =
                            convert::prepare(source, &convert::Options::default());
                        for n in notes {
                            if let convert::Note::Duplicate { key, kept, dropped } = n {
                                dup_notes.push(format!(
                                    "  {}: key {}: {} records, kept \"{}\" (what sendmail answered)",
                                    src,
                                    show(&key),
                                    dropped.len() + 1,
                                    show(&kept)
                                ));
                            }
                        }
                        let (temp, temp_kfile) = temp_names(&e.file, dst);
                        ready.push(Ready {
                            entry: e.clone(),
                            records,
                            temp,
                            temp_kfile,
                        });
                    }
                },
            }
        }
        let name = String::from_utf8_lossy(&e.name);
        match (&e.blocker, &e.src, &e.dst) {
            (None, Some(s), Some(d)) => {
                let n = ready.last().map_or(0, |r| r.records.len());
                report.push(format!("map {name}: {s} -> {d}: {n} pairs"));
                report.append(&mut dup_notes);
            }
            (Some(b), _, _) => {
                blocked += 1;
                report.push(format!("map {name} ({}): NOT MIGRATED: {b}", e.class));
            }
            _ => {}
        }
    }
    for a in migrate::alias_files_on_libdb(&old.ir) {
        let a = String::from_utf8_lossy(&a).into_owned();
        let path = a.rsplit_once(':').map_or(a.as_str(), |p| p.1);
        report.push(format!(
            "note: O AliasFile={a} is read through libdb and is not a K line: left as it is \
             (cfmap convert hash:{path} cdb:{path}, then AliasFile=cdb:{path})"
        ));
    }
    let say = |err: &mut dyn Write, lines: &[String]| {
        for l in lines {
            let _ = writeln!(err, "{l}");
        }
    };
    if ready.is_empty() && blocked == 0 {
        let _ = writeln!(
            err,
            "cfmap: {}: no hash, btree, dbm or implicit map: nothing to migrate",
            a.config.display()
        );
        return exit::OK;
    }
    if blocked > 0 && !a.partial {
        say(&mut err, &report);
        let _ = writeln!(
            err,
            "cfmap: migration incomplete ({blocked} map(s) above); nothing changed (--partial migrates the others)"
        );
        return exit::DATAERR;
    }

    // The new maps, under hidden names beside the final ones.
    for r in &ready {
        let like = r.entry.src.as_ref().map(|s| s.files().swap_remove(0));
        if let Err(e) = convert::write(&r.temp, &r.records, false, like.as_deref(), "") {
            remove_temps(&ready);
            say(&mut err, &report);
            let _ = writeln!(err, "cfmap: {e}; nothing changed");
            return e.exit_code();
        }
    }

    // The new .cf, and the one the proof runs on (K lines naming the hidden files).
    let mut final_edits: Vec<Edit> = Vec::new();
    let mut proof_edits: Vec<Edit> = Vec::new();
    for r in &ready {
        for range in &r.entry.lines {
            final_edits.extend(migrate::kline_edits(&cf_text, range, to.name(), None));
            proof_edits.extend(migrate::kline_edits(
                &cf_text,
                range,
                to.name(),
                Some(&r.temp_kfile),
            ));
        }
    }
    let new_cf = migrate::apply(&cf_text, &final_edits);
    let proof_cf = migrate::apply(&cf_text, &proof_edits);
    let proof_path = std::env::temp_dir().join(format!("cfmap-migrate-{}.cf", std::process::id()));
    if let Err(e) = std::fs::write(&proof_path, &proof_cf) {
        remove_temps(&ready);
        let _ = writeln!(
            err,
            "cfmap: {}: {}",
            proof_path.display(),
            super::io_reason(&e)
        );
        return exit::CANTCREAT;
    }
    let new = load(&setup(&proof_path), &[], &[]);
    let _ = std::fs::remove_file(&proof_path);
    let new = match new {
        Ok(l) => l,
        Err(code) => {
            remove_temps(&ready);
            return code;
        }
    };
    let keys: Vec<(Vec<u8>, Vec<Vec<u8>>)> = ready
        .iter()
        .map(|r| {
            (
                r.entry.name.clone(),
                r.records.iter().map(|(k, _)| k.clone()).collect(),
            )
        })
        .collect();
    let rulesets = proof::rulesets(&old.ir);
    let result = {
        let (old_maps, _) = build_maps(&old);
        let (new_maps, _) = build_maps(&new);
        let mut s_old = Session::new(&old.ir, old_maps, &old.opts);
        let mut s_new = Session::new(&new.ir, new_maps, &new.opts);
        let names: Vec<(Vec<u8>, Vec<u8>)> = ready
            .iter()
            .map(|r| {
                let f = &r.entry.file;
                let base = if r.entry.class == "dbm" {
                    f.clone()
                } else {
                    f.strip_suffix(b".db").unwrap_or(f).to_vec()
                };
                (r.temp_kfile.clone(), base)
            })
            .collect();
        proof::prove(&mut s_old, &mut s_new, &keys, &rulesets, &names, 10)
    };
    report.push(format!(
        "proof: {} lookups (/map) and {} ruleset cases ({}) asked of the old and the new configuration: {}",
        result.lookups,
        result.cases,
        rulesets
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
            .join(", "),
        if result.different == 0 {
            "all the same".to_string()
        } else {
            format!("{} DIFFERENT", result.different)
        }
    ));
    if result.skipped > 0 {
        report.push(format!(
            "  {} keys cannot be typed on a test line (newline, NUL or too long) and were not asked",
            result.skipped
        ));
    }
    for d in &result.differences {
        report.push(format!(
            "  {}\n    old: {}\n    new: {}",
            String::from_utf8_lossy(&d.question),
            String::from_utf8_lossy(&d.old)
                .trim_end()
                .replace('\n', "\n         "),
            String::from_utf8_lossy(&d.new)
                .trim_end()
                .replace('\n', "\n         ")
        ));
    }

    // The .mc.
    let mc_patch = mc_text.as_ref().map(|t| {
        let files: Vec<Vec<u8>> = ready.iter().map(|r| r.entry.file.clone()).collect();
        mc::patch(t, &files, to.name())
    });
    if let Some(p) = &mc_patch {
        for n in &p.notes {
            report.push(format!("mc: {n}"));
        }
    }
    let new_mc = match (&mc_text, &mc_patch) {
        (Some(t), Some(p)) => Some(migrate::apply(t, &p.edits)),
        _ => None,
    };

    if result.different > 0 {
        remove_temps(&ready);
        say(&mut err, &report);
        let _ = writeln!(
            err,
            "cfmap: the new configuration answers differently; nothing changed"
        );
        return exit::FINDINGS;
    }
    if a.dry_run {
        remove_temps(&ready);
        let cf_name = a.config.display().to_string();
        out_buf.extend(diff::unified(&cf_name, &cf_name, &cf_text, &new_cf));
        if let (Some(p), Some(t), Some(n)) = (&a.mc, &mc_text, &new_mc) {
            let name = p.display().to_string();
            out_buf.extend(diff::unified(&name, &name, t, n));
        }
        report.push("dry run: nothing changed".into());
        say(&mut err, &report);
        let _ = std::io::stdout().lock().write_all(&out_buf);
        return exit::OK;
    }

    // Put everything in place: maps first, then the .cf and .mc that name them. Two K
    // lines naming one file share one new file.
    let mut placed_already = std::collections::HashSet::new();
    for r in &ready {
        let dst = r.entry.dst.as_ref().expect("ready maps have a destination");
        let dest = dst.files().swap_remove(0);
        if !placed_already.insert(dest.clone()) {
            continue;
        }
        let temp = r.temp.files().swap_remove(0);
        let lock = crate::maps::commit::lock_pag(&dest, true).ok().flatten();
        let placed = if dest.exists() {
            crate::maps::commit::replace_file(&dest, 0o640, |f, p| {
                let mut src = std::fs::File::open(&temp).map_err(|e| MapError::io(&temp, e))?;
                std::io::copy(&mut src, f)
                    .map(|_| ())
                    .map_err(|e| MapError::io(p, e))
            })
            .map(|_| ())
            .and_then(|_| std::fs::remove_file(&temp).map_err(|e| MapError::io(&temp, e)))
        } else {
            std::fs::rename(&temp, &dest).map_err(|e| MapError::io(&dest, e))
        };
        drop(lock);
        if let Err(e) = placed {
            remove_temps(&ready);
            say(&mut err, &report);
            let _ = writeln!(err, "cfmap: {e}");
            return exit::CANTCREAT;
        }
        report.push(format!("wrote {}", dest.display()));
    }
    match rewrite(&a.config, &cf_text, &new_cf) {
        Ok(bak) => report.push(format!(
            "wrote {} (the old one is {})",
            a.config.display(),
            bak.display()
        )),
        Err(e) => {
            say(&mut err, &report);
            let _ = writeln!(err, "cfmap: {e}");
            return exit::CANTCREAT;
        }
    }
    if let (Some(p), Some(t), Some(n)) = (&a.mc, &mc_text, &new_mc)
        && t != n
    {
        match rewrite(p, t, n) {
            Ok(bak) => report.push(format!(
                "wrote {} (the old one is {})",
                p.display(),
                bak.display()
            )),
            Err(e) => {
                say(&mut err, &report);
                let _ = writeln!(err, "cfmap: {e}");
                return exit::CANTCREAT;
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for l in &report {
        let _ = writeln!(out, "{l}");
    }
    exit::OK
}
