//! sendmail's map classes behind [`Maps`]: what `map.c`, `daemon.c` and `udb.c` do once the
//! rule wrapper has built a key.
//!
//! The model, as in sendmail: every K line is one map record; a map is opened on first use
//! ([`Maps::open`]), and the open either works, fails loudly (the message is printed once
//! and the map turns "bogus": every lookup is a temporary failure) or fails silently (an
//! optional `-o` map, or a map whose K line the class parser rejected: every lookup is
//! "not found"). After that the class lookup ([`Maps::lookup`]) answers `(value, status)`.
//!
//! What is shared by the classes that store values (`map_rewrite`):
//! * `%0`…`%9` in a stored value are replaced by the arguments (`%0` the key as given,
//!   `%1`… the `$@` arguments), `%%` is `%`, `%x` stays `%x`, a final `%` stays;
//! * the `-a` text is appended; with `-m` the result is the key as given (original case)
//!   plus `-a`, without `%` substitution.
//!
//! Messages sendmail prints while reading the configuration (a regex that does not
//! compile, an unknown sequence member…) cannot go through a [`MapEnv`]: they are kept in
//! [`MapSet::read_messages`] for the caller to print where sendmail prints read-time
//! errors (`FILE: line N: TEXT`).
//!
//! | file | classes |
//! |---|---|
//! | `db.rs` | hash, btree, dbm, cdb, implicit |
//! | `text.rs` | text |
//! | `stab.rs` | stab |
//! | `user.rs` | user |
//! | `host.rs` | host, `/canon`, the service switch file |
//! | `quoting.rs` | dequote, arith, macro, arpa, syslog, null |
//! | `regex.rs` | regex (glibc's regcomp/regexec through `libc`) |
//! | `sequence.rs` | sequence, switch |
//! | `network.rs` | program, socket, dns, nis, nisplus, ldap, bestmx, userdb, `--map` files |
//! | `safefile.rs` | sendmail's safe-file checks (`safefile`, `safedirpath`) |

mod args;
mod db;
mod host;
mod network;
mod quoting;
mod regex;
mod safefile;
mod sequence;
mod stab;
mod text;
mod user;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cf::Span;
use crate::ir::{Ir, MapClass, MapDecl};
use crate::maps::lookup::{Answer, MapEnv, Maps, OpenState};
use crate::sysexits;

/// Where a [`MapSet`] finds its files.
#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    /// What sendmail's current directory would be: relative K-line paths (and relative
    /// `HostsFile`, `ServiceSwitchFile`) resolve from here. Empty: the process's own.
    pub base_dir: PathBuf,
    /// When set, an absolute path `/x/y` is read as `ROOT/x/y` (test a config that names
    /// `/etc/mail/...` against a checkout).
    pub root: Option<PathBuf>,
    /// `--map NAME=FILE`: map NAME answers from FILE, a text file of `key value` lines,
    /// instead of its network service or program.
    pub overrides: Vec<(Vec<u8>, PathBuf)>,
    /// The passwd file the `user` class reads (default `/etc/passwd`, under `root`).
    pub passwd: Option<PathBuf>,
    /// The user id sendmail would run as, for the safe-file checks (root refuses maps
    /// below writable directories, anyone else is exempt); `None`: this process's.
    pub uid: Option<u32>,
}

/// The maps of one configuration, in the order of `Ir::maps`.
pub struct MapSet {
    entries: Vec<Entry>,
    ctx: Ctx,
    read_messages: Vec<(Span, Vec<u8>)>,
}

/// `$[ $]` answers by host name (sendmail's host map cache): status and canonical name.
pub(crate) type HostCache = HashMap<Vec<u8>, (i32, Option<Vec<u8>>), crate::shorthash::FastState>;

