//! The shape memos (which rule matches next, the tapes of whole calls, the lookup memo)
//! answer exactly as searching every rule and running every call does: the same lines
//! through a session with them and one without print the same bytes.

use cfmap::cf::{FileId, SourceFile};
use cfmap::engine::{Session, SessionOptions};
use proptest::prelude::*;

// A long ruleset (for the scan memo), a short one called as `$>3` (tapes), classes used
// by both, a lookup, a macro read and `$>` in the input.
const CF: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nO BlankSub=.\n\
CXfoo.com bar a.b x\nCYlocal\nKdq dequote\n\
S3\nR$@\t$@ <@>\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\nR$+<@$+.>\t$@ $1<@$2>\nR$+%$+<@$=X>\t$1<@$2>\nR$=Y<@$+>\t$: local $1 <@$2>\n\
Slong\nR<@>\t$@ null\nR$*\t$: $>3 $1\nR$+<@$=w>\t$: mine $1\nR$+<@$=X>\t$: x $1 <@$2>\nR$+<@$=X.$=X>\t$: xx $1\n\
R$~X<@$+>\t$: notx $1 <@$2>\nR$-.$+<@$+>\t$: dotted $1 $2\nR$*$=Y$*\t$: y $1 $2 $3\nR$*$#$*\t$: meta $1\n\
Rx $+\t$: $(dq $1 $) $&M\nRmine $*\t$@ $1\nR$+\t$#local $: $1\n\
S0\nR$+<@$=w>\t$#local $: $1\nR$+<@$+>\t$#esmtp $@ $2 $: $1 <@ $2>\nR$+\t$#local $: $1\n\
Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true $u\n\
Mesmtp, P=[IPC], F=mDFMuXa, S=0, R=0, A=TCP $h\n";

/// The output of `lines` on configuration `cf`, with map files from `dir`.
fn run_cf(cf: &str, dir: Option<&std::path::Path>, lines: &[Vec<u8>], no_memos: bool) -> Vec<u8> {
    let file = SourceFile::new(FileId(0), "t.cf", cf.as_bytes());
    let syntax = cfmap::cf::parse(&file);
    let ir = cfmap::ir::compile(&syntax, &cfmap::ir::CompileOptions::default());
    // Without a directory of files the maps that need none (dequote) still answer.
    let maps: Box<dyn cfmap::maps::lookup::Maps> = Box::new(cfmap::maps::classes::MapSet::new(
        &ir,
        &cfmap::maps::classes::MapOptions {
            base_dir: dir
                .unwrap_or(std::path::Path::new("/nonexistent"))
                .to_path_buf(),
            ..Default::default()
        },
    ));
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

/// `lines` through `run` with the memos and without them: the same bytes, returned.
fn alike(run: impl Fn(&[Vec<u8>], bool) -> Vec<u8>, lines: &[Vec<u8>]) -> String {
    let with = String::from_utf8_lossy(&run(lines, false)).into_owned();
    let without = String::from_utf8_lossy(&run(lines, true)).into_owned();
    assert_eq!(with, without);
    with
}

/// `lines` `repeat` times over.
fn repeated(lines: &[Vec<u8>], repeat: usize) -> Vec<Vec<u8>> {
    (0..repeat).flat_map(|_| lines.iter().cloned()).collect()
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
        alike(run, &repeated(&lines, repeat));
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
    let out = alike(run, &lines);
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
O HostsFile=hosts\nO ServiceSwitchFile=switch\nKjunk btree junk\nKpct hash -a.A pct\nKold dbm old\n\
Shost\nR$+<@$+>\t$: $1 <@ $[ $2 $]>\n\
S3\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\n\
Scheck\nR$*\t$: $>3 $1\nR$+<@$+>\t$: <$(junk $2 $@ $1 $: NONE $)> $1 <@$2>\n\
R<NONE> $+ <@ $- . $+>\t$: <$(junk $3 $@ $1 $: NONE $)> $1 <@$2.$3>\n\
R<$*> $+ <@ $+>\t$: <$1> <$(pct $3 $@ $2 $: P $)> <$(old $2 $: $2 $3 $)> $2\n";

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
        "[192.0.2.1]",
        "[127.0.0.1]",
        "[bad]",
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
    // With a name server among the host services a name not in the hosts file times
    // out (and says so); without one it is not found, and a replay may ask for it.
    for services in ["hosts dns files\n", "hosts files\n"] {
        std::fs::write(d.path().join("switch"), services).unwrap();
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(32));
        runner
            .run(&prop::collection::vec(map_line(), 1..60), |lines| {
                alike(|l, no| run_maps(d.path(), l, no), &repeated(&lines, 2));
                Ok(())
            })
            .unwrap();
    }
}

// Tapes of calls that call others, look up and read macros: `$&M` in a pattern, a `$>`
// target from a macro (a ruleset the caller's shape did not take in), recursion that
// reaches sendmail's limit at different depths under a caller that is never recorded
// (its lookup names no map and prints).
const TAPE_CF: &str = "V10/Berkeley\nDjvm.example.com\nDMexample.com\nDRdom\n\
O OperatorChars=.:%@!^/[]+\nO BlankSub=.\nCXfoo.com bar\nKdq dequote\n\
Km1 btree m1\nKm2 btree m2\n\
S3\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\n\
Sdom\nR$* <@ $&M > $*\t$: here $1\nR$* <@ $=X > $*\t$: x $1\nR$* <@ $+ > $*\t$: $(dq $1 $) <@ $2 >\n\
Sdyn\nR$*\t$: $>3 $1\nR$+ <@ $+ >\t$: $> $&R $1 <@ $2 >\n\
Srec\nR$+ . $+\t$: $>rec $2\nR$+\t$@ $1\n\
Sdeep\nR$+ ! $+\t$: $(nomap $1 $) $>deep $2\nR$+\t$: $>rec $1\n\
Stop\nR$*\t$: $>3 $1\nR$+<@$+>\t$: $>dom $1 <@ $2 >\n\
Scall\nR$- $*\t$: $> $1 $2\nSlook\nR$- $+\t$: $( $1 $2 $)\n";

