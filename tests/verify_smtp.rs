//! `cfmap verify` against a scripted SMTP responder on 127.0.0.1: each reply class, the
//! EHLO→HELO fallback, multi-line replies, timeouts, refused connections, malformed
//! replies, addresses with control bytes, the cache and the mailertable route.

mod verify_support;

use std::time::Duration;

use verify_support::{Responder, Step, accepting, cfmap, closed_port, say};

fn server(r: &Responder) -> String {
    format!("127.0.0.1:{}", r.port)
}

fn fields(line: &str) -> Vec<&str> {
    line.split('\t').collect()
}

#[test]
fn accepted_recipient_is_valid_and_cached_then_served_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(accepting(&["250 2.1.5 Ok"]));
    let s = server(&r);
    let args = [
        "verify",
        "--cache",
        "rcpt",
        "--server",
        &s,
        "--helo",
        "relay.test",
        "--sender",
        "probe@relay.test",
        "<Alice@Example.COM>",
    ];
    let (out, err, code) = cfmap(tmp.path(), &args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        fields(out.trim_end()),
        [
            "<Alice@Example.COM>",
            "CONTINUE",
            "250",
            "2.1.5",
            "Ok",
            &format!("server {s}")
        ]
    );
    assert_eq!(
        r.lines(0),
        [
            "EHLO relay.test",
            "MAIL FROM:<probe@relay.test>",
            "RCPT TO:<Alice@Example.COM>",
            "QUIT"
        ]
    );
    // The cache holds the lower-cased address with a decimal time.
    let (list, _, code) = cfmap(tmp.path(), &["cache", "list", "rcpt"]);
    assert_eq!(code, 0);
    let f = fields(list.trim_end());
    assert_eq!(f[0], "alice@example.com");
    assert!(
        f[1].len() >= 10 && f[1].bytes().all(|b| b.is_ascii_digit()),
        "{list}"
    );
    assert_eq!(f[3], "fresh");
    // Second time: from the cache, no new connection, even with the server gone.
    let gone = format!("127.0.0.1:{}", closed_port());
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--cache",
            "rcpt",
            "--server",
            &gone,
            "alice@example.com",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let f = fields(out.trim_end());
    assert_eq!(&f[1..4], ["CONTINUE", "250", "2.1.5"]);
    assert!(f[4].starts_with("accepted before, at "), "{out}");
    assert_eq!(f[5], "cache");
    assert_eq!(r.connections(), 1);
}

#[test]
fn rejected_recipient_is_invalid_and_never_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(accepting(&[
        "550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown",
    ]));
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--cache",
            "c",
            "--server",
            &server(&r),
            "carol@example.com",
        ],
    );
    assert_eq!(code, 67, "{out}");
    assert_eq!(
        &fields(out.trim_end())[1..5],
        [
            "REJECT",
            "550",
            "5.1.1",
            "<carol@example.com>: Recipient address rejected: User unknown"
        ]
    );
    let (list, _, _) = cfmap(tmp.path(), &["cache", "list", "c"]);
    assert_eq!(list, "");
}

#[test]
fn busy_mailbox_is_a_temporary_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(accepting(&["450 4.2.1 Mailbox busy"]));
    let (out, _, code) = cfmap(tmp.path(), &["verify", "--server", &server(&r), "b@x.org"]);
    assert_eq!(code, 75, "{out}");
    assert_eq!(
        &fields(out.trim_end())[1..5],
        ["TEMPFAIL", "450", "4.2.1", "Mailbox busy"]
    );
}

#[test]
fn multi_line_replies_are_joined_and_the_dsn_taken_from_the_first_line() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(accepting(&[
        "550-5.1.1 The mailbox you tried",
        "550-5.1.1 does not exist.",
        "550 5.1.1 Check the address.",
    ]));
    let (out, _, code) = cfmap(tmp.path(), &["verify", "--server", &server(&r), "x@y.org"]);
    assert_eq!(code, 67);
    assert_eq!(
        &fields(out.trim_end())[1..5],
        [
            "REJECT",
            "550",
            "5.1.1",
            "The mailbox you tried does not exist. Check the address."
        ]
    );
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(vec![
        say("220 old.test SMTP"),
        Step::Expect("EHLO"),
        say("502 5.5.2 Command not recognized"),
        Step::Expect("HELO old.test.client"),
        say("250 old.test"),
        Step::Expect("MAIL FROM:<>"),
        say("250 Ok"),
        Step::Expect("RCPT TO:<a@b.org>"),
        say("251 User not local; will forward"),
        Step::Expect("QUIT"),
        say("221 Bye"),
    ]);
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--helo",
            "old.test.client",
            "--server",
            &server(&r),
            "a@b.org",
        ],
    );
    assert_eq!(code, 0, "{out}");
    // No DSN in the reply: the class default.
    assert_eq!(
        &fields(out.trim_end())[1..5],
        ["CONTINUE", "251", "2.0.0", "User not local; will forward"]
    );
    assert_eq!(
        r.lines(0),
        [
            "EHLO old.test.client",
            "HELO old.test.client",
            "MAIL FROM:<>",
            "RCPT TO:<a@b.org>",
            "QUIT"
        ]
    );
}

