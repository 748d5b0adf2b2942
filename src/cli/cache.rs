//! `cfmap cache list|prune|add|remove FILE`: look after the positive cache of
//! `cfmap verify` by hand.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::sysexits;
use crate::verify::{
    self,
    address::{Recipient, printable},
    cache::{Cache, CacheError},
};

/// Look after the positive verification cache (an SDBM_File pair NAME.dir + NAME.pag).
///
/// Every change takes the exclusive flock on NAME.pag that `cfmap verify` and Perl
/// filters sharing the file take (see cfmap-verify(1)), so it is safe while they run.
#[derive(Debug, Args)]
#[command(after_long_help = CACHE_AFTER_HELP)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List every entry: address, unix time, date (UTC), fresh or expired.
    List {
        /// The cache name, without .dir/.pag.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Entries older than this are shown as expired.
        #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_secs)]
        max_age: u64,
    },
    /// Delete the entries older than --max-age; print how many went and stayed.
    Prune {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_secs)]
        max_age: u64,
    },
    /// Record addresses as valid now (or at --time).
    Add {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The unix time to record (default: now).
        #[arg(long, value_name = "UNIXTIME")]
        time: Option<u64>,
        #[arg(value_name = "ADDR", required = true)]
        addresses: Vec<String>,
    },
    /// Delete addresses.
    Remove {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(value_name = "ADDR", required = true)]
        addresses: Vec<String>,
    },
}

const CACHE_AFTER_HELP: &str = "\
OUTPUT:
  list prints one line per entry, in file order, TAB-separated: the key, the stored
  value, the date it means (YYYY-MM-DD HH:MM:SS UTC) and fresh or expired (against
  --max-age). A value that is not a decimal unix time shows `invalid` for the date and
  is never pruned.

  Addresses given to add and remove are keyed as cfmap verify keys them: lower-cased,
  angle brackets dropped.

EXIT STATUS:
  0 success; 1 remove did not find an address; 65 the cache is damaged or an address is
  malformed; 74 the cache cannot be read or written.";

fn parse_secs(s: &str) -> Result<u64, String> {
    verify::parse_duration(s).map(|d| d.as_secs())
}

fn failed(e: &CacheError) -> i32 {
    eprintln!("cfmap cache: {e}");
    if e.is_corrupt() {
        sysexits::DATAERR
    } else {
        sysexits::IOERR
    }
}

fn keys(addresses: &[String]) -> Result<Vec<Vec<u8>>, i32> {
    addresses
        .iter()
        .map(|a| {
            Recipient::parse(a.as_bytes())
                .map(|r| r.cache_key())
                .map_err(|e| {
                    eprintln!("cfmap cache: {a:?}: {e}");
                    sysexits::DATAERR
                })
        })
        .collect()
}

pub fn run(args: CacheArgs) -> i32 {
    let now = verify::now();
    match args.action {
        CacheAction::List { file, max_age } => match Cache::new(&file).entries() {
            Ok(entries) => {
                for e in entries {
                    let (date, state) = match e.stamp {
                        Some(s) => (
                            verify::format_utc(s),
                            if verify::cache::is_fresh(s, now, max_age) {
                                "fresh"
                            } else {
                                "expired"
                            },
                        ),
                        None => ("invalid".to_string(), "-"),
                    };
                    println!(
                        "{}\t{}\t{date}\t{state}",
                        printable(&e.key),
                        printable(&e.value)
                    );
                }
                sysexits::OK
            }
            Err(e) => failed(&e),
        },
        CacheAction::Prune { file, max_age } => match Cache::new(&file).prune(now, max_age) {
            Ok((removed, kept)) => {
                println!("removed {removed}, kept {kept}");
                sysexits::OK
            }
            Err(e) => failed(&e),
        },
        CacheAction::Add {
            file,
            time,
            addresses,
        } => {
            let keys = match keys(&addresses) {
                Ok(k) => k,
                Err(s) => return s,
            };
            let cache = Cache::new(&file);
            for k in keys {
                if let Err(e) = cache.record(&k, time.unwrap_or(now)) {
                    return failed(&e);
                }
            }
            sysexits::OK
        }
        CacheAction::Remove { file, addresses } => {
            let keys = match keys(&addresses) {
                Ok(k) => k,
                Err(s) => return s,
            };
            match Cache::new(&file).remove(&keys) {
                Ok(found) => {
                    let mut status = sysexits::OK;
                    for (a, f) in addresses.iter().zip(found) {
                        if !f {
                            eprintln!("cfmap cache: {a}: not in the cache");
                            status = 1;
                        }
                    }
                    status
                }
                Err(e) => failed(&e),
            }
        }
    }
}