/// What every class lookup may need besides its own map.
pub(crate) struct Ctx {
    base_dir: PathBuf,
    root: Option<PathBuf>,
    passwd: PathBuf,
    hosts_file: PathBuf,
    switch_file: PathBuf,
    pub(crate) blame: DontBlame,
    /// The service switch file, read on first use: service (lower case) → types.
    switch: Option<HashMap<Vec<u8>, Vec<Vec<u8>>>>,
    /// host_map_lookup's per-process cache (sendmail's ST_NAMECANON, case-sensitive).
    host_cache: HostCache,
    /// The HostsFile, as last read.
    hosts: host::HostsFile,
    /// Messages the safe-file checks left for the caller to print (writable directories
    /// that are only warned about).
    pub(crate) warnings: std::cell::RefCell<Vec<Vec<u8>>>,
    /// [`MapOptions::uid`], resolved.
    pub(crate) uid: u32,
}

impl Ctx {
    /// Print what the safe-file checks left behind.
    fn flush_warnings(&self, env: &mut dyn MapEnv) {
        for w in self.warnings.take() {
            env.message(&w);
        }
    }
}

/// The `DontBlameSendmail` settings the map code looks at.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DontBlame {
    pub map_in_unsafe_dir_path: bool,
    pub linked_map_in_writable_dir: bool,
    pub group_writable_dir_path_safe: bool,
    pub trust_sticky_bit: bool,
}

impl Ctx {
    /// A path as sendmail would open it: relative to `base_dir`, absolute under `root`.
    pub(crate) fn resolve(&self, p: &[u8]) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(p));
        if path.is_absolute() {
            match &self.root {
                Some(r) => r.join(path.strip_prefix("/").unwrap_or(path)),
                None => path.to_path_buf(),
            }
        } else if self.base_dir.as_os_str().is_empty() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// How far a map got: sendmail's MF_VALID / MF_OPEN / MF_OPENBOGUS bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Declared, not opened yet.
    Closed,
    Open,
    /// Open failed (non-optional): every lookup is a temporary failure.
    Bogus,
    /// Parse or optional open failed, or the map was closed for good: not found.
    Invalid,
}

/// The flags every class keeps (sendmail's `map_mflags` bits, `map_app`, `map_spacesub`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Common {
    pub app: Option<Vec<u8>>,
    pub keep_case: bool,
    pub match_only: bool,
    pub optional: bool,
    /// MF_TRY0NULL / MF_TRY1NULL: try the key without / with a trailing NUL. Adaptive:
    /// the first hit of one kind clears the other for good.
    pub try0: bool,
    pub try1: bool,
    /// `-k` and `-v` as written.
    pub key_col: Option<Vec<u8>>,
    pub value_col: Option<Vec<u8>>,
    /// `-z`, decoded (`\n`, `\t`, `\` + other is `\`); 0 when absent.
    pub delim: u8,
}

impl Common {
    /// `map_rewrite`: `%n` substitution in `value` (when `args` is given), then `-a`.
    pub(crate) fn rewrite(&self, value: &[u8], args: Option<&[Vec<u8>]>) -> Vec<u8> {
        let mut out = rewrite(value, args);
        if let Some(a) = &self.app {
            out.extend_from_slice(a);
        }
        out
    }