#[test]
fn a_silent_server_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(vec![
        say("220 slow.test"),
        Step::Expect("EHLO"),
        Step::Sleep(Duration::from_secs(5)),
    ]);
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--timeout",
            "0.5",
            "--server",
            &server(&r),
            "a@b.org",
        ],
    );
    assert_eq!(code, 75);
    let f = fields(out.trim_end());
    assert_eq!(&f[1..4], ["TEMPFAIL", "451", "4.4.2"]);
    assert!(f[4].contains("did not answer in time (EHLO)"), "{out}");
}

#[test]
fn a_refused_connection_is_a_temporary_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let s = format!("127.0.0.1:{}", closed_port());
    let (out, _, code) = cfmap(tmp.path(), &["verify", "--server", &s, "a@b.org"]);
    assert_eq!(code, 75);
    let f = fields(out.trim_end());
    assert_eq!(&f[1..4], ["TEMPFAIL", "451", "4.4.1"]);
    assert!(
        f[4].contains("cannot connect") && f[4].contains("refused"),
        "{out}"
    );
}

#[test]
fn malformed_replies_are_temporary_failures() {
    for (script, needle) in [
        (vec![say("hello there")], "greeting"),
        (
            vec![
                say("220 ok"),
                Step::Expect("EHLO"),
                say("250-a"),
                say("251 b"),
            ],
            "EHLO",
        ),
        (
            vec![say("220 ok"), Step::Expect("EHLO"), say("999 what")],
            "EHLO",
        ),
        (
            vec![
                say("220 ok"),
                Step::Expect("EHLO"),
                Step::Raw(&[b'2'; 5000]),
            ],
            "EHLO",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let r = Responder::start(script);
        let (out, _, code) = cfmap(tmp.path(), &["verify", "--server", &server(&r), "a@b.org"]);
        assert_eq!(code, 75, "{out}");
        let f = fields(out.trim_end());
        assert_eq!(&f[1..4], ["TEMPFAIL", "451", "4.5.0"], "{out}");
        assert!(
            f[4].contains(&format!("malformed reply ({needle})")),
            "{out}"
        );
    }
}

#[test]
fn a_vanishing_server_is_a_temporary_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(vec![
        say("220 ok"),
        Step::Expect("EHLO"),
        say("250 ok"),
        Step::Expect("MAIL"),
        Step::Close,
    ]);
    let (out, _, code) = cfmap(tmp.path(), &["verify", "--server", &server(&r), "a@b.org"]);
    assert_eq!(code, 75);
    let f = fields(out.trim_end());
    assert_eq!(&f[1..4], ["TEMPFAIL", "451", "4.4.2"]);
    assert!(f[4].contains("closed the connection (MAIL FROM)"), "{out}");
}

#[test]
fn refusals_before_rcpt_are_temporary_not_rejections() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(vec![
        say("220 ok"),
        Step::Expect("EHLO"),
        say("250 ok"),
        Step::Expect("MAIL"),
        say("553 5.7.1 Sender rejected"),
        Step::Expect("QUIT"),
        say("221 Bye"),
    ]);
    let (out, _, code) = cfmap(tmp.path(), &["verify", "--server", &server(&r), "a@b.org"]);
    assert_eq!(code, 75, "{out}");
    let f = fields(out.trim_end());
    assert_eq!(&f[1..4], ["TEMPFAIL", "451", "4.3.0"]);
    assert!(
        f[4].contains("refused MAIL FROM: 553 5.7.1 Sender rejected"),
        "{out}"
    );
    assert_eq!(r.lines(0).last().unwrap(), "QUIT");
    // A 421 greeting: same, and nothing but QUIT is sent.
    let r = Responder::start(vec![say("421 4.3.2 Too busy"), Step::Expect("QUIT")]);
    let (out, _, code) = cfmap(tmp.path(), &["verify", "--server", &server(&r), "a@b.org"]);
    assert_eq!(code, 75, "{out}");
    assert!(
        out.contains("refused greeting: 421 4.3.2 Too busy"),
        "{out}"
    );
    assert_eq!(r.lines(0), ["QUIT"]);
}

