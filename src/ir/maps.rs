//! Map declarations (K lines) typed by class (`makemapentry` and the class parsers in
//! sendmail's map.c).

use crate::cf::Span;

/// The map classes sendmail knows. `available` says whether Debian's sendmail 8.17 was
/// built with it (the rest give "class X not available" there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapClass {
    Hash,
    Btree,
    Dbm,
    Cdb,
    Implicit,
    Text,
    Stab,
    User,
    Host,
    Dequote,
    Arith,
    Macro,
    Arpa,
    Regex,
    Sequence,
    Switch,
    Program,
    Syslog,
    Null,
    Socket,
    Dns,
    Nis,
    Nisplus,
    Ldap,
    Bestmx,
    Userdb,
    Hesiod,
    Netinfo,
    Nsd,
    Ph,
}

impl MapClass {
    pub const ALL: &'static [MapClass] = &[
        MapClass::Hash,
        MapClass::Btree,
        MapClass::Dbm,
        MapClass::Cdb,
        MapClass::Implicit,
        MapClass::Text,
        MapClass::Stab,
        MapClass::User,
        MapClass::Host,
        MapClass::Dequote,
        MapClass::Arith,
        MapClass::Macro,
        MapClass::Arpa,
        MapClass::Regex,
        MapClass::Sequence,
        MapClass::Switch,
        MapClass::Program,
        MapClass::Syslog,
        MapClass::Null,
        MapClass::Socket,
        MapClass::Dns,
        MapClass::Nis,
        MapClass::Nisplus,
        MapClass::Ldap,
        MapClass::Bestmx,
        MapClass::Userdb,
        MapClass::Hesiod,
        MapClass::Netinfo,
        MapClass::Nsd,
        MapClass::Ph,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MapClass::Hash => "hash",
            MapClass::Btree => "btree",
            MapClass::Dbm => "dbm",
            MapClass::Cdb => "cdb",
            MapClass::Implicit => "implicit",
            MapClass::Text => "text",
            MapClass::Stab => "stab",
            MapClass::User => "user",
            MapClass::Host => "host",
            MapClass::Dequote => "dequote",
            MapClass::Arith => "arith",
            MapClass::Macro => "macro",
            MapClass::Arpa => "arpa",
            MapClass::Regex => "regex",
            MapClass::Sequence => "sequence",
            MapClass::Switch => "switch",
            MapClass::Program => "program",
            MapClass::Syslog => "syslog",
            MapClass::Null => "null",
            MapClass::Socket => "socket",
            MapClass::Dns => "dns",
            MapClass::Nis => "nis",
            MapClass::Nisplus => "nisplus",
            MapClass::Ldap => "ldap",
            MapClass::Bestmx => "bestmx",
            MapClass::Userdb => "userdb",
            MapClass::Hesiod => "hesiod",
            MapClass::Netinfo => "netinfo",
            MapClass::Nsd => "nsd",
            MapClass::Ph => "ph",
        }
    }

    /// Class names are matched case-sensitively by sendmail (`stab` lookup of ST_MAPCLASS
    /// is case-insensitive in fact: class names are folded).
    pub fn from_name(name: &[u8]) -> Option<MapClass> {
        MapClass::ALL
            .iter()
            .copied()
            .find(|c| c.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether Debian's sendmail 8.17.1.9 has this class compiled in.
    pub fn in_debian_sendmail(self) -> bool {
        !matches!(
            self,
            MapClass::Dbm
                | MapClass::Cdb
                | MapClass::Hesiod
                | MapClass::Netinfo
                | MapClass::Nsd
                | MapClass::Ph
        )
    }

    /// Classes whose data lives in a file named on the K line.
    pub fn has_file(self) -> bool {
        matches!(
            self,
            MapClass::Hash
                | MapClass::Btree
                | MapClass::Dbm
                | MapClass::Cdb
                | MapClass::Implicit
                | MapClass::Text
                | MapClass::Stab
        )
    }

    /// Classes that take sendmail's generic flags (`map_parseargs`).
    pub fn generic_args(self) -> bool {
        matches!(
            self,
            MapClass::Hash
                | MapClass::Btree
                | MapClass::Dbm
                | MapClass::Cdb
                | MapClass::Implicit
                | MapClass::Text
                | MapClass::Stab
                | MapClass::User
                | MapClass::Program
                | MapClass::Switch
                | MapClass::Null
                | MapClass::Nis
                | MapClass::Nisplus
                | MapClass::Socket
                | MapClass::Bestmx
                | MapClass::Userdb
                | MapClass::Hesiod
                | MapClass::Netinfo
                | MapClass::Nsd
        )
    }

    /// Files the class opens, given the K-line file name (`hash` adds `.db`).
    pub fn database_files(self, file: &[u8]) -> Vec<Vec<u8>> {
        let with = |ext: &[u8]| {
            if file.ends_with(ext) {
                file.to_vec()
            } else {
                [file, ext].concat()
            }
        };
        match self {
            MapClass::Hash | MapClass::Btree | MapClass::Implicit => vec![with(b".db")],
            MapClass::Cdb => vec![with(b".cdb")],
            MapClass::Dbm => vec![with(b".dir"), with(b".pag")],
            MapClass::Text | MapClass::Stab => vec![file.to_vec()],
            _ => Vec::new(),
        }
    }
}

/// Generic K-line flags (sendmail's `map_parseargs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapFlags {
    /// `-a`: appended to every successful result.
    pub append: Option<Vec<u8>>,
    /// `-A`: merge duplicate alias keys.
    pub alias_merge: bool,
    /// `-D`: no lookups in defer mode.
    pub defer_skip: bool,
    /// `-f`: do not fold keys to lower case.
    pub keep_case: bool,
    /// `-m`: match only; the result is the key.
    pub match_only: bool,
    /// `-N` / `-O`: try keys only with / only without a trailing NUL.
    pub nul_only: bool,
    pub no_nul: bool,
    /// `-o`: optional map.
    pub optional: bool,
    /// `-q`: keep quotes in keys.
    pub keep_quotes: bool,
    /// `-S`: space substitute.
    pub space_sub: Option<u8>,
    /// `-T`: text for temporary failures.
    pub tempfail_text: Option<Vec<u8>>,
    /// `-t`: temporary failures are "not found".
    pub tempfail_is_notfound: bool,
    /// `-k`, `-v`, `-z`, `-d`: columns, delimiter, timeout (as written).
    pub key_col: Option<Vec<u8>>,
    pub value_col: Option<Vec<u8>>,
    pub delimiter: Option<Vec<u8>>,
    pub timeout: Option<Vec<u8>>,
    /// Every other `-x` word, kept as written for classes with their own parsers.
    pub other: Vec<Vec<u8>>,
}

