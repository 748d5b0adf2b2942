//! Exit and status codes of sysexits.h, as sendmail, makemap and the rewrite engine use them
//! (a ruleset's status in `== Ruleset … status N`, a map lookup's in `/map`).

pub const OK: i32 = 0;
pub const USAGE: i32 = 64;
pub const DATAERR: i32 = 65;
pub const NOINPUT: i32 = 66;
pub const NOUSER: i32 = 67;
/// EX_NOHOST; sendmail's EX_NOTFOUND ("no match" in `/map`) is the same number.
pub const NOHOST: i32 = 68;
pub const NOTFOUND: i32 = NOHOST;
pub const UNAVAILABLE: i32 = 69;
pub const SOFTWARE: i32 = 70;
pub const OSERR: i32 = 71;
pub const OSFILE: i32 = 72;
pub const CANTCREAT: i32 = 73;
pub const IOERR: i32 = 74;
pub const TEMPFAIL: i32 = 75;
pub const PROTOCOL: i32 = 76;
pub const NOPERM: i32 = 77;
pub const CONFIG: i32 = 78;