    /// `map_rewrite` exactly, output budget included, for a value followed in memory by
    /// `tail` (a value ending in a lone `%` makes sendmail read on past its end).
    pub(crate) fn rewrite_with_tail(&self, value: &[u8], args: &[Vec<u8>], tail: &[u8]) -> Vec<u8> {
        let app: &[u8] = self.app.as_deref().unwrap_or(&[]);
        let value = cstr(value);
        // Without a `%` the budget covers the value and the appended text exactly.
        if !value.contains(&b'%') {
            return [value, app].concat();
        }
        let arg = |n: u8| args.get(usize::from(n - b'0')).map(|a| cstr(a));
        // The size estimate (it counts every %digit that has an argument).
        let mut len = value.len() as i64;
        let mut i = 0;
        while i < value.len() {
            let c = value[i];
            i += 1;
            if c != b'%' {
                continue;
            }
            let Some(&n) = value.get(i) else { break };
            i += 1;
            if n.is_ascii_digit()
                && let Some(a) = arg(n)
            {
                len += a.len() as i64;
            }
        }
        len += app.len() as i64 + 1;
        // The copy: past the value it reads on into `tail`, then a NUL.
        let at = |p: usize| -> u8 {
            if p < value.len() {
                value[p]
            } else {
                tail.get(p - value.len()).copied().unwrap_or(0)
            }
        };
        let mut out = Vec::with_capacity(value.len() + 8);
        let mut slen = value.len() as i64;
        let mut p = 0usize;
        'outer: loop {
            if slen <= 0 {
                break;
            }
            slen -= 1;
            let mut c = at(p);
            p += 1;
            if c == 0 {
                break;
            }
            if c == b'%' {
                if slen <= 0 {
                    // size_t wraps: the loop no longer stops at the value's end.
                    slen = i64::MAX;
                    c = b'%';
                } else {
                    slen -= 1;
                    c = at(p);
                    p += 1;
                    if c == 0 {
                        c = b'%';
                    }
                }
                if c != b'%' {
                    if !c.is_ascii_digit() {
                        if len <= 1 {
                            break;
                        }
                        len -= 1;
                        out.push(b'%');
                    } else {
                        if let Some(a) = arg(c) {
                            for &b in a {
                                if len <= 1 {
                                    len -= 1;
                                    continue 'outer;
                                }
                                len -= 1;
                                out.push(b);
                            }
                        }
                        continue;
                    }
                }
            }
            if len <= 1 {
                break;
            }
            len -= 1;
            out.push(c);
        }
        if len > 0 {
            let n = app.len().min((len - 1) as usize);
            out.extend_from_slice(&app[..n]);
        }
        out
    }

    /// The result for a found key: `-m` gives the key, else the value rewritten.
    pub(crate) fn result(&self, key: &[u8], value: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
        if self.match_only {
            self.rewrite(key, None)
        } else {
            self.rewrite(value, Some(args))
        }
    }
}

/// `%n` substitution without `-a` (sendmail's map_rewrite body). Values are C strings:
/// a NUL ends them.
pub(crate) fn rewrite(value: &[u8], args: Option<&[Vec<u8>]>) -> Vec<u8> {
    let value = cstr(value);
    let Some(args) = args.filter(|_| value.contains(&b'%')) else {
        return value.to_vec();
    };
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let c = value[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        let Some(&n) = value.get(i) else {
            out.push(b'%');
            break;
        };
        i += 1;
        if n == b'%' {
            out.push(b'%');
        } else if !n.is_ascii_digit() {
            out.push(b'%');
            out.push(n);
        } else if let Some(a) = args.get(usize::from(n - b'0')) {
            out.extend_from_slice(cstr(a));
        }
    }
    out
}

/// The bytes before the first NUL.
pub(crate) fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(p) => &b[..p],
        None => b,
    }
}

/// sendmail's MAXNAME: keys are cut to this many bytes.
pub(crate) const MAXNAME: usize = 256;

/// The class-specific part of a map.
enum Data {
    Db(db::DbMap),
    Text(text::TextMap),
    Stab(stab::StabMap),
    User(user::UserMap),
    Host(host::HostMap),
    /// The `-s`/`-S` byte that replaces blanks in the key (0: none).
    Dequote(u8),
    Arith,
    Macro,
    Arpa,
    Syslog,
    Null,
    Regex(regex::RegexMap),
    Sequence(Vec<usize>),
    Switch(sequence::SwitchMap),
    Net(network::NetMap),
    /// A class Debian's sendmail lacks and cfmap does not emulate (hesiod, netinfo, nsd,
    /// ph): sendmail creates no map at all.
    Absent,
}

struct Entry {
    decl: MapDecl,
    name: Vec<u8>,
    common: Common,
    file: Option<Vec<u8>>,
    /// The class parser accepted the K line (MF_VALID).
    valid: bool,
    state: State,
    data: Data,
    override_file: Option<PathBuf>,
}

