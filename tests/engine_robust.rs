//! Whatever a user types into `cfmap test`, the engine answers without panicking and
//! without looping: random bytes, long lines, metacharacter bytes, half-written
//! commands, on a configuration with lookups, calls, classes and recursion.

use cfmap::cf::{FileId, SourceFile};
use cfmap::engine::{Session, SessionOptions};
use cfmap::maps::lookup::NoMaps;
use proptest::prelude::*;

const CF: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nO BlankSub=.\n\
CXfoo.com bar a.b\nKmac macro\nKdq dequote\nKar arith\n\
S3\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\nR$+<@$+.>\t$@ $1<@$2>\n\
Sloop\nR$*\t$1 x\nSdeep\nR$*\t$: $>deep $1\n\
Scls\nR$* $=X $*\t$: <$1> <$2> <$3>\n\
Smaps\nR$*\t$: $(mac {M} $@ $1 $) $&M $(dq $1 $) $(ar + $@ 1 $@ $1 $) $(nosuch $1 $: d $)\n\
Scalls\nR$*\t$: $>3 $1 $>cls x $1\n\
S0\nR$+<@$=w>\t$#local $: $1\nR$+<@$+>\t$#esmtp $@ $2 $: $1 <@ $2>\nR$+\t$#local $: $1\n\
Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true $u\n\
Mesmtp, P=[IPC], F=mDFMuXa, S=0, R=0, A=TCP $h\n";

fn session_run(lines: &[Vec<u8>]) -> Vec<u8> {
    let file = SourceFile::new(FileId(0), "t.cf", CF.as_bytes());
    let syntax = cfmap::cf::parse(&file);
    let ir = cfmap::ir::compile(&syntax, &cfmap::ir::CompileOptions::default());
    let mut s = Session::new(&ir, Box::new(NoMaps), &SessionOptions::default());
    let mut out = s.take_output();
    for l in lines {
        s.command(l);
        out.extend(s.take_output());
    }
    out
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(b"3,0 ".to_vec()),
        Just(b"loop ".to_vec()),
        Just(b"deep ".to_vec()),
        Just(b"cls ".to_vec()),
        Just(b"maps ".to_vec()),
        Just(b"calls ".to_vec()),
        Just(b"/parse ".to_vec()),
        Just(b"/try esmtp ".to_vec()),
        Just(b"/map dq ".to_vec()),
        Just(b".DM".to_vec()),
        Just(b".CX".to_vec()),
        Just(b"$".to_vec()),
        Just(b"=S".to_vec()),
        Just(Vec::new()),
    ];
    let body = prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            prop::sample::select(b"<>@.,;:\"()\\$%!".to_vec()),
            Just(b'a'),
        ],
        0..300,
    );
    (prefix, body).prop_map(|(mut p, b)| {
        p.extend(b.into_iter().filter(|&c| c != b'\n'));
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(5), ..ProptestConfig::default() })]
    #[test]
    fn any_input_gets_an_answer(lines in prop::collection::vec(line(), 1..8)) {
        let out = session_run(&lines);
        // Trace output is bounded: the loop and recursion limits always stop a ruleset.
        prop_assert!(out.len() < 4_000_000);
    }
}

#[test]
fn limits_stop_runaway_rulesets() {
    let out = session_run(&[b"loop a".to_vec(), b"deep a".to_vec()]);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("Infinite loop in ruleset loop, rule 1"),
        "{text}"
    );
    assert!(
        text.contains("rewrite: excessive recursion (max 50), ruleset deep"),
        "{text}"
    );
}

/// A long run forgets its test lines' tokens now and then (the token table keeps at
/// most a few thousand of them): every line must still print what it prints in a fresh
/// session. 6,000 lines of unique words go past that limit several times.
#[test]
fn a_long_run_prints_what_fresh_sessions_print() {
    let lines: Vec<Vec<u8>> = (0..6000)
        .map(|i| {
            let l = match i % 4 {
                0 => format!("3,0 User{i} <u{i}@Host{i}.foo.com>"),
                1 => format!("cls w{i} a.b x{i}"),
                2 => format!("calls V{i}@z{i}"),
                _ => format!("maps k{i}"),
            };
            l.into_bytes()
        })
        .collect();
    let together = session_run(&lines);
    let mut apart = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let one = session_run(std::slice::from_ref(l));
        // A fresh session prints the banner-free start of the config first (nothing
        // here) and then the line: the same bytes as the line in the long run.
        if i == 0 {
            apart.extend(one);
        } else {
            apart.extend(one.into_iter().skip(session_run(&[]).len()));
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&together),
        String::from_utf8_lossy(&apart)
    );
}
