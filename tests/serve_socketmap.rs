//! `cfmap serve` over real sockets: static map files of every type, verification against
//! a scripted SMTP responder, malformed and oversized netstrings, vanished and slow
//! clients, concurrent clients, reload on change and on SIGHUP, SIGTERM.

mod verify_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use verify_support::{Responder, accepting};

/// A running `cfmap serve`, stopped with SIGTERM when dropped.
struct Serve {
    child: Child,
    port: Option<u16>,
}

impl Serve {
    fn start(dir: &Path, args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cfmap"))
            .current_dir(dir)
            .arg("serve")
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        assert!(first.starts_with("cfmap serve: listening on "), "{first}");
        let port = first
            .trim_end()
            .strip_prefix("cfmap serve: listening on inet:")
            .and_then(|r| r.split('@').next())
            .map(|p| p.parse().unwrap());
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = stderr.read_to_string(&mut sink);
        });
        Serve { child, port }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port.unwrap())).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    fn signal(&self, sig: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> i32 {
        self.signal(libc::SIGTERM);
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

/// Sends one request, reads one reply netstring.
fn ask<S: Read + Write>(s: &mut S, req: &str) -> String {
    s.write_all(format!("{}:{req},", req.len()).as_bytes())
        .unwrap();
    read_reply(s).expect("a reply")
}

fn read_reply<S: Read>(s: &mut S) -> Option<String> {
    let mut len = String::new();
    let mut b = [0u8; 1];
    loop {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        if b[0] == b':' {
            break;
        }
        len.push(b[0] as char);
    }
    let mut payload = vec![0u8; len.parse().unwrap()];
    s.read_exact(&mut payload).unwrap();
    s.read_exact(&mut b).unwrap();
    assert_eq!(b[0], b',');
    Some(String::from_utf8(payload).unwrap())
}

/// Whether the server closed the connection (EOF or reset) within the read timeout.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 16];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

fn makemap(dir: &Path, ty: &str, name: &str, src: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(dir)
        .args(["makemap", ty, name])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(src.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn every_static_map_type_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let src = "example.com RELAY\nspam.org REJECT\n";
    for ty in ["hash", "btree", "dbm", "cdb"] {
        makemap(tmp.path(), ty, &format!("m_{ty}"), src);
    }
    let mut args = vec!["--listen", "inet:0@127.0.0.1"];
    let specs: Vec<String> = ["hash", "btree", "dbm", "cdb"]
        .iter()
        .map(|t| format!("{t}=implicit:x").replace("implicit:x", &format!("{t}:m_{t}")))
        .collect();
    for s in &specs {
        args.push("--map");
        args.push(s);
    }
    let serve = Serve::start(tmp.path(), &args);
    let mut c = serve.connect();
    for ty in ["hash", "btree", "dbm", "cdb"] {
        assert_eq!(ask(&mut c, &format!("{ty} example.com")), "OK RELAY");
        assert_eq!(ask(&mut c, &format!("{ty} spam.org")), "OK REJECT");
        assert_eq!(ask(&mut c, &format!("{ty} other.net")), "NOTFOUND ");
    }
    assert_eq!(
        ask(&mut c, "nosuch example.com"),
        "PERM no map named nosuch"
    );
    assert_eq!(ask(&mut c, "hash"), "PERM request is not NAME KEY");
    // Keys are looked up as sent: sendmail lower-cases them itself.
    assert_eq!(ask(&mut c, "hash EXAMPLE.COM"), "NOTFOUND ");
    drop(c);
    assert_eq!(serve.stop(), 0);
}

#[test]
fn verification_answers_and_uses_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = Responder::start(accepting(&["250 2.1.5 Ok"]));
    let server = format!("127.0.0.1:{}", ok.port);
    let serve = Serve::start(
        tmp.path(),
        &[
            "--listen",
            "inet:0@127.0.0.1",
            "--verify",
            "vrc",
            "--cache",
            "rcpt",
            "--server",
            &server,
        ],
    );
    let mut c = serve.connect();
    assert_eq!(ask(&mut c, "vrc <alice@example.com>"), "OK OK");
    assert_eq!(ok.connections(), 1);
    assert_eq!(ask(&mut c, "vrc alice@example.com"), "OK OK");
    assert_eq!(ok.connections(), 1, "second answer from the cache");
    // A key that could smuggle a command: refused, no connection.
    assert!(ask(&mut c, "vrc a@b.c>\r\nDATA").starts_with("PERM 501 5.1.3 bad address"));
    assert_eq!(ok.connections(), 1);
    drop(c);
    serve.stop();

    let no = Responder::start(accepting(&["550 5.1.1 User unknown"]));
    let busy = Responder::start(accepting(&["450 4.2.1 Mailbox busy"]));
    for (r, want) in [(&no, "NOTFOUND "), (&busy, "TEMP 450 4.2.1 Mailbox busy")] {
        let server = format!("127.0.0.1:{}", r.port);
        let serve = Serve::start(
            tmp.path(),
            &[
                "--listen",
                "inet:0@127.0.0.1",
                "--verify",
                "vrc",
                "--cache",
                "rcpt",
                "--server",
                &server,
            ],
        );
        let mut c = serve.connect();
        assert_eq!(ask(&mut c, "vrc carol@example.com"), want);
        drop(c);
        serve.stop();
    }
    let (list, _, _) = verify_support::cfmap(tmp.path(), &["cache", "list", "rcpt"]);
    assert_eq!(list.lines().count(), 1, "{list}");
}

#[test]
fn malformed_and_oversized_requests_close_only_that_client() {
    let tmp = tempfile::tempdir().unwrap();
    makemap(tmp.path(), "hash", "m", "k v\n");
    let serve = Serve::start(
        tmp.path(),
        &[
            "--listen",
            "inet:0@127.0.0.1",
            "--map",
            "m=hash:m",
            "--max-request",
            "100",
        ],
    );
    let mut good = serve.connect();
    assert_eq!(ask(&mut good, "m k"), "OK v");
    for (bad, why) in [
        (
            &b"hello"[..],
            "malformed netstring: expected a digit, got byte 0x68",
        ),
        (
            b"3:m k;",
            "malformed netstring: expected ',' after 3 bytes, got byte 0x3b",
        ),
        (b"101:", "request of 101 bytes is over the limit of 100"),
        (
            b"99999999999999999999:",
            "request of 999 bytes is over the limit of 100",
        ),
    ] {
        let mut c = serve.connect();
        c.write_all(bad).unwrap();
        assert_eq!(read_reply(&mut c).unwrap(), format!("PERM {why}"));
        assert!(closed(&mut c));
    }
    // A client that vanishes in the middle of a request.
    let mut c = serve.connect();
    c.write_all(b"10:m k").unwrap();
    drop(c);
    // The first client was never disturbed.
    assert_eq!(ask(&mut good, "m k"), "OK v");
    let mut again = serve.connect();
    assert_eq!(ask(&mut again, "m nothing"), "NOTFOUND ");
}

#[test]
fn slow_and_idle_clients_are_closed() {
    let tmp = tempfile::tempdir().unwrap();
    makemap(tmp.path(), "hash", "m", "k v\n");
    let serve = Serve::start(
        tmp.path(),
        &[
            "--listen",
            "inet:0@127.0.0.1",
            "--map",
            "m=hash:m",
            "--idle-timeout",
            "1",
            "--request-timeout",
            "1",
        ],
    );
    let mut slow = serve.connect();
    slow.write_all(b"3:m").unwrap();
    assert!(closed(&mut slow), "half a request, then nothing");
    let mut idle = serve.connect();
    assert_eq!(ask(&mut idle, "m k"), "OK v");
    assert!(closed(&mut idle), "idle after a request");
}

#[test]
fn concurrent_clients_all_get_their_own_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let src: String = (0..500).map(|i| format!("key{i} value{i}\n")).collect();
    makemap(tmp.path(), "cdb", "m", &src);
    let serve = Serve::start(
        tmp.path(),
        &["--listen", "inet:0@127.0.0.1", "--map", "m=cdb:m"],
    );
    let port = serve.port.unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
                for i in 0..200 {
                    let k = (i * 7 + t * 31) % 600;
                    let want = if k < 500 {
                        format!("OK value{k}")
                    } else {
                        "NOTFOUND ".to_string()
                    };
                    assert_eq!(ask(&mut c, &format!("m key{k}")), want);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn maps_are_reloaded_when_changed_and_on_sighup_and_sigterm_removes_the_socket() {
    let tmp = tempfile::tempdir().unwrap();
    makemap(tmp.path(), "btree", "m", "k one\n");
    let sock = tmp.path().join("s.sock");
    let listen = format!("unix:{}", sock.display());
    let serve = Serve::start(tmp.path(), &["--listen", &listen, "--map", "m=btree:m"]);
    let mut c = UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(ask(&mut c, "m k"), "OK one");
    // makemap renames a new file into place: seen at the next lookup.
    makemap(tmp.path(), "btree", "m", "k two\n");
    assert_eq!(ask(&mut c, "m k"), "OK two");
    // A change the stamp check cannot see (same size, mtime put back): SIGHUP.
    let db = tmp.path().join("m.db");
    let before = std::fs::metadata(&db).unwrap();
    let mtime = before.modified().unwrap();
    let ino = std::os::unix::fs::MetadataExt::ino(&before);
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes.windows(3).position(|w| w == b"two").unwrap();
    bytes[at..at + 3].copy_from_slice(b"TWO");
    std::fs::write(&db, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&db).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&db).unwrap()),
        ino
    );
    assert_eq!(
        ask(&mut c, "m k"),
        "OK two",
        "the open map is still the old view"
    );
    serve.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(ask(&mut c, "m k"), "OK TWO");
    drop(c);
    assert!(sock.exists());
    assert_eq!(serve.stop(), 0);
    assert!(!sock.exists(), "the socket file is removed at SIGTERM");
}

