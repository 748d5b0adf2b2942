fn main() {
    let path = std::env::args().nth(1).unwrap();
    let raw = std::fs::read(&path).unwrap();
    let f = cfmap::cf::SourceFile::new(cfmap::cf::FileId(0), &path, &raw);
    let syn = cfmap::cf::parse(&f);
    for p in &syn.problems {
        let l = f.locate(p.span.start as usize);
        println!("P {}:{} {:?} {}", l.line, l.column, p.kind, p.message);
    }
    let ir = cfmap::ir::compile(&syn, &Default::default());
    for p in &ir.problems {
        let l = f.locate(p.span.start as usize);
        println!("I {}:{} {:?} {}", l.line, l.column, p.kind, p.message);
    }
    if std::env::args().nth(2).is_some() {
        print!("{}", cfmap::ir::emit::text(&ir, &f));
    }
}