impl MapSet {
    /// Every map of `ir`, none opened yet. Class parsers run here, as sendmail runs them
    /// while it reads the K lines; their complaints are in [`MapSet::read_messages`].
    pub fn new(ir: &Ir, opts: &MapOptions) -> MapSet {
        let option = |name: &str| ir.option(name).map(<[u8]>::to_vec);
        let mut ctx = Ctx {
            base_dir: opts.base_dir.clone(),
            root: opts.root.clone(),
            passwd: PathBuf::new(),
            hosts_file: PathBuf::new(),
            switch_file: PathBuf::new(),
            blame: DontBlame::default(),
            switch: None,
            host_cache: HostCache::default(),
            hosts: Default::default(),
            warnings: Default::default(),
            // SAFETY: getuid has no preconditions and cannot fail.
            uid: opts.uid.unwrap_or_else(|| unsafe { libc::getuid() }),
        };
        ctx.passwd = match &opts.passwd {
            Some(p) => p.clone(),
            None => ctx.resolve(b"/etc/passwd"),
        };
        ctx.hosts_file = ctx.resolve(&option("HostsFile").unwrap_or(b"/etc/hosts".to_vec()));
        ctx.switch_file = ctx
            .resolve(&option("ServiceSwitchFile").unwrap_or(b"/etc/mail/service.switch".to_vec()));
        for o in ir
            .options
            .iter()
            .filter(|o| o.name == Some("DontBlameSendmail"))
        {
            for w in o
                .value
                .split(|&b| b == b',' || b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
            {
                let w = w.to_ascii_lowercase();
                match w.as_slice() {
                    b"safe" => ctx.blame = DontBlame::default(),
                    b"mapinunsafedirpath" => ctx.blame.map_in_unsafe_dir_path = true,
                    b"linkedmapinwritabledir" => ctx.blame.linked_map_in_writable_dir = true,
                    b"groupwritabledirpathsafe" => ctx.blame.group_writable_dir_path_safe = true,
                    b"truststickybit" => ctx.blame.trust_sticky_bit = true,
                    _ => {}
                }
            }
        }
        let mut set = MapSet {
            entries: Vec::with_capacity(ir.maps.len()),
            ctx,
            read_messages: Vec::new(),
        };
        for decl in ir.maps.values() {
            let span = decl.spans.last().copied().unwrap_or_default();
            let mut msgs = Vec::new();
            let entry = set.parse(decl, &mut msgs);
            set.read_messages
                .extend(msgs.into_iter().map(|m| (span, m)));
            set.entries.push(entry);
        }
        set.add_alias_maps(ir.blank_sub);
        for (name, file) in &opts.overrides {
            if let Some(i) = set.find(name) {
                set.entries[i].override_file = Some(file.clone());
            }
        }
        set
    }

    /// The maps sendmail declares itself after reading the file (inithostmaps): for each
    /// type of the `aliases` service, `aliases.files null`, `aliases.nis nis mail.aliases`
    /// or `aliases.nisplus nisplus -kalias -vexpansion mail_aliases.org_dir`, then
    /// `aliases switch aliases` — each unless the file declared it. (`host` is declared
    /// by the IR.) They come after the IR's maps, so indices stay those of `Ir::maps`.
    fn add_alias_maps(&mut self, blank_sub: u8) {
        let types = host::switch_types(&mut self.ctx, b"aliases").unwrap_or_default();
        let mut lines: Vec<(&[u8], MapClass, &[u8])> = Vec::new();
        for t in &types {
            match t.as_slice() {
                b"files" => lines.push((b"aliases.files", MapClass::Null, b"")),
                b"nisplus" => lines.push((
                    b"aliases.nisplus",
                    MapClass::Nisplus,
                    b"-kalias -vexpansion mail_aliases.org_dir",
                )),
                b"nis" => lines.push((b"aliases.nis", MapClass::Nis, b"mail.aliases")),
                _ => {}
            }
        }
        lines.push((b"aliases", MapClass::Switch, b"aliases"));
        for (name, class, args) in lines {
            if self.find_declared(name).is_some() {
                continue;
            }
            let (flags, file, rest, _, _) = crate::ir::maps::parse_args(class, args);
            let decl = MapDecl {
                name: name.to_vec(),
                class,
                space_sub: flags.space_sub.unwrap_or(blank_sub),
                flags,
                file,
                args: rest,
                raw_args: vec![args.to_vec()],
                spans: Vec::new(),
                name_span: Span::default(),
                file_span: None,
            };
            let entry = self.parse(&decl, &mut Vec::new());
            self.entries.push(entry);
        }
    }

    /// What sendmail would have printed while reading the K lines (one message each, with
    /// the span of the K line it is about), in order.
    pub fn read_messages(&self) -> &[(Span, Vec<u8>)] {
        &self.read_messages
    }

    /// Run the class parser of one K line.
    fn parse(&self, decl: &MapDecl, msgs: &mut Vec<Vec<u8>>) -> Entry {
        // Classes parsed by map_parseargs (the others set their flags below).
        let g = args::generic(&decl.raw_args);
        let mut e = Entry {
            decl: decl.clone(),
            name: decl.name.clone(),
            common: g.common,
            file: g.file,
            valid: true,
            state: State::Closed,
            data: Data::Null,
            override_file: None,
        };
        // map_parseargs refuses a missing file name unless the class may go without.
        let needs_file = matches!(
            decl.class,
            MapClass::Hash
                | MapClass::Btree
                | MapClass::Dbm
                | MapClass::Cdb
                | MapClass::Implicit
                | MapClass::Text
                | MapClass::Stab
                | MapClass::Program
                | MapClass::Switch
                | MapClass::Nis
                | MapClass::Nisplus
                | MapClass::Socket
                | MapClass::Userdb
        );
        if needs_file && e.file.is_none() {
            e.valid = false;
        }
        let raw = args::last(&decl.raw_args);
        e.data = match decl.class {
            MapClass::Hash | MapClass::Btree | MapClass::Dbm | MapClass::Cdb => {
                Data::Db(db::DbMap::new(decl.class))
            }
            MapClass::Implicit => Data::Db(db::DbMap::new(MapClass::Implicit)),
            MapClass::Text => Data::Text(text::TextMap::default()),
            MapClass::Stab => Data::Stab(stab::StabMap::default()),
            MapClass::User => Data::User(user::UserMap::default()),
            MapClass::Host => {
                e.common = host::parse_flags(raw);
                Data::Host(host::HostMap {
                    last_reusable: false,
                })
            }
            MapClass::Dequote | MapClass::Arith | MapClass::Macro | MapClass::Arpa => {
                let (common, sub) = quoting::parse_dequote_flags(raw);
                e.common = common;
                match decl.class {
                    MapClass::Dequote => Data::Dequote(sub),
                    MapClass::Arith => Data::Arith,
                    MapClass::Macro => Data::Macro,
                    _ => Data::Arpa,
                }
            }
            MapClass::Syslog => {
                e.common = Common::default();
                match quoting::parse_syslog(raw) {
                    Ok(m) => msgs.extend(m),
                    Err(m) => {
                        msgs.extend(m);
                        e.valid = false;
                    }
                }
                Data::Syslog
            }
            MapClass::Null => Data::Null,
            MapClass::Regex => match regex::RegexMap::parse(raw) {
                Ok((common, r)) => {
                    e.common = common;
                    Data::Regex(r)
                }
                Err(m) => {
                    msgs.push(m);
                    e.valid = false;
                    Data::Null
                }
            },
            MapClass::Sequence => {
                e.common = Common::default();
                Data::Sequence(sequence::parse_members(self, decl, msgs))
            }
            MapClass::Switch => Data::Switch(sequence::SwitchMap::default()),
            MapClass::Program
            | MapClass::Socket
            | MapClass::Dns
            | MapClass::Nis
            | MapClass::Nisplus
            | MapClass::Ldap
            | MapClass::Bestmx
            | MapClass::Userdb => {
                let (net, common) = network::NetMap::parse(decl, msgs);
                if let Some(c) = common {
                    e.common = c;
                }
                Data::Net(net)
            }
            MapClass::Hesiod | MapClass::Netinfo | MapClass::Nsd | MapClass::Ph => Data::Absent,
        };
        e
    }

    /// The lookup proper, without the open check (sequence members come through here too).
    fn class_lookup(
        &mut self,
        index: usize,
        key: &[u8],
        args: &[Vec<u8>],
        env: &mut dyn MapEnv,
    ) -> Answer {
        match self.entries[index].state {
            State::Bogus => return Answer::status(sysexits::TEMPFAIL),
            State::Invalid | State::Closed => return Answer::not_found(),
            State::Open => {}
        }
        if let Data::Sequence(members) = &self.entries[index].data {
            let members = members.clone();
            return sequence::lookup(self, &members, key, args, env);
        }
        if let Data::Switch(s) = &self.entries[index].data {
            let members = s.members.clone();
            return sequence::lookup(self, &members, key, args, env);
        }
        let ctx = &mut self.ctx;
        let e = &mut self.entries[index];
        if let Some(file) = &e.override_file {
            return network::override_lookup(&e.common, file, key, args);
        }
        match &mut e.data {
            Data::Db(d) => {
                let (answer, reopen_failed) = d.lookup(&mut e.common, key, args);
                if reopen_failed {
                    if !e.common.optional {
                        e.state = State::Bogus;
                        env.message(
                            format!(
                                "Cannot reopen {} database {}",
                                d.reopen_kind(),
                                String::from_utf8_lossy(e.file.as_deref().unwrap_or_default())
                            )
                            .as_bytes(),
                        );
                    } else {
                        e.state = State::Invalid;
                    }
                }
                answer
            }
            Data::Text(t) => {
                let a = t.lookup(ctx, &e.common, key, args);
                ctx.flush_warnings(env);
                if a.status == sysexits::UNAVAILABLE {
                    e.state = State::Invalid;
                }
                a
            }
            Data::Stab(s) => s.lookup(&e.common, key, args),
            Data::User(u) => u.lookup(&e.common, ctx, key, args),
            Data::Host(h) => {
                let a = host::lookup(&e.common, ctx, key, args, env);
                h.last_reusable = a.status != sysexits::TEMPFAIL;
                a
            }
            Data::Dequote(sub) => quoting::dequote(&e.common, *sub, key),
            Data::Arith => quoting::arith(key, args),
            Data::Macro => quoting::macro_lookup(key, args, env),
            Data::Arpa => quoting::arpa(&e.common, key, args),
            Data::Syslog => Answer::found(Vec::new()),
            Data::Null | Data::Absent => Answer::not_found(),
            Data::Regex(r) => r.lookup(&e.common, key, args, env),
            Data::Net(n) => n.lookup(&e.common, key, args, env),
            Data::Sequence(_) | Data::Switch(_) => unreachable!("handled above"),
        }
    }

    /// The class open (`map_class->map_open`); `Err(Some(text))` prints text once.
    fn class_open(&mut self, index: usize, env: &mut dyn MapEnv) -> Result<(), Option<Vec<u8>>> {
        if let Data::Switch(_) = self.entries[index].data {
            return sequence::open_switch(self, index, env);
        }
        let ctx = &mut self.ctx;
        let e = &mut self.entries[index];
        if let Some(file) = &e.override_file {
            return network::override_open(&e.name, file);
        }
        let file = e.file.clone().unwrap_or_default();
        match &mut e.data {
            Data::Db(d) => d.open(ctx, &e.name, &file, &e.common),
            Data::Text(t) => t.open(ctx, &e.name, &file, &e.common),
            Data::Stab(s) => s.open(ctx, &file),
            Data::User(u) => {
                // user_map_open complains even about optional maps.
                u.open(&e.name, &e.common).map_err(|m| {
                    if let Some(m) = m {
                        env.message(&m);
                    }
                    None
                })
            }
            Data::Net(n) => {
                let r = n.open(ctx, &e.name, &file, &e.common);
                // socket_map_open complains even about optional maps.
                if let (network::NetMap::Socket, Err(Some(m))) = (&*n, &r) {
                    env.message(m);
                    return Err(None);
                }
                r
            }
            _ => Ok(()),
        }
    }

    /// Names of the members of a sequence, for the parser: index of a declared map.
    fn find_declared(&self, name: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.name.eq_ignore_ascii_case(name) && !matches!(e.data, Data::Absent))
    }
}

