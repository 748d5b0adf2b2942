//! `cfmap query` (postmap -q style lookups) and `cfmap dump` checked against real
//! `makemap -u`, on maps built by cfmap and by real makemap.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const MAKEMAP: &str = "/usr/sbin/makemap";

/// Run a program in `dir` with `stdin`; (stdout, stderr, exit code).
fn run_in(dir: &Path, prog: &str, args: &[&str], stdin: &[u8]) -> (Vec<u8>, String, i32) {
    let mut child = Command::new(prog)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn cfmap(dir: &Path, args: &[&str], stdin: &[u8]) -> (Vec<u8>, String, i32) {
    run_in(dir, env!("CARGO_BIN_EXE_cfmap"), args, stdin)
}

fn makemap(dir: &Path, args: &[&str], stdin: &[u8]) -> (Vec<u8>, String, i32) {
    run_in(dir, MAKEMAP, args, stdin)
}

const SOURCE: &[u8] =
    b"# access\nCyberPromo.COM REJECT\nhoney@sweeties.com  ERROR:550 go away \nuser@x.example OK\n";

/// Build `name` of type `ty` with `cfmap makemap`.
fn build(dir: &Path, ty: &str, name: &str, extra: &[&str], src: &[u8]) {
    let mut args = vec!["makemap"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[ty, name]);
    let (_, err, code) = cfmap(dir, &args, src);
    assert_eq!(code, 0, "cfmap makemap {args:?}: {err}");
}

#[test]
fn one_key_found_and_not_found_every_type() {
    let d = tempfile::tempdir().unwrap();
    for ty in ["hash", "btree", "dbm", "cdb"] {
        build(d.path(), ty, ty, &[], SOURCE);
        let (out, err, code) = cfmap(d.path(), &["query", ty, ty, "cyberpromo.com"], b"");
        assert_eq!(
            (out.as_slice(), err.as_str(), code),
            (&b"REJECT\n"[..], "", 0),
            "{ty}"
        );
        // Keys are folded as the build folded them.
        let (out, _, code) = cfmap(d.path(), &["query", ty, ty, "CYBERPROMO.com"], b"");
        assert_eq!((out.as_slice(), code), (&b"REJECT\n"[..], 0), "{ty}");
        // Inner and trailing blanks of the value are kept.
        let (out, _, code) = cfmap(d.path(), &["query", ty, ty, "honey@sweeties.com"], b"");
        assert_eq!(
            (out.as_slice(), code),
            (&b"ERROR:550 go away \n"[..], 0),
            "{ty}"
        );
        let (out, err, code) = cfmap(d.path(), &["query", ty, ty, "nobody"], b"");
        assert_eq!(
            (out.as_slice(), err.as_str(), code),
            (&b""[..], "", 1),
            "{ty}"
        );
    }
}

#[test]
fn several_keys_print_found_values_and_fail_unless_all_found() {
    let d = tempfile::tempdir().unwrap();
    build(d.path(), "hash", "m", &[], SOURCE);
    let (out, _, code) = cfmap(
        d.path(),
        &["query", "hash", "m", "user@x.example", "cyberpromo.com"],
        b"",
    );
    assert_eq!((out.as_slice(), code), (&b"OK\nREJECT\n"[..], 0));
    let (out, _, code) = cfmap(
        d.path(),
        &["query", "hash", "m", "user@x.example", "nobody"],
        b"",
    );
    assert_eq!((out.as_slice(), code), (&b"OK\n"[..], 1));
}

#[test]
fn batch_from_stdin() {
    let d = tempfile::tempdir().unwrap();
    build(d.path(), "btree", "m", &[], SOURCE);
    let (out, err, code) = cfmap(
        d.path(),
        &["query", "btree", "m", "-"],
        b"nobody\nUser@X.example\r\ncyberpromo.com\n\nlast-without-newline",
    );
    assert_eq!(err, "");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "User@X.example\tOK\ncyberpromo.com\tREJECT\n"
    );
    assert_eq!(code, 0, "at least one found");
    let (out, _, code) = cfmap(d.path(), &["query", "btree", "m", "-"], b"a\nb\n");
    assert_eq!((out.as_slice(), code), (&b""[..], 1), "none found");
    let (out, _, code) = cfmap(d.path(), &["query", "btree", "m", "-"], b"");
    assert_eq!((out.as_slice(), code), (&b""[..], 1), "no keys at all");
    // Keys on the command line come first, in the same KEY<TAB>VALUE form.
    let (out, _, code) = cfmap(
        d.path(),
        &["query", "btree", "m", "user@x.example", "-"],
        b"nobody\n",
    );
    assert_eq!((out.as_slice(), code), (&b"user@x.example\tOK\n"[..], 0));
}

