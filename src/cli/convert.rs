//! `cfmap convert SRC DST`: carry a map over into another format (`crate::convert`).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use clap::Args;

use super::exit;
use crate::convert::{self, Endpoint, Format, Note, NulEdit, Options, show};
use crate::makemap::RulesOpt;

/// Convert a map to another format, pair for pair: hash, btree, dbm, cdb or a makemap
/// source (text).
///
/// Each side is TYPE:PATH as Postfix writes map names (hash:/etc/mail/access,
/// cdb:/etc/mail/access, text:access.txt); the path is the map name as on a K line, and
/// .db, .dir/.pag or .cdb are added as sendmail adds them. Every pair is copied byte for
/// byte (binary keys and values, empty values, trailing NULs), so that the new map answers
/// sendmail's lookups as the old one did. Needs no Berkeley DB library.
#[derive(Debug, Args)]
#[command(after_long_help = CONVERT_AFTER_HELP)]
pub struct ConvertArgs {
    /// Add a trailing NUL to every key and value that has none (for a K line with -N).
    #[arg(short = 'N', long = "add-nul", conflicts_with = "strip_nul")]
    pub add_nul: bool,
    /// Remove one trailing NUL from every key and value that has one (for a K line
    /// with -O).
    #[arg(short = 'O', long = "strip-nul")]
    pub strip_nul: bool,
    /// Lower-case (ASCII) every key, as makemap does without -f.
    #[arg(long)]
    pub fold: bool,
    /// Keep every record of a repeated key (hash and btree as with makemap -d, cdb, text)
    /// instead of only the one the old map answered.
    #[arg(short = 'd', long = "keep-duplicates")]
    pub keep_duplicates: bool,
    /// Text source: do not fold keys to lower case (makemap -f).
    #[arg(short = 'f')]
    pub no_fold: bool,
    /// Text source: store lines without a value with an empty value (makemap -e).
    #[arg(short = 'e')]
    pub allow_empty: bool,
    /// Text source: key/value delimiter (makemap -t).
    #[arg(short = 't', value_name = "DELIM", allow_hyphen_values = true)]
    pub delimiter: Option<OsString>,
    /// Text source: comment character (makemap -D).
    #[arg(short = 'D', value_name = "CHAR", allow_hyphen_values = true)]
    pub comment: Option<OsString>,
    /// Skip makemap's safety checks on the destination: a file with other hard links is
    /// replaced under the name given, a symbolic link is followed and its target
    /// replaced (not for dbm).
    #[arg(short = 's')]
    pub skip_safety: bool,
    /// Say what was converted.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The map to read: TYPE:PATH, TYPE one of hash, btree, dbm, cdb, text.
    #[arg(value_name = "SRC")]
    pub src: Endpoint,
    /// The map to write (replaced atomically): TYPE:PATH.
    #[arg(value_name = "DST")]
    pub dst: Endpoint,
}

const CONVERT_AFTER_HELP: &str = "\
DEFAULTS:
  Keys and values are copied exactly: no case folding, NULs as they are. sendmail
  lower-cases a lookup key unless the K line has -f, for cdb maps as for hash maps (it is
  tinycdb's own cdb -q that does not fold), so a key with capitals that no lookup reached
  in the old map reaches none in the new one either; cfmap says how many there are.
  --fold lower-cases them, -N/-O add or strip the trailing NUL.

  A key stored more than once (makemap -d files, cdb, a makemap source) is written once,
  with the value the old map gave a lookup (the first of its records; makemap keeps the
  first line), and each dropped record is reported. -d keeps them all.

  text:PATH as destination writes a makemap source whose first line, a comment, names the
  makemap flags that rebuild the same map (-N, -f, -e, -t, -D, -d as the pairs need); as
  source, that line's flags are used again. Pairs no makemap source can carry (a NUL
  inside a key, a newline) are refused.

  The new map is built beside the old one and renamed into place under the map's lock,
  and the old file's mtime is moved forward so a running sendmail reopens it, as with
  cfmap makemap. A new file takes the source map's mode and owner. A destination that
  exists and is not a map of its type is not replaced.

EXIT STATUS:
  0    Converted.
  64   Usage error.
  65   The source is damaged, a text source had bad lines (the others were converted),
       or a pair cannot be written in the destination format.
  66   The source does not exist.
  73   The destination cannot be created, or exists and is not a map.
  74   I/O error while writing.

EXAMPLES:
  cfmap convert hash:/etc/mail/access cdb:/etc/mail/access
  cfmap convert btree:/etc/mail/virtusertable text:virtusertable.txt
  cfmap convert -N text:access.txt dbm:/etc/mail/access";

fn one_byte(o: &Option<OsString>) -> Option<u8> {
    o.as_ref()
        .map(|s| s.as_bytes().first().copied().unwrap_or(0))
}

pub fn run(a: ConvertArgs) -> i32 {
    let opts = Options {
        nul: if a.add_nul {
            NulEdit::Add
        } else if a.strip_nul {
            NulEdit::Strip
        } else {
            NulEdit::Keep
        },
        fold: a.fold,
        keep_duplicates: a.keep_duplicates,
        text_rules: RulesOpt {
            comment: one_byte(&a.comment),
            separator: one_byte(&a.delimiter),
            no_fold: a.no_fold,
            nul: false,
            allow_empty: a.allow_empty,
        },
        skip_safety: a.skip_safety,
    };
    let mut err = std::io::stderr().lock();
    match convert::convert(&a.src, &a.dst, &opts) {
        Err(e) => {
            let _ = writeln!(err, "cfmap: {e}");
            e.exit_code()
        }
        Ok(o) => {
            let mut status = exit::OK;
            for n in &o.notes {
                match n {
                    Note::Duplicate { key, kept, dropped } => {
                        let _ = writeln!(
                            err,
                            "cfmap: {}: key {}: {} records; kept \"{}\" (what a lookup answered), dropped {}",
                            a.src,
                            show(key),
                            dropped.len() + 1,
                            show(kept),
                            dropped
                                .iter()
                                .map(|v| format!("\"{}\"", show(v)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    Note::Line { line, message } => {
                        let _ = writeln!(
                            err,
                            "cfmap: {}: line {line}: {}",
                            a.src.path.display(),
                            String::from_utf8_lossy(message)
                        );
                        status = exit::DATAERR;
                    }
                }
            }
            if o.upper_case_keys > 0 {
                let _ = writeln!(
                    err,
                    "cfmap: {}: {} key(s) with upper-case letters copied as they are (first: {}): \
                     sendmail finds them only through a K line with -f; --fold lower-cases them",
                    a.dst,
                    o.upper_case_keys,
                    show(o.first_upper_case_key.as_deref().unwrap_or_default())
                );
            }
            if let Some(flags) = &o.text_flags
                && (a.verbose || !flags.is_empty())
            {
                let _ = writeln!(
                    err,
                    "cfmap: {}: rebuild with makemap {}",
                    a.dst,
                    if flags.is_empty() {
                        "(no flags)"
                    } else {
                        flags
                    }
                );
            }
            if a.verbose {
                let _ = writeln!(
                    err,
                    "cfmap: {} -> {}: {} pairs written ({} read)",
                    a.src, a.dst, o.pairs, o.read
                );
            }
            if a.dst.format == Format::Text && o.pairs == 0 && a.verbose {
                let _ = writeln!(err, "cfmap: {}: empty map", a.dst);
            }
            status
        }
    }
}