impl Maps for MapSet {
    fn find(&self, name: &[u8]) -> Option<usize> {
        self.find_declared(name)
    }

    fn stable_generation(&mut self, index: usize) -> Option<u64> {
        let e = self.entries.get(index)?;
        match (&e.data, e.state, &e.override_file) {
            (Data::Db(d), State::Open, None) => d.stable_generation(),
            // The host cache never forgets a name it answered; dequote answers from
            // the key alone.
            (Data::Host(_) | Data::Dequote(_), State::Open, None) => Some(0),
            _ => None,
        }
    }

    fn reusable_find(&self, index: usize) -> Option<Option<&[u8]>> {
        match &self.entries.get(index)?.data {
            Data::Db(d) => d.reusable_find(),
            Data::Host(h) if h.last_reusable => Some(None),
            Data::Dequote(_) => Some(None),
            _ => None,
        }
    }

    fn silent_lookup(&mut self, index: usize, key: &[u8]) -> bool {
        // The maps whose answers are stable; the host map's only as long as no name
        // server can time out.
        let host = matches!(self.entries.get(index), Some(e) if matches!(e.data, Data::Host(_)));
        self.stable_generation(index).is_some() && (!host || host::silent(&mut self.ctx, key))
    }

    fn replay(&mut self, index: usize, found: Option<&[u8]>) {
        if let Some(Data::Db(d)) = self.entries.get_mut(index).map(|e| &mut e.data) {
            d.replay(found);
        }
    }