#[test]
fn no_fold_with_f() {
    let d = tempfile::tempdir().unwrap();
    build(d.path(), "cdb", "m", &["-f"], b"MixedCase v1\nlower v2\n");
    let q = |args: &[&str]| {
        let mut a = vec!["query"];
        a.extend_from_slice(args);
        let (out, _, code) = cfmap(d.path(), &a, b"");
        (String::from_utf8(out).unwrap(), code)
    };
    assert_eq!(q(&["-f", "cdb", "m", "MixedCase"]), ("v1\n".into(), 0));
    assert_eq!(q(&["-f", "cdb", "m", "mixedcase"]), ("".into(), 1));
    // Without -f the key is folded, and the map holds only the unfolded one.
    assert_eq!(q(&["cdb", "m", "MixedCase"]), ("".into(), 1));
    assert_eq!(q(&["cdb", "m", "LOWER"]), ("v2\n".into(), 0));
}

#[test]
fn trailing_nul_with_n() {
    // A map as `makemap -N` stores it: NUL after every key and value.
    let d = tempfile::tempdir().unwrap();
    for (ty, t) in [
        ("cdb", cfmap::maps::MapType::Cdb),
        ("dbm", cfmap::maps::MapType::Dbm),
        ("hash", cfmap::maps::MapType::Hash),
        ("btree", cfmap::maps::MapType::Btree),
    ] {
        let mut b = cfmap::maps::builder(t, &d.path().join(ty)).unwrap();
        b.insert(b"example.com\0", b"RELAY\0").unwrap();
        b.commit().unwrap();
        let (out, _, code) = cfmap(d.path(), &["query", "-N", ty, ty, "Example.COM"], b"");
        assert_eq!((out.as_slice(), code), (&b"RELAY\n"[..], 0), "{ty}");
        let (out, _, code) = cfmap(d.path(), &["query", ty, ty, "example.com"], b"");
        assert_eq!(
            (out.as_slice(), code),
            (&b""[..], 1),
            "{ty}: no NUL without -N"
        );
    }
}

#[test]
fn real_makemap_n_map_answers_with_n() {
    if !support::need_tool(MAKEMAP) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for ty in ["hash", "btree"] {
        let (_, err, code) = makemap(d.path(), &["-N", ty, ty], SOURCE);
        assert_eq!(code, 0, "{err}");
        let (out, _, code) = cfmap(
            d.path(),
            &["query", "-N", ty, ty, "user@x.example", "cyberpromo.com"],
            b"",
        );
        assert_eq!((out.as_slice(), code), (&b"OK\nREJECT\n"[..], 0), "{ty}");
    }
}

#[test]
fn missing_and_damaged_maps() {
    let d = tempfile::tempdir().unwrap();
    for ty in ["hash", "btree", "dbm", "cdb"] {
        let (out, err, code) = cfmap(d.path(), &["query", ty, "nope", "k"], b"");
        assert_eq!((out.as_slice(), code), (&b""[..], 66), "{ty}: {err}");
        assert!(err.starts_with("cfmap: ") && err.contains("nope"), "{err}");
    }
    std::fs::write(d.path().join("bad.db"), vec![0x55u8; 8192]).unwrap();
    std::fs::write(d.path().join("bad.cdb"), b"short").unwrap();
    for ty in ["hash", "btree", "cdb"] {
        let (out, err, code) = cfmap(d.path(), &["query", ty, "bad", "k"], b"");
        assert_eq!((out.as_slice(), code), (&b""[..], 65), "{ty}: {err}");
        assert!(err.contains("bad."), "{err}");
    }
    let (_, _, code) = cfmap(d.path(), &["query", "ndbm", "m", "k"], b"");
    assert_eq!(code, 64, "unknown type is a usage error");
    let (_, _, code) = cfmap(d.path(), &["query", "hash", "m"], b"");
    assert_eq!(code, 64, "a key is required");
}

// ---- cfmap dump against real makemap -u ----

/// Inputs for real makemap: (makemap options, source).
fn dump_cases() -> Vec<(Vec<&'static str>, Vec<u8>)> {
    let mut many = Vec::new();
    for i in 0..3000 {
        writeln!(
            many,
            "Key{i:05}@Example.com value number {i} {}",
            "x".repeat(i % 70)
        )
        .unwrap();
    }
    vec![
        (vec![], SOURCE.to_vec()),
        (vec!["-N"], SOURCE.to_vec()),
        (vec!["-f"], b"MiXeD v\nmixed w\n".to_vec()),
        (vec!["-d"], b"k v1\nk v2\nj v3\nk v4\n".to_vec()),
        (vec!["-r"], b"k v1\nk v2\n".to_vec()),
        (vec!["-e"], b"empty\nk v\n".to_vec()),
        (vec!["-t", ":"], b"a b:c d\n:empty key\n".to_vec()),
        (
            vec![],
            b"big "
                .iter()
                .copied()
                .chain([b'v'; 1000])
                .chain(*b"\n")
                .collect(),
        ),
        (vec![], b"k\xe9 v\xff\n".to_vec()),
        (vec![], many),
    ]
}

