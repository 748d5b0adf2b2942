//! `cfmap dump TYPE NAME`: print a map's records, as `makemap -u` does.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::maps::{self, MapError, MapType};

/// Print every record of a map as `KEY<TAB>VALUE` lines, like `makemap -u`.
///
/// Records come in the format's order (cdb: insertion order; btree: key order; hash and
/// dbm: bucket order). As with makemap, keys and values are printed as C strings: each
/// stops at its first NUL byte. Exit status: 0, 66 when the map does not exist, 65 when
/// it is damaged, 73 when its type is not supported, 74 on an I/O error.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Map type: btree, hash, dbm or cdb.
    #[arg(value_name = "TYPE")]
    pub map_type: MapType,
    /// Map name, as given to makemap (suffixes are added as for makemap).
    #[arg(value_name = "NAME")]
    pub name: PathBuf,
}

fn c_string(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

fn status_of(e: &MapError) -> i32 {
    match e {
        e if e.is_not_found() => exit::NOINPUT,
        MapError::Unsupported { .. } => 73,
        MapError::Cdb { .. } | MapError::Format { .. } => exit::DATAERR,
        _ => exit::IOERR,
    }
}

pub fn run(a: DumpArgs) -> i32 {
    let map = match maps::open(a.map_type, &a.name) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cfmap: {e}");
            return status_of(&e);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for record in map.iter() {
        let (k, v) = match record {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("cfmap: {e}");
                return status_of(&e);
            }
        };
        let line = [c_string(&k), b"\t", c_string(&v), b"\n"].concat();
        if out.write_all(&line).is_err() {
            return exit::IOERR;
        }
    }
    if out.flush().is_err() {
        return exit::IOERR;
    }
    exit::OK
}