/// A compiled K line.
#[derive(Debug, Clone)]
pub struct MapDecl {
    /// The name as the latest K line wrote it (sendmail's `map_mname`).
    pub name: Vec<u8>,
    pub class: MapClass,
    pub flags: MapFlags,
    /// The file (database classes), program, or first non-flag argument.
    pub file: Option<Vec<u8>>,
    /// Words after the file (program arguments, sequence members, regex pattern…).
    pub args: Vec<Vec<u8>>,
    /// The class arguments of every K line that declared this map, in order, exactly as
    /// sendmail's class parser sees them (expanded, quotes kept): the map classes parse
    /// them again the way each class does (a regex pattern as written, dequote's
    /// first-flag-only rule, `-k 1` with a blank, quotes that stay part of `-a` text…).
    pub raw_args: Vec<Vec<u8>>,
    /// The BlankSub in force when the K line was read (generic classes keep it).
    pub space_sub: u8,
    /// Every K line that declared this map (redefinitions merge); empty for the `host`
    /// map sendmail declares itself when the file does not.
    pub spans: Vec<Span>,
    pub name_span: Span,
    pub file_span: Option<Span>,
}

/// Problems in K-line arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapArgProblem {
    IllegalOption(u8),
    NoFileName,
}

/// Split expanded K-line arguments into words (blanks separate; double quotes group).
pub fn words(args: &[u8]) -> Vec<(Vec<u8>, usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        while i < args.len() && args[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= args.len() {
            break;
        }
        let start = i;
        let mut w = Vec::new();
        let mut quoted = false;
        while i < args.len() && (quoted || !args[i].is_ascii_whitespace()) {
            if args[i] == b'"' {
                quoted = !quoted;
            } else {
                w.push(args[i]);
            }
            i += 1;
        }
        out.push((w, start, i));
    }
    out
}

