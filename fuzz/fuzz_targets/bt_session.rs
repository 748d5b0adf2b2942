//! Arbitrary bytes as `cfmap test` input lines (after a small fixed configuration), and
//! the same bytes as a configuration run on a few fixed lines: the engine must answer
//! every line without panicking, and print the same with its memos (scan memo, tapes,
//! lookup memo) as without them.

#![no_main]

use cfmap::cf::{self, FileId, SourceFile};
use cfmap::engine::{Session, SessionOptions};
use cfmap::ir::{self, CompileOptions};
use cfmap::maps::classes::{MapOptions, MapSet};
use libfuzzer_sys::fuzz_target;

const CF: &[u8] = b"V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\n\
CXfoo.com bar\nKmac macro\nKdq dequote\nKar arith\n\
S3\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\nSloop\nR$*\t$1 x\nSdeep\nR$*\t$: $>deep $1\n\
Smaps\nR$*\t$: $(mac {M} $@ $1 $) $&M $(dq $1 $) $(ar + $@ 1 $@ $1 $)\n\
S0\nR$+<@$+>\t$#esmtp $@ $2 $: $1\nR$+\t$#local $: $1\n\
Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true $u\n";

fn run(cf_bytes: &[u8], lines: &[&[u8]]) {
    let file = SourceFile::new(FileId(0), "fuzz.cf", cf_bytes);
    let syntax = cf::parse(&file);
    let ir = ir::compile(&syntax, &CompileOptions::default());
    let output = |no_memos: bool| {
        // The maps that need no files (dequote, macro, arith) answer.
        let maps = MapSet::new(
            &ir,
            &MapOptions {
                base_dir: "/nonexistent".into(),
                ..Default::default()
            },
        );
        let opts = SessionOptions {
            no_memos,
            ..Default::default()
        };
        let mut s = Session::new(&ir, Box::new(maps), &opts);
        let mut out = s.take_output();
        // Each line twice: the second time the memos answer.
        for l in lines.iter().flat_map(|l| [l, l]) {
            s.command(l);
            out.extend(s.take_output());
        }
        out
    };
    assert!(output(false) == output(true), "the memos changed the output");
}

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    run(CF, &lines);
    run(
        data,
        &[
            b"3,0 a@b.c",
            b"0 <x@y>",
            b"=M",
            b"$=w",
            b"/parse a@b",
            b"/try local a",
        ],
    );
});
