//! The shape memos (which rule matches next, what a whole call gives) answer exactly as
//! searching every rule and running every call does: the same lines through a session
//! with them and one without print the same bytes.

use cfmap::cf::{FileId, SourceFile};
use cfmap::engine::{Session, SessionOptions};
use cfmap::maps::lookup::NoMaps;
use proptest::prelude::*;

// A long ruleset (the scan memo starts at 8 rules), a pure one (called as `$>3`, the
// call memo), classes used by both, a lookup, a macro read and `$>` in the input.
const CF: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nO BlankSub=.\n\
CXfoo.com bar a.b x\nCYlocal\nKdq dequote\n\
S3\nR$@\t$@ <@>\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\nR$+<@$+.>\t$@ $1<@$2>\nR$+%$+<@$=X>\t$1<@$2>\nR$=Y<@$+>\t$: local $1 <@$2>\n\
Slong\nR<@>\t$@ null\nR$*\t$: $>3 $1\nR$+<@$=w>\t$: mine $1\nR$+<@$=X>\t$: x $1 <@$2>\nR$+<@$=X.$=X>\t$: xx $1\n\
R$~X<@$+>\t$: notx $1 <@$2>\nR$-.$+<@$+>\t$: dotted $1 $2\nR$*$=Y$*\t$: y $1 $2 $3\nR$*$#$*\t$: meta $1\n\
Rx $+\t$: $(dq $1 $) $&M\nRmine $*\t$@ $1\nR$+\t$#local $: $1\n\
S0\nR$+<@$=w>\t$#local $: $1\nR$+<@$+>\t$#esmtp $@ $2 $: $1 <@ $2>\nR$+\t$#local $: $1\n\
Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true $u\n\
Mesmtp, P=[IPC], F=mDFMuXa, S=0, R=0, A=TCP $h\n";

/// The output of `lines` on configuration `cf`, with maps from `dir` (none without).
fn run_cf(cf: &str, dir: Option<&std::path::Path>, lines: &[Vec<u8>], no_memos: bool) -> Vec<u8> {
    let file = SourceFile::new(FileId(0), "t.cf", cf.as_bytes());
    let syntax = cfmap::cf::parse(&file);
    let ir = cfmap::ir::compile(&syntax, &cfmap::ir::CompileOptions::default());
    let maps: Box<dyn cfmap::maps::lookup::Maps> = match dir {
        Some(dir) => Box::new(cfmap::maps::classes::MapSet::new(
            &ir,
            &cfmap::maps::classes::MapOptions {
                base_dir: dir.to_path_buf(),
                ..Default::default()
            },
        )),
        None => Box::new(NoMaps),
    };
    let opts = SessionOptions {
        no_memos,
        ..SessionOptions::default()
    };
    let mut s = Session::new(&ir, maps, &opts);
    let mut out = s.take_output();
    for l in lines {
        s.command(l);
        out.extend(s.take_output());
    }
    out
}

fn run(lines: &[Vec<u8>], no_memos: bool) -> Vec<u8> {
    run_cf(CF, None, lines, no_memos)
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}[0-9]{0,3}",
        prop::sample::select(vec![
            "foo", "com", "bar", "a", "b", "x", "local", "Local", "vm", "example", "FOO",
            "\"q u\"", "$#", "$>", "(c)", "\\x",
        ])
        .prop_map(String::from),
    ]
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let domain = prop_oneof![
        Just("foo.com".to_string()),
        Just("bar".to_string()),
        Just("a.b".to_string()),
        Just("x.x".to_string()),
        Just("vm.example.com".to_string()),
        Just("vm.example.com.".to_string()),
        (word(), word()).prop_map(|(a, b)| format!("{a}.{b}")),
    ];
    let address =
        (word(), domain.clone(), domain, 0usize..6).prop_map(|(u, d, d2, form)| match form {
            0 => format!("{u}@{d}"),
            1 => format!("<{u}@{d}>"),
            2 => format!("{u}%{d}@{d2}"),
            3 => format!("Some Body <{u}@{d}>"),
            4 => format!("{u}.{u}@{d}"),
            _ => u,
        });
    prop_oneof![
        8 => (prop::sample::select(vec!["long", "3", "3,0", "long,0"]), address)
            .prop_map(|(rs, a)| format!("{rs} {a}").into_bytes()),
        1 => word().prop_map(|w| format!(".CX{w}").into_bytes()),
        1 => word().prop_map(|w| format!(".DM{w}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn memos_answer_as_the_full_search_does(
        lines in prop::collection::vec(line(), 1..80),
        repeat in 1usize..4,
    ) {
        // Lines again (and again): the second time round the memos answer.
        let all: Vec<Vec<u8>> = (0..repeat).flat_map(|_| lines.iter().cloned()).collect();
        let with = run(&all, false);
        let without = run(&all, true);
        prop_assert_eq!(String::from_utf8_lossy(&with), String::from_utf8_lossy(&without));
    }
}

#[test]
fn memos_keep_each_lines_own_tokens() {
    // Same shapes, different users and domains: each result carries its own.
    let lines: Vec<Vec<u8>> = [
        "long ann@foo.com",
        "long bob@bar",
        "long cy@foo.com",
        "long dee@bar",
    ]
    .iter()
    .map(|l| l.as_bytes().to_vec())
    .collect();
    let out = String::from_utf8(run(&lines, false)).unwrap();
    assert_eq!(out, String::from_utf8(run(&lines, true)).unwrap());
    for user in ["ann", "bob", "cy", "dee"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("long") && l.contains("returns") && l.contains(user)),
            "{user} missing from\n{out}"
        );
    }
}