#[test]
fn control_bytes_never_reach_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(accepting(&["250 Ok"]));
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--format",
            "json",
            "--server",
            &server(&r),
            "a@b.org>\r\nDATA",
            "x\x01@b.org",
            "ok@b.org",
        ],
    );
    assert_eq!(code, 67, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["action"], "REJECT");
    assert_eq!(v[0]["code"], 501);
    assert_eq!(v[0]["dsn"], "5.1.3");
    assert_eq!(v[0]["recipient"], "a@b.org>??DATA");
    assert_eq!(v[0]["source"]["kind"], "local");
    assert_eq!(v[1]["action"], "REJECT");
    assert_eq!(v[2]["action"], "CONTINUE");
    assert_eq!(v[2]["source"]["kind"], "server");
    // Only the good address made a connection.
    assert_eq!(r.connections(), 1);
    assert_eq!(r.lines(0)[2], "RCPT TO:<ok@b.org>");
}

#[test]
fn expired_cache_entries_are_asked_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, err, code) = cfmap(
        tmp.path(),
        &["cache", "add", "c", "--time", "1000000000", "old@b.org"],
    );
    assert_eq!(code, 0, "{err}");
    let r = Responder::start(accepting(&["550 5.1.1 gone"]));
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--cache",
            "c",
            "--server",
            &server(&r),
            "old@b.org",
        ],
    );
    assert_eq!(code, 67, "{out}");
    assert_eq!(r.connections(), 1);
    // A long enough --max-age makes the old entry count.
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--cache",
            "c",
            "--max-age",
            "100000w",
            "--server",
            &server(&r),
            "old@b.org",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("accepted before, at 2001-09-09 01:46:40 UTC"),
        "{out}"
    );
    assert_eq!(r.connections(), 1);
}

#[test]
fn mailertable_brackets_route_to_the_host_and_parents_are_searched() {
    let tmp = tempfile::tempdir().unwrap();
    let r = Responder::start(accepting(&["250 2.1.5 Ok"]));
    let src = "example.com esmtp:[127.0.0.1]\n\
               .sub.example.com smtp:[127.0.0.1]\n\
               mx.org esmtp:mx.mx.org\n\
               gone.org error:5.1.2:550 Host unknown\n\
               local.org local:x\n";
    std::fs::write(tmp.path().join("mt"), src).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(tmp.path())
        .args(["makemap", "hash", "mt"])
        .stdin(std::fs::File::open(tmp.path().join("mt")).unwrap())
        .spawn()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let port = r.port.to_string();
    let (out, _, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--mailertable",
            "hash:mt",
            "--port",
            &port,
            "a@Example.com",
            "b@deep.sub.example.com",
            "c@other.net",
            "d@mx.org",
            "e@gone.org",
            "f@local.org",
        ],
    );
    assert_eq!(code, 75, "{out}");
    let lines: Vec<Vec<&str>> = out.lines().map(fields).collect();
    assert_eq!(&lines[0][1..3], ["CONTINUE", "250"]);
    assert_eq!(lines[0][5], format!("server 127.0.0.1:{port}"));
    assert_eq!(&lines[1][1..3], ["CONTINUE", "250"]);
    assert_eq!(&lines[2][1..4], ["TEMPFAIL", "451", "4.3.0"]);
    assert!(lines[2][4].contains("no mailertable entry for other.net"));
    assert!(lines[3][4].contains("MX lookup"), "{out}");
    assert_eq!(&lines[4][1..5], ["REJECT", "550", "5.1.2", "Host unknown"]);
    assert!(lines[5][4].contains("local mailer"), "{out}");
    assert_eq!(r.connections(), 2);
    assert_eq!(r.lines(1)[2], "RCPT TO:<b@deep.sub.example.com>");
}

#[test]
fn usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, err, code) = cfmap(tmp.path(), &["verify", "a@b.org"]);
    assert_eq!(code, 64);
    assert!(err.contains("one of --server or --mailertable"), "{err}");
    let (_, err, code) = cfmap(
        tmp.path(),
        &["verify", "--server", "h", "--helo", "a b", "a@b.org"],
    );
    assert_eq!(code, 64, "{err}");
    let (_, err, code) = cfmap(
        tmp.path(),
        &["verify", "--server", "h", "--sender", "x\ny@z", "a@b.org"],
    );
    assert_eq!(code, 64, "{err}");
    let (_, err, code) = cfmap(
        tmp.path(),
        &["verify", "--mailertable", "hash:missing", "a@b.org"],
    );
    assert_eq!(code, 78, "{err}");
}