    fn next_command(&mut self) {
        let mut now = None;
        for e in &mut self.entries {
            if let Data::Db(d) = &mut e.data {
                d.next_command(&mut now);
            }
        }
        self.ctx.hosts.next_command(&mut now);
    }

    fn open(&mut self, index: usize, env: &mut dyn MapEnv) -> OpenState {
        let Some(e) = self.entries.get(index) else {
            return OpenState::Invalid;
        };
        match e.state {
            State::Open => return OpenState::Open,
            State::Bogus => return OpenState::Bogus,
            State::Invalid => return OpenState::Invalid,
            State::Closed => {}
        }
        if !e.valid || matches!(e.data, Data::Absent) {
            self.entries[index].state = State::Invalid;
            return OpenState::Invalid;
        }
        let result = self.class_open(index, env);
        self.ctx.flush_warnings(env);
        let e = &mut self.entries[index];
        match result {
            Ok(()) => {
                e.state = State::Open;
                OpenState::Open
            }
            Err(msg) => {
                if e.common.optional {
                    e.state = State::Invalid;
                    OpenState::Invalid
                } else {
                    // Some opens print two lines (libdb's own complaint, then sendmail's).
                    for line in msg.iter().flat_map(|m| m.split(|&b| b == b'\n')) {
                        env.message(line);
                    }
                    e.state = State::Bogus;
                    OpenState::Bogus
                }
            }
        }
    }

