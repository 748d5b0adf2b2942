//! `cfmap test` options that have no sendmail counterpart: `-e`, `-d`, `--root`,
//! `--passwd`, `--map`; and the framing of its output (banner, prompts, final prompt).

mod support;

use support::cfmap;

const CF: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\n\
Kjunk btree /etc/mail/junkmail\nKpw user -vdir x\nKdir ldap -k uid=%0 -v mail\n\
Sjunk\nR$*\t$: $(junk $1 $: OK $)\nSpw\nR$*\t$: $(pw $1 $: none $)\n\
Sdir\nR$*\t$: $(dir $1 $: nobody $)\n\
S0\nR$*\t$#local $: $1\nMlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n";

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.cf"), CF).unwrap();
    d
}

#[test]
fn eval_lines_and_framing() {
    let d = setup();
    let (out, _, code) = cfmap(d.path(), &["test", "-C", "t.cf", "-e", "$j", "-e", "$w"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)\n\
         Enter <ruleset> <address>\n> vm.example.com\n> vm\n> "
    );
}

#[test]
fn defines_apply_after_the_configuration() {
    let d = setup();
    let (out, _, _) = cfmap(
        d.path(),
        &[
            "test",
            "-C",
            "t.cf",
            "-d",
            "j=mx.example.net",
            "-d",
            "{client_addr}=192.0.2.1",
            "-e",
            "$j",
            "-e",
            "${client_addr}",
        ],
    );
    assert!(out.ends_with("> mx.example.net\n> 192.0.2.1\n> "), "{out}");
}

#[test]
fn root_prefixes_absolute_map_paths() {
    let d = setup();
    let etc = d.path().join("root/etc/mail");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("junkmail"), "spam.example JUNK\n").unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(&etc)
        .args(["makemap", "btree", "junkmail"])
        .stdin(std::fs::File::open(etc.join("junkmail")).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let (out, _, _) = cfmap(
        d.path(),
        &[
            "test",
            "-C",
            "t.cf",
            "--root",
            "root",
            "-e",
            "junk spam.example",
            "-e",
            "junk ham.example",
        ],
    );
    assert!(out.contains("junk             returns: JUNK\n"), "{out}");
    assert!(out.contains("junk             returns: OK\n"), "{out}");
    // Without --root the absolute path is read as it is, and there is no such file.
    let (out, _, _) = cfmap(d.path(), &["test", "-C", "t.cf", "-e", "junk spam.example"]);
    assert!(
        out.contains("btree map \"junk\": missing map file /etc/mail/junkmail.db"),
        "{out}"
    );
}

#[test]
fn passwd_file_for_user_maps() {
    let d = setup();
    std::fs::write(
        d.path().join("passwd"),
        "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n",
    )
    .unwrap();
    let (out, _, _) = cfmap(
        d.path(),
        &[
            "test", "-C", "t.cf", "--passwd", "passwd", "-e", "pw alice", "-e", "pw bob",
        ],
    );
    assert!(
        out.contains("pw               returns: / home / alice\n"),
        "{out}"
    );
    assert!(out.contains("pw               returns: none\n"), "{out}");
}

#[test]
fn map_files_stand_in_for_network_services() {
    let d = setup();
    std::fs::write(d.path().join("dir.txt"), "alice alice@mail.example.com\n").unwrap();
    let (out, _, _) = cfmap(
        d.path(),
        &[
            "test",
            "-C",
            "t.cf",
            "--map",
            "dir=dir.txt",
            "-e",
            "dir alice",
            "-e",
            "dir bob",
        ],
    );
    assert!(
        out.contains("dir              returns: alice @ mail . example . com\n"),
        "{out}"
    );
    assert!(out.contains("dir              returns: nobody\n"), "{out}");
}

#[test]
fn usage_errors() {
    let d = setup();
    let (_, err, code) = cfmap(d.path(), &["test", "-C", "t.cf", "-d", "novalue"]);
    assert_eq!(code, 64, "{err}");
    let (_, _, code) = cfmap(d.path(), &["test", "-C", "nosuch.cf"]);
    assert_eq!(code, 66);
}
