//! Parse, compile and lint arbitrary bytes, print the findings in every format and emit
//! the IR: none of it may panic, and every span must lie inside the file.

#![no_main]

use cfmap::cf::{self, FileId, SourceFile, Span};
use cfmap::ir::{self, CompileOptions};
use cfmap::lint::{self, Context, format};
use libfuzzer_sys::fuzz_target;

fn check_span(file: &SourceFile, span: Span) {
    assert!(
        span.start <= span.end && span.end as usize <= file.text.len(),
        "span {span:?} outside the text ({} bytes)",
        file.text.len()
    );
    let (a, b) = file.locate_span(span);
    assert!(a.line >= 1 && a.column >= 1 && a <= b, "{a:?} {b:?}");
}

fuzz_target!(|data: &[u8]| {
    let file = SourceFile::new(FileId(0), "fuzz.cf", data);
    let syntax = cf::parse(&file);
    for p in &syntax.problems {
        check_span(&file, p.span);
    }
    let ir = ir::compile(&syntax, &CompileOptions::default());
    for p in &ir.problems {
        check_span(&file, p.span);
    }
    let ctx = Context {
        file: &file,
        syntax: &syntax,
        ir: &ir,
        check_files: false,
        base_dir: ".".into(),
    };
    let diags = lint::run(&ctx);
    for d in &diags {
        check_span(&file, d.span);
        for (s, _) in &d.labels {
            check_span(&file, *s);
        }
    }
    let reports = [format::FileReport {
        file: &file,
        diagnostics: &diags,
    }];
    for fmt in [
        format::Format::Short,
        format::Format::Json,
        format::Format::Github,
        format::Format::Human,
    ] {
        let mut out = Vec::new();
        format::write(&mut out, fmt, &reports, false).expect("write to a Vec");
    }
    let _ = ir::emit::text(&ir, &file);
    let _ = serde_json::to_string(&ir::emit::json(&ir, &file));
});
