fn main() {
    let path = std::env::args().nth(1).unwrap();
    let raw = std::fs::read(&path).unwrap();
    let t = std::time::Instant::now();
    let f = cfmap::cf::SourceFile::new(cfmap::cf::FileId(0), &path, &raw);
    let syn = cfmap::cf::parse(&f);
    let t1 = t.elapsed();
    let ir = cfmap::ir::compile(&syn, &Default::default());
    let t2 = t.elapsed();
    let ctx = cfmap::lint::Context {
        file: &f,
        syntax: &syn,
        ir: &ir,
        check_files: false,
        base_dir: ".".into(),
    };
    let d = cfmap::lint::run(&ctx);
    let t3 = t.elapsed();
    eprintln!(
        "parse {:?} compile {:?} lint {:?} diags {}",
        t1,
        t2 - t1,
        t3 - t2,
        d.len()
    );
    std::mem::forget((f, syn, ir, d));
}
