//! Differential test of the map classes (`cfmap::maps::classes::MapSet`) against real
//! sendmail: each `testdata/classes/NAME.cf` with its `/map` and `/canon` commands in
//! `NAME.in` is answered by cfmap, emulating what `sendmail -bt` prints for those commands
//! (read-time messages, the banner, open errors, `map_lookup: NAME (KEY) returns VALUE
//! (STATUS)` / `no match (STATUS)` with the lookup's own messages in between), and the
//! output must equal, byte for byte:
//!
//! * the golden `NAME.out` recorded from the real sendmail by `testdata/classes/regen.sh`
//!   (always, so the comparison runs where sendmail is not installed);
//! * a live run of the real sendmail on the same copy of the directory, when sendmail is
//!   installed and we are root (always under `CI=true`, where a missing tool fails).
//!
//! Both sides read a private copy of `testdata/classes`: sendmail sees it as `/srv` (bound
//! there in its own mount namespace by `bt.sh`) and as its current directory, cfmap with
//! `root` = the copy's parent and `base_dir` = the copy. The copy also gets what is not
//! committed: the maps `cfmap makemap` builds (`db/c-*`) and the directories of `dirs.sh`
//! (world- and group-writable, sticky, a symbolic link).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cfmap::cf::{FileId, SourceFile};
use cfmap::ir::{self, CompileOptions};
use cfmap::maps::classes::{MapOptions, MapSet};
use cfmap::maps::lookup::{MapEnv, Maps};

const CASES: &[&str] = &[
    "text", "regex", "regex2", "compute", "user", "host", "host2", "host3", "seq", "db", "net",
    "safe", "blame", "blame2", "gen",
];

fn classes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/classes")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The private copy: (tempdir guard, root, srv).
fn prepare() -> (tempfile::TempDir, PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let srv = root.join("srv");
    copy_dir(&classes_dir(), &srv);
    // bt.sh binds etc/hosts on /etc/hosts, where the C library's reverse lookups read.
    std::fs::create_dir(root.join("etc")).unwrap();
    std::fs::copy(srv.join("etc/hosts"), root.join("etc/hosts")).unwrap();
    let src = srv.join("db/src/plain.txt");
    for (flags, ty, name) in [
        (&[][..], "hash", "c-hash"),
        (&["-N"][..], "hash", "c-hashN"),
        (&[][..], "btree", "c-btree"),
        (&["-f"][..], "hash", "c-case"),
    ] {
        let status = Command::new(env!("CARGO_BIN_EXE_cfmap"))
            .arg("makemap")
            .args(flags)
            .arg(ty)
            .arg(srv.join("db").join(name))
            .stdin(std::fs::File::open(&src).unwrap())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "cfmap makemap {ty} {name}");
    }
    let status = Command::new("sh")
        .arg(srv.join("dirs.sh"))
        .arg(&srv)
        .status()
        .unwrap();
    assert!(status.success(), "dirs.sh");
    (t, root, srv)
}

/// What the engine would offer: messages appended to the output, `$m` of vm.example.com.
struct Env<'a> {
    out: &'a mut Vec<u8>,
}

impl MapEnv for Env<'_> {
    fn message(&mut self, text: &[u8]) {
        self.out.extend_from_slice(text);
        self.out.push(b'\n');
    }
    fn macro_value(&self, name: &[u8]) -> Option<Vec<u8>> {
        match name {
            b"m" => Some(b"example.com".to_vec()),
            b"j" | b"w" => Some(b"vm.example.com".to_vec()),
            _ => None,
        }
    }
    fn set_macro(&mut self, _name: &[u8], _value: Option<&[u8]>) {}
    fn blank_sub(&self) -> u8 {
        b' '
    }
}

