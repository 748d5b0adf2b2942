//! `cfmap serve`: the socket map server (sendmail's `socket` map class, Postfix's
//! `socketmap`). Signals are handled here: SIGTERM and SIGINT stop the server, SIGHUP
//! makes it reopen its map files.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::Args;

use super::verify::VerifyOptions;
use crate::serve::{Config, Control, Listen, MapSpec, ServeError, Server};
use crate::sysexits;

/// Answer sendmail socket map (and Postfix socketmap) lookups from map files and from
/// recipient verification.
///
/// Requests are netstrings `NAME KEY`; each --map NAME=TYPE:PATH answers from a map file
/// (btree, hash, dbm or cdb, as built by makemap), and --verify NAME answers by verifying
/// KEY as a recipient, with the verification options of cfmap-verify(1) (--cache,
/// --server or --mailertable, ...). Replies: `OK VALUE` (a verified recipient: `OK OK`),
/// `NOTFOUND ` (not in the map; an invalid recipient), `TEMP REASON` (a map that cannot
/// be read; a temporary verification failure), `PERM REASON` (no such map; a malformed
/// request or address).
#[derive(Debug, Args)]
#[command(after_long_help = SERVE_AFTER_HELP)]
pub struct ServeArgs {
    /// Where to listen: unix:PATH, inet:PORT@ADDR (default ADDR 127.0.0.1) or
    /// inet6:PORT@ADDR; ADDR must be numeric and loopback unless --allow-remote.
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub listen: Listen,
    /// A map file to answer for: NAME=TYPE:PATH (PATH as on a K line; suffixes added).
    #[arg(long = "map", value_name = "NAME=TYPE:PATH")]
    pub maps: Vec<String>,
    /// The map name answered by recipient verification.
    #[arg(long = "verify", value_name = "NAME")]
    pub verify: Option<String>,
    #[command(flatten)]
    pub options: VerifyOptions,
    /// Largest request accepted, in bytes; a longer one gets PERM and the connection is
    /// closed.
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    pub max_request: usize,
    /// Close a client that sends nothing for this long (units s, m, h, d, w).
    #[arg(long, value_name = "AGE", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: std::time::Duration,
    /// Close a client whose request is not complete this long after its first byte.
    #[arg(long, value_name = "AGE", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: std::time::Duration,
    /// Most clients served at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_clients: usize,
    /// Allow an inet address that is not loopback.
    #[arg(long)]
    pub allow_remote: bool,
}

const SERVE_AFTER_HELP: &str = "\
SENDMAIL:
  In the .cf (in a .mc: the K line under LOCAL_CONFIG, the ruleset under
  LOCAL_RULESETS); this is what tests/serve_oracle_sendmail.rs runs in real sendmail:

    Kvrc socket -T<TEMP> inet:7777@127.0.0.1
    Scheck_rcpt
    R$*\t\t\t$: < $(vrc $1 $: NOTFOUND $) >
    R< OK >\t\t\t$@ OK
    R< NOTFOUND >\t\t$#error $@ 5.1.1 $: \"550 User unknown\"
    R< $* < TEMP > >\t$#error $@ 4.4.3 $: \"451 Cannot verify now\"

  sendmail sends the key lower-cased unless the K line has -f, with the angle brackets
  check_rcpt was given; verification drops them.

POSTFIX:
  smtpd_recipient_restrictions = ..., check_recipient_access socketmap:inet:127.0.0.1:7777:vrc, ...
  A verified recipient is the access action OK; an invalid one is not found (the next
  restriction decides); a temporary failure makes Postfix answer 451.

SIGNALS:
  SIGTERM, SIGINT  stop accepting, finish the requests in hand, remove a unix socket, exit 0.
  SIGHUP           reopen every map file (files are also reopened when they change).

EXIT STATUS:
  0 stopped by a signal; 64 usage error; 78 (EX_CONFIG) a map cannot be opened or the
  address is not allowed; 71 (EX_OSERR) the socket cannot be bound.

EXAMPLES:
    cfmap serve --listen inet:7777@127.0.0.1 --map access=hash:/etc/mail/access \\
        --verify vrc --cache /var/spool/cfmap/rcpt --mailertable hash:/etc/mail/mailertable";

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::verify::parse_duration(s)
}

static CONTROL: Control = Control {
    shutdown: AtomicBool::new(false),
    reload: AtomicU64::new(0),
};

extern "C" fn on_stop(_: libc::c_int) {
    CONTROL.shutdown.store(true, Ordering::SeqCst);
}

extern "C" fn on_hup(_: libc::c_int) {
    CONTROL.reload.fetch_add(1, Ordering::SeqCst);
}

fn install(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: the handlers only touch atomics (async-signal-safe); the sigaction struct
    // is zeroed and then filled as sigaction(2) describes.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

fn map_spec(s: &str) -> Result<(String, MapSpec), String> {
    let bad = || format!("--map {s:?}: expected NAME=TYPE:PATH");
    let (name, rest) = s.split_once('=').ok_or_else(bad)?;
    let (ty, path) = rest.split_once(':').ok_or_else(bad)?;
    let ty = ty.parse().map_err(|e| format!("--map {s:?}: {e}"))?;
    Ok((
        name.to_string(),
        MapSpec::File {
            ty,
            path: PathBuf::from(path),
        },
    ))
}

pub fn run(args: ServeArgs) -> i32 {
    let mut maps = Vec::new();
    for m in &args.maps {
        match map_spec(m) {
            Ok(x) => maps.push(x),
            Err(e) => {
                eprintln!("cfmap serve: {e}");
                return sysexits::USAGE;
            }
        }
    }
    if let Some(name) = &args.verify {
        match args.options.settings() {
            Ok(s) => maps.push((name.clone(), MapSpec::Verify(Box::new(s)))),
            Err(e) => {
                eprintln!("cfmap serve: {e}");
                return sysexits::USAGE;
            }
        }
    }
    if maps.is_empty() {
        eprintln!("cfmap serve: nothing to serve: give --map or --verify");
        return sysexits::USAGE;
    }
    let config = Config {
        listen: args.listen.clone(),
        maps,
        max_request: args.max_request,
        idle_timeout: args.idle_timeout,
        request_timeout: args.request_timeout,
        max_clients: args.max_clients.max(1),
        allow_remote: args.allow_remote,
    };
    install(libc::SIGTERM, on_stop);
    install(libc::SIGINT, on_stop);
    install(libc::SIGHUP, on_hup);
    let server = match Server::bind(config) {
        Ok(s) => s,
        Err(e @ ServeError::Config(_)) => {
            eprintln!("cfmap serve: {e}");
            return sysexits::CONFIG;
        }
        Err(e) => {
            eprintln!("cfmap serve: {e}");
            return sysexits::OSERR;
        }
    };
    match (&args.listen, server.local_addr()) {
        (_, Some(a)) => eprintln!("cfmap serve: listening on inet:{}@{}", a.port(), a.ip()),
        (Listen::Unix(p), None) => eprintln!("cfmap serve: listening on unix:{}", p.display()),
        _ => {}
    }
    match server.run(&CONTROL) {
        Ok(()) => sysexits::OK,
        Err(e) => {
            eprintln!("cfmap serve: {e}");
            sysexits::OSERR
        }
    }
}