// File maps (the lookup memo): values of different lengths and with `%` (which read on
// into libdb's return buffer, left by earlier lookups), `%1` arguments, `-a`, a key
// that is not there, a dbm map beside the btree ones.
const MAP_CF: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nO BlankSub=.\n\
O HostsFile=hosts\nKjunk btree junk\nKpct hash -a.A pct\nKold dbm old\n\
Shost\nR$+<@$+>\t$: $1 <@ $[ $2 $]>\n\
S3\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\n\
Scheck\nR$*\t$: $>3 $1\nR$+<@$+>\t$: <$(junk $2 $@ $1 $: NONE $)> $1 <@$2>\n\
R<NONE> $+ <@ $- . $+>\t$: <$(junk $3 $@ $1 $: NONE $)> $1 <@$2.$3>\n\
R<$*> $+ <@ $+>\t$: <$1> <$(pct $3 $@ $2 $: P $)> <$(old $2 $)> $2\n";

fn makemap(dir: &std::path::Path, ty: &str, name: &str, src: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .args(["makemap", ty, name])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
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

fn run_maps(dir: &std::path::Path, lines: &[Vec<u8>], no_memos: bool) -> Vec<u8> {
    run_cf(MAP_CF, Some(dir), lines, no_memos)
}

fn map_line() -> impl Strategy<Value = Vec<u8>> {
    let domain = prop::sample::select(vec![
        "junk.com",
        "Junk.COM",
        "sub.junk.com",
        "long.org",
        "other.org",
        "pct.net",
        "a.pct.net",
        "none.io",
        "x.y.z",
        "q",
    ]);
    (word(), domain, 0usize..4).prop_map(|(u, d, form)| {
        match form {
            0 => format!("check {u}@{d}"),
            3 => format!("3,host {u}@{d}"),
            1 => format!("check <{u}@{d}>"),
            _ => format!("/map junk {d}"),
        }
        .into_bytes()
    })
}

#[test]
fn file_map_answers_are_reused_as_the_map_gives_them() {
    let d = tempfile::tempdir().unwrap();
    makemap(
        d.path(),
        "btree",
        "junk",
        "junk.com JUNKMAIL\nlong.org A-MUCH-LONGER-VALUE-THAN-THE-OTHERS\npct.net %1%1%1%1%\nx.y.z %1-and-%0\nq v%\nother.org ANOTHER-LONG-VALUE-WITH-A-DIFFERENT-TAIL\n",
    );
    makemap(
        d.path(),
        "hash",
        "pct",
        "junk.com 100%\npct.net 5%1\nlong.org plain\n",
    );
    makemap(d.path(), "dbm", "old", "alice A\nbob B%\n");
    std::fs::write(
        d.path().join("hosts"),
        "127.0.0.1 localhost\n192.0.2.1 long.org junk\n192.0.2.2 pct.net.example pct.net\n",
    )
    .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    runner
        .run(&prop::collection::vec(map_line(), 1..60), |lines| {
            let all: Vec<Vec<u8>> = lines.iter().chain(lines.iter()).cloned().collect();
            let with = run_maps(d.path(), &all, false);
            let without = run_maps(d.path(), &all, true);
            prop_assert_eq!(
                String::from_utf8_lossy(&with),
                String::from_utf8_lossy(&without)
            );
            Ok(())
        })
        .unwrap();
}