    fn lookup(
        &mut self,
        index: usize,
        key: &[u8],
        args: &[Vec<u8>],
        env: &mut dyn MapEnv,
    ) -> Answer {
        if index >= self.entries.len() {
            return Answer::not_found();
        }
        self.class_lookup(index, key, args, env)
    }

    fn canon(&mut self, host: &[u8], env: &mut dyn MapEnv) -> Option<Vec<u8>> {
        host::canon(&mut self.ctx, host, env)
    }

    fn decl(&self, index: usize) -> Option<&MapDecl> {
        self.entries.get(index).map(|e| &e.decl)
    }

    fn use_name_server(&mut self) -> bool {
        host::use_name_server(&mut self.ctx)
    }
}

/// An io::Error's text as C's strerror gives it.
pub(crate) use crate::maps::io_reason as strerror;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn rewrite_follows_map_rewrite() {
        let a = args(&["KEY2", "A1", "A2"]);
        assert_eq!(
            rewrite(b"pct %1 and %0 and %2 %% %x %", Some(&a)),
            b"pct A1 and KEY2 and A2 % %x %"
        );
        assert_eq!(rewrite(b"%9|%3", Some(&a)), b"|");
        assert_eq!(rewrite(b"no %1", None), b"no %1");
        assert_eq!(rewrite(b"cut\0here", Some(&a)), b"cut");
    }

    #[test]
    fn result_appends_and_matches_only() {
        let mut c = Common {
            app: Some(b"!".to_vec()),
            ..Common::default()
        };
        let a = args(&["Key"]);
        assert_eq!(c.result(b"Key", b"v%0", &a), b"vKey!");
        c.match_only = true;
        assert_eq!(c.result(b"Key", b"v%0", &a), b"Key!");
    }

    struct Env(Vec<Vec<u8>>);

    impl MapEnv for Env {
        fn message(&mut self, text: &[u8]) {
            self.0.push(text.to_vec());
        }
        fn macro_value(&self, _: &[u8]) -> Option<Vec<u8>> {
            None
        }
        fn set_macro(&mut self, _: &[u8], _: Option<&[u8]>) {}
        fn blank_sub(&self) -> u8 {
            b' '
        }
    }

    fn set_for(cf: &str, opts: &MapOptions) -> MapSet {
        use crate::cf::{FileId, SourceFile};
        let file = SourceFile::new(FileId(0), "t.cf", cf.as_bytes());
        let ir = crate::ir::compile(&crate::cf::parse(&file), &Default::default());
        MapSet::new(&ir, opts)
    }

    #[test]
    fn overrides_answer_for_network_maps_and_programs() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("vrc");
        std::fs::write(&f, "alice@example.com OK alice is fine\n").unwrap();
        let opts = MapOptions {
            overrides: vec![(b"VRC".to_vec(), f.clone()), (b"prog".to_vec(), f.clone())],
            ..MapOptions::default()
        };
        let mut set = set_for(
            "V10\nKvrc socket -a! inet:7777@127.0.0.1\nKprog program /bin/false\nKother socket inet:7777@127.0.0.1\n",
            &opts,
        );
        let mut env = Env(Vec::new());
        let vrc = set.find(b"Vrc").unwrap();
        assert_eq!(set.open(vrc, &mut env), OpenState::Open);
        let key = b"Alice@Example.com".to_vec();
        let a = set.lookup(vrc, &key, std::slice::from_ref(&key), &mut env);
        assert_eq!(a.value.as_deref(), Some(&b"OK alice is fine!"[..]));
        let a = set.lookup(vrc, b"carol", &[b"carol".to_vec()], &mut env);
        assert_eq!(a, Answer::not_found());
        let prog = set.find(b"prog").unwrap();
        assert_eq!(set.open(prog, &mut env), OpenState::Open);
        // Without an override the socket cannot connect: a silent bogus map.
        let other = set.find(b"other").unwrap();
        assert_eq!(set.open(other, &mut env), OpenState::Bogus);
        assert_eq!(
            set.lookup(other, b"x", &[b"x".to_vec()], &mut env).status,
            sysexits::TEMPFAIL
        );
        assert!(env.0.is_empty(), "{:?}", env.0);
    }

    #[test]
    fn implicit_maps_and_unknown_names() {
        let set = set_for("V10\nKm hesiod x\n", &MapOptions::default());
        // sendmail declares host and the aliases maps itself; hesiod is not compiled in.
        assert!(set.find(b"HOST").is_some());
        assert!(set.find(b"aliases").is_some());
        assert!(set.find(b"m").is_none());
        assert!(set.find(b"nosuch").is_none());
        let aliases = set.find(b"aliases").unwrap();
        assert_eq!(set.decl(aliases).unwrap().class, MapClass::Switch);
        assert_eq!(
            set.decl(set.find(b"host").unwrap())
                .unwrap()
                .flags
                .append
                .as_deref(),
            Some(&b"."[..])
        );
    }

    #[test]
    fn paths_resolve_under_root_and_base() {
        let ctx = Ctx {
            base_dir: PathBuf::from("/cf"),
            root: Some(PathBuf::from("/r")),
            passwd: PathBuf::new(),
            hosts_file: PathBuf::new(),
            switch_file: PathBuf::new(),
            blame: DontBlame::default(),
            switch: None,
            host_cache: HostCache::default(),
            hosts: Default::default(),
            warnings: Default::default(),
            uid: 0,
        };
        assert_eq!(ctx.resolve(b"/etc/mail/x"), Path::new("/r/etc/mail/x"));
        assert_eq!(ctx.resolve(b"maps/x"), Path::new("/cf/maps/x"));
    }
}