/// cfmap's answer to one case, formatted as `sendmail -bt` prints it.
fn ours(root: &Path, srv: &Path, name: &str) -> Vec<u8> {
    let cf_name = format!("{name}.cf");
    let bytes = std::fs::read(srv.join(&cf_name)).unwrap();
    let file = SourceFile::new(FileId(0), &cf_name, &bytes);
    let syntax = cfmap::cf::parse(&file);
    let opts = CompileOptions {
        hostname: b"vm.example.com".to_vec(),
        ..CompileOptions::default()
    };
    let ir = ir::compile(&syntax, &opts);
    let mut set = MapSet::new(
        &ir,
        &MapOptions {
            base_dir: srv.to_path_buf(),
            root: Some(root.to_path_buf()),
            overrides: Vec::new(),
            passwd: Some(srv.join("etc/passwd")),
            // The golden files were recorded as root.
            uid: Some(0),
        },
    );
    let mut out = Vec::new();
    for (span, msg) in set.read_messages() {
        let line = file.locate(span.start as usize).line;
        out.extend_from_slice(format!("{cf_name}: line {line}: ").as_bytes());
        out.extend_from_slice(msg);
        out.push(b'\n');
    }
    out.extend_from_slice(
        b"ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)\nEnter <ruleset> <address>\n",
    );
    let input = std::fs::read(srv.join(format!("{name}.in"))).unwrap();
    for line in input.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        out.extend_from_slice(b"> ");
        let sp = line
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(line.len());
        let (cmd, mut p) = line.split_at(sp);
        while p.first().is_some_and(u8::is_ascii_whitespace) {
            p = &p[1..];
        }
        match cmd {
            b"/map" => {
                let end = p
                    .iter()
                    .position(|b| b.is_ascii_whitespace())
                    .unwrap_or(p.len());
                if end == p.len() {
                    out.extend_from_slice(b"No key specified\n");
                    continue;
                }
                let (map, key) = (&p[..end], &p[end + 1..]);
                let Some(index) = set.find(map) else {
                    out.extend_from_slice(b"Map named \"");
                    out.extend_from_slice(map);
                    out.extend_from_slice(b"\" not found\n");
                    continue;
                };
                let state = set.open(index, &mut Env { out: &mut out });
                if state == cfmap::maps::lookup::OpenState::Invalid {
                    out.extend_from_slice(b"Map named \"");
                    out.extend_from_slice(map);
                    out.extend_from_slice(b"\" not open\n");
                    continue;
                }
                out.extend_from_slice(b"map_lookup: ");
                out.extend_from_slice(map);
                out.extend_from_slice(b" (");
                out.extend_from_slice(key);
                out.extend_from_slice(b") ");
                let answer = set.lookup(index, key, &[key.to_vec()], &mut Env { out: &mut out });
                match answer.value {
                    Some(v) => {
                        out.extend_from_slice(b"returns ");
                        out.extend_from_slice(&v);
                        out.extend_from_slice(format!(" ({})\n", answer.status).as_bytes());
                    }
                    None => {
                        out.extend_from_slice(format!("no match ({})\n", answer.status).as_bytes())
                    }
                }
            }
            b"/canon" => {
                let host = &p[..p.len().min(255)];
                let canon = set
                    .canon(host, &mut Env { out: &mut out })
                    .unwrap_or_else(|| host.to_vec());
                out.extend_from_slice(b"getcanonname(");
                out.extend_from_slice(host);
                out.extend_from_slice(b") returns ");
                out.extend_from_slice(&canon);
                out.push(b'\n');
            }
            other => panic!(
                "{name}.in: unexpected command {}",
                String::from_utf8_lossy(other)
            ),
        }
    }
    out.extend_from_slice(b"> ");
    out
}

/// The first differing line, for the failure message.
fn first_difference(want: &[u8], got: &[u8]) -> String {
    let w: Vec<&[u8]> = want.split(|&b| b == b'\n').collect();
    let g: Vec<&[u8]> = got.split(|&b| b == b'\n').collect();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            let show = |x: Option<&&[u8]>| {
                x.map_or("<end>".to_string(), |l| {
                    String::from_utf8_lossy(l).into_owned()
                })
            };
            return format!(
                "line {}:\n  sendmail: {}\n  cfmap:    {}",
                i + 1,
                show(a),
                show(b)
            );
        }
    }
    "identical".into()
}

#[test]
fn map_classes_answer_as_the_golden_files_say() {
    let (_t, root, srv) = prepare();
    let mut failures = Vec::new();
    for name in CASES {
        let want = std::fs::read(classes_dir().join(format!("{name}.out"))).unwrap();
        let got = ours(&root, &srv, name);
        if want != got {
            failures.push(format!("{name}: {}", first_difference(&want, &got)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn map_classes_answer_as_live_sendmail_does() {
    if !cfmap_testkit::need_tool("sendmail")
        || !cfmap_testkit::need_tool("unshare")
        || !cfmap_testkit::need_root()
    {
        return;
    }
    let (_t, root, srv) = prepare();
    let mut failures = Vec::new();
    for name in CASES {
        let live = Command::new("sh")
            .arg(srv.join("bt.sh"))
            .arg(&srv)
            .arg(name)
            .output()
            .expect("run bt.sh");
        let got = ours(&root, &srv, name);
        if live.stdout != got {
            failures.push(format!("{name}: {}", first_difference(&live.stdout, &got)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