fn assert_same_dump(dir: &Path, ty: &str, name: &str, what: &str) {
    let (want, werr, wcode) = makemap(dir, &["-u", ty, name], b"");
    let (have, herr, hcode) = cfmap(dir, &["dump", ty, name], b"");
    assert_eq!(
        (wcode, hcode),
        (0, 0),
        "{what}: makemap: {werr} cfmap: {herr}"
    );
    assert!(
        want == have,
        "{what}: cfmap dump differs from makemap -u:\n--- makemap -u\n{}\n--- cfmap dump\n{}",
        String::from_utf8_lossy(&want),
        String::from_utf8_lossy(&have)
    );
    // -N changes nothing in makemap -u's output; same for cfmap dump.
    let (want_n, _, _) = makemap(dir, &["-u", "-N", ty, name], b"");
    let (have_n, _, _) = cfmap(dir, &["dump", "-N", ty, name], b"");
    assert!(want_n == want && have_n == have, "{what}: -N");
    let (want_t, _, _) = makemap(dir, &["-u", "-t", "|", ty, name], b"");
    let (have_t, _, _) = cfmap(dir, &["dump", "-t", "|", ty, name], b"");
    assert!(want_t == have_t, "{what}: -t");
}

#[test]
fn dump_matches_makemap_u_on_maps_real_makemap_built() {
    if !support::need_tool(MAKEMAP) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for ty in ["btree", "hash"] {
        for (i, (opts, src)) in dump_cases().into_iter().enumerate() {
            let name = format!("{ty}{i}");
            let mut args = opts.clone();
            args.extend_from_slice(&[ty, &name]);
            let (_, err, code) = makemap(d.path(), &args, &src);
            assert_eq!(code, 0, "makemap {args:?}: {err}");
            assert_same_dump(d.path(), ty, &name, &format!("makemap {args:?}"));
        }
    }
}

#[test]
fn dump_matches_makemap_u_on_maps_cfmap_built() {
    if !support::need_tool(MAKEMAP) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for ty in ["btree", "hash"] {
        for (i, (opts, src)) in dump_cases().into_iter().enumerate() {
            // Options the cfmap makemap of this build does not have yet are left out;
            // a build that refuses the options is skipped, not failed.
            let name = format!("{ty}{i}");
            let mut args = vec!["makemap"];
            args.extend_from_slice(&opts);
            args.extend_from_slice(&[ty, &name]);
            let (_, err, code) = cfmap(d.path(), &args, &src);
            if code == 64 || err.contains("not supported") {
                eprintln!("note: cfmap {args:?} not supported yet: {err}");
                continue;
            }
            assert_eq!(code, 0, "cfmap {args:?}: {err}");
            assert_same_dump(d.path(), ty, &name, &format!("cfmap {args:?}"));
        }
        // Values and keys with NUL bytes inside and at the end (makemap input cannot
        // have them; another writer can): both print C strings.
        let name = format!("{ty}-nul");
        let t: cfmap::maps::MapType = ty.parse().unwrap();
        let mut b = cfmap::maps::builder(t, &d.path().join(&name)).unwrap();
        b.insert(b"a\0", b"one\0").unwrap();
        b.insert(b"b", b"two\0hidden").unwrap();
        b.insert(b"c\0tail", b"three").unwrap();
        b.commit().unwrap();
        assert_same_dump(d.path(), ty, &name, "NUL bytes");
    }
}

/// The vectors recorded from real makemap (`../shared/testvectors/{btree,hash}/*.u`,
/// where present) are what cfmap dump prints for the matching `.db` files.
#[test]
fn dump_matches_recorded_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testvectors");
    if !root.is_dir() {
        eprintln!("note: {} not present; skipping", root.display());
        return;
    }
    let mut n = 0;
    for ty in ["btree", "hash"] {
        let Ok(entries) = std::fs::read_dir(root.join(ty)) else {
            continue;
        };
        for e in entries {
            let u = e.unwrap().path();
            if u.extension().is_none_or(|x| x != "u") {
                continue;
            }
            let db = u.with_extension("db");
            if !db.exists() {
                continue;
            }
            let want = std::fs::read(&u).unwrap();
            let (have, err, code) = cfmap(
                root.join(ty).as_path(),
                &["dump", ty, db.to_str().unwrap()],
                b"",
            );
            assert_eq!(code, 0, "{}: {err}", db.display());
            assert!(
                want == have,
                "{}: cfmap dump differs from the .u",
                db.display()
            );
            n += 1;
        }
    }
    assert!(n > 0, "no vectors found under {}", root.display());
}