/// Parse the arguments of one K line for `class`.
/// Returns flags, file, extra args, the (start, end) byte offsets of the file word,
/// and problems.
#[allow(clippy::type_complexity)]
pub fn parse_args(
    class: MapClass,
    args: &[u8],
) -> (
    MapFlags,
    Option<Vec<u8>>,
    Vec<Vec<u8>>,
    Option<(usize, usize)>,
    Vec<MapArgProblem>,
) {
    let mut flags = MapFlags::default();
    let mut problems = Vec::new();
    let ws = words(args);
    let mut idx = 0;
    while idx < ws.len() && ws[idx].0.first() == Some(&b'-') && ws[idx].0.len() >= 2 {
        let w = &ws[idx].0;
        let letter = w[1];
        let val = w[2..].to_vec();
        match letter {
            b'a' => flags.append = Some(val),
            b'A' => flags.alias_merge = true,
            b'D' => flags.defer_skip = true,
            b'f' => flags.keep_case = true,
            b'm' => flags.match_only = true,
            b'N' => flags.nul_only = true,
            b'O' => flags.no_nul = true,
            b'o' => flags.optional = true,
            b'q' => flags.keep_quotes = true,
            b'S' => flags.space_sub = val.first().copied(),
            b'T' => flags.tempfail_text = Some(val),
            b't' => flags.tempfail_is_notfound = true,
            b'k' => flags.key_col = Some(val),
            b'v' => flags.value_col = Some(val),
            b'z' => flags.delimiter = Some(val),
            b'd' => flags.timeout = Some(val),
            _ => {
                if class.generic_args() {
                    problems.push(MapArgProblem::IllegalOption(letter));
                }
                flags.other.push(w.clone());
            }
        }
        idx += 1;
    }
    let file = ws.get(idx).map(|w| w.0.clone());
    let file_pos = ws.get(idx).map(|w| (w.1, w.2));
    let rest: Vec<Vec<u8>> = ws.iter().skip(idx + 1).map(|w| w.0.clone()).collect();
    if file.is_none() && class.has_file() {
        problems.push(MapArgProblem::NoFileName);
    }
    (flags, file, rest, file_pos, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_map_args() {
        let (f, file, rest, _, p) = parse_args(MapClass::Hash, b"-T<TMPF> -o /etc/mail/access");
        assert_eq!(f.tempfail_text.as_deref(), Some(&b"<TMPF>"[..]));
        assert!(f.optional);
        assert_eq!(file.as_deref(), Some(&b"/etc/mail/access"[..]));
        assert!(rest.is_empty() && p.is_empty());
    }

    #[test]
    fn missing_file_and_bad_flag() {
        let (_, file, _, _, p) = parse_args(MapClass::Btree, b"-x");
        assert!(file.is_none());
        assert_eq!(
            p,
            [
                MapArgProblem::IllegalOption(b'x'),
                MapArgProblem::NoFileName
            ]
        );
    }

    #[test]
    fn class_names() {
        assert_eq!(MapClass::from_name(b"btree"), Some(MapClass::Btree));
        assert_eq!(MapClass::from_name(b"nosuch"), None);
        assert_eq!(
            MapClass::Hash.database_files(b"/etc/mail/access"),
            [b"/etc/mail/access.db".to_vec()]
        );
    }
}