/// [`TAPE_CF`]'s output for `lines`; its maps `m1` and `m2` hold the same keys with
/// different values.
fn run_tapes(lines: &[Vec<u8>], no_memos: bool) -> Vec<u8> {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        makemap(
            d.path(),
            "btree",
            "m1",
            "a@b ONE\nc@d ONE-MORE\nbar FIRST\n",
        );
        makemap(
            d.path(),
            "btree",
            "m2",
            "a@b TWO\nc@d TWO-MORE\nbar SECOND\n",
        );
        d
    });
    run_cf(TAPE_CF, Some(dir.path()), lines, no_memos)
}

fn tape_line() -> impl Strategy<Value = Vec<u8>> {
    let domain = prop::sample::select(vec![
        "example.com",
        "EXAMPLE.com",
        "foo.com",
        "bar",
        "example.net",
        "net",
        "x.example.com",
        "other.com",
    ]);
    let address = || (word(), domain.clone()).prop_map(|(u, d)| format!("{u}@{d}"));
    // Rulesets and maps named by the input.
    let named = prop::sample::select(vec!["3", "dom", "rec", "dyn", "dq", "m1", "m2", "nomap"]);
    let named_again = prop::sample::select(vec!["m1", "m2", "dq"]);
    prop_oneof![
        6 => (prop::sample::select(vec!["top", "dyn", "3,dom", "top,dyn"]), address())
            .prop_map(|(rs, a)| format!("{rs} {a}").into_bytes()),
        2 => (prop::sample::select(vec!["call", "look"]), named, address())
            .prop_map(|(rs, n, a)| format!("{rs} {n} {a}").into_bytes()),
        2 => (named_again, prop::sample::select(vec!["a@b", "c@d", "bar", "x@y"]))
            .prop_map(|(n, k)| format!("look {n} {k}").into_bytes()),
        3 => (0usize..52, 0usize..56).prop_map(|(bangs, dots)| {
            format!("deep {}{}c", "a!".repeat(bangs), "b.".repeat(dots)).into_bytes()
        }),
        1 => prop::sample::select(vec!["example.net", "net", "foo.com", "EXAMPLE.COM"])
            .prop_map(|v| format!(".DM{v}").into_bytes()),
        1 => prop::sample::select(vec!["dom", "3", "rec"])
            .prop_map(|v| format!(".DR{v}").into_bytes()),
        1 => word().prop_map(|w| format!(".CX{w}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn tapes_play_back_what_the_calls_print(
        lines in prop::collection::vec(tape_line(), 1..60),
        repeat in 2usize..4,
    ) {
        alike(run_tapes, &repeated(&lines, repeat));
    }
}

#[test]
fn tokens_of_a_macros_value_keep_calls_apart() {
    // `$&M` is example.com: "example" and "other" are alike to every literal and
    // class, not to the macro.
    let lines: Vec<Vec<u8>> = ["top a@example.com", "top a@other.com"]
        .iter()
        .cycle()
        .take(6)
        .map(|l| l.as_bytes().to_vec())
        .collect();
    let with = alike(run_tapes, &lines);
    assert_eq!(with.matches("dom              returns: here a").count(), 3);
}

#[test]
fn a_map_named_by_the_input_is_asked_each_time() {
    let lines: Vec<Vec<u8>> = ["look m1 a@b", "look m2 a@b", "look m1 c@d", "look m2 c@d"]
        .iter()
        .cycle()
        .take(12)
        .map(|l| l.as_bytes().to_vec())
        .collect();
    let with = alike(run_tapes, &lines);
    assert_eq!(with.matches("returns: TWO\n").count(), 3);
}

#[test]
fn recursion_limits_hold_at_every_depth() {
    // The same `rec` input below ever deeper callers: past 50 levels sendmail stops.
    let mut lines = Vec::new();
    for _ in 0..3 {
        for bangs in [0usize, 10, 20, 30, 40, 45, 48, 49, 50, 51] {
            let l = format!("deep {}{}c", "a!".repeat(bangs), "b.".repeat(3));
            lines.push(l.into_bytes());
        }
        // Enough lines for `deep` to stop being recorded, then again.
        for _ in 0..70 {
            lines.push(b"deep a!b.c".to_vec());
        }
    }
    let with = alike(run_tapes, &lines);
    // Each round of lines reaches the limit as often as the first.
    let n = with.matches("excessive recursion").count();
    assert!(n >= 3 && n.is_multiple_of(3), "{n}");
}
#[test]
fn a_call_the_callers_shape_did_not_foresee_is_not_played_back() {
    // `dyn` calls `dom` by a macro's value: its shape does not tell the members of X
    // (or the tokens of `$&M`) from other tokens, so its runs with `dom` are not kept.
    let lines: Vec<Vec<u8>> = ["bar", "net", "example.com", "foo.com", "other.com"]
        .iter()
        .cycle()
        .take(15)
        .map(|d| format!("dyn a@{d}").into_bytes())
        .collect();
    let with = alike(run_tapes, &lines);
    assert_eq!(with.matches("dom              returns: x a").count(), 6);
    assert_eq!(with.matches("dom              returns: here a").count(), 3);
}