#[test]
fn a_client_in_the_middle_of_a_request_does_not_stop_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    makemap(tmp.path(), "hash", "m", "k v\n");
    let serve = Serve::start(
        tmp.path(),
        &["--listen", "inet:0@127.0.0.1", "--map", "m=hash:m"],
    );
    let mut c = serve.connect();
    c.write_all(b"5:m").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(serve.stop(), 0);
    assert!(closed(&mut c));
}

#[test]
fn only_loopback_unless_told_and_bad_setups() {
    let tmp = tempfile::tempdir().unwrap();
    makemap(tmp.path(), "hash", "m", "k v\n");
    let run = |args: &[&str]| verify_support::cfmap(tmp.path(), args);
    let (_, err, code) = run(&["serve", "--listen", "inet:0@0.0.0.0", "--map", "m=hash:m"]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("not a loopback address"), "{err}");
    let (_, err, code) = run(&[
        "serve",
        "--listen",
        "inet:0@127.0.0.1",
        "--map",
        "m=hash:missing",
    ]);
    assert_eq!(code, 78, "{err}");
    let (_, err, code) = run(&["serve", "--listen", "inet:0@127.0.0.1"]);
    assert_eq!(code, 64, "{err}");
    let (_, err, code) = run(&["serve", "--listen", "inet:0@127.0.0.1", "--map", "m"]);
    assert_eq!(code, 64, "{err}");
    let (_, err, code) = run(&["serve", "--listen", "inet:0@127.0.0.1", "--verify", "v"]);
    assert_eq!(code, 64, "{err}");
}

#[test]
fn clients_over_the_limit_are_closed_and_the_limit_frees_up() {
    let tmp = tempfile::tempdir().unwrap();
    makemap(tmp.path(), "hash", "m", "k v\n");
    let serve = Serve::start(
        tmp.path(),
        &[
            "--listen",
            "inet:0@127.0.0.1",
            "--map",
            "m=hash:m",
            "--max-clients",
            "1",
        ],
    );
    let mut first = serve.connect();
    assert_eq!(ask(&mut first, "m k"), "OK v");
    let mut second = serve.connect();
    second.write_all(b"3:m k,").unwrap();
    assert!(closed(&mut second), "a second client is over the limit");
    assert_eq!(ask(&mut first, "m k"), "OK v");
    drop(first);
    // The first client's thread notices the close and frees its place.
    let mut third = None;
    for _ in 0..100 {
        let mut c = serve.connect();
        c.write_all(b"3:m k,").unwrap();
        if let Some(r) = read_reply(&mut c) {
            third = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(third.as_deref(), Some("OK v"));
}
