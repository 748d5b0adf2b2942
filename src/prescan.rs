//! sendmail's tokenizer (`prescan` in parseaddr.c), as a plain function over bytes.
//!
//! Every byte has a class (operator, atom, quote, space, "one": glue the next byte) taken
//! from one of three tables; a small state machine turns the classes into tokens. The same
//! scanner splits R-line sides when the `.cf` is read and addresses when rules run, so it
//! knows nothing of files or rules: it takes bytes in sendmail's internal form (with the
//! metacharacters of [`crate::meta`]) and gives tokens with the input range each came from.

use crate::meta;

/// Limits of one prescan call (sendmail's static buffers).
pub const MAXATOM: usize = 1000;
pub const MAXNAME: usize = 256;
/// Buffer size for addresses and map values (MAXNAME + MAXATOM).
pub const PSBUFSIZE: usize = MAXNAME + MAXATOM;
/// Buffer size used for R lines (MAXLINE + MAXATOM).
pub const RULE_BUFSIZE: usize = 2048 + MAXATOM;

/// The default operator characters when no `OperatorChars` option or `$o` macro is set.
pub const DEFAULT_OPERATORS: &[u8] = b".:@[]";
/// Delimiters that are always operators (where the table has them as atoms).
const FIXED_DELIMITERS: &[u8] = b"()<>,;\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Always a token by itself.
    Opr,
    /// Part of an atom.
    Atm,
    /// A double quote.
    Qst,
    /// A separator, dropped.
    Spc,
    /// This byte and the next form one token.
    One,
}

/// Which of sendmail's three tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// ExtTokenTab: addresses from outside, map results. Metacharacters are atoms.
    External,
    /// IntTokenTab: R lines below V9, map defaults. Parentheses are comments.
    Internal,
    /// TokTypeNoC: R lines and `-bt` input at V9 and above. Parentheses are operators.
    NoComments,
}

/// The three class tables once the operator characters are fixed.
#[derive(Debug, Clone)]
pub struct Tables {
    ext: [Class; 256],
    int: [Class; 256],
    noc: [Class; 256],
    /// Per table: the atom bytes that need nothing but to be added to the open token.
    runs: [[bool; 256]; 3],
}

impl Tables {
    /// Tables with `operators` (already macro-expanded) as the operator characters, plus the
    /// fixed delimiters `()<>,;\r\n`.
    pub fn new(operators: &[u8]) -> Tables {
        let mut ext = [Class::Atm; 256];
        let mut int = [Class::Atm; 256];
        let mut noc = [Class::Atm; 256];
        for t in [&mut ext, &mut int, &mut noc] {
            for b in [0x09u8, 0x0A, 0x0B, 0x0C, 0x0D, 0x20] {
                t[b as usize] = Class::Spc;
            }
            t[b'"' as usize] = Class::Qst;
        }
        ext[b'(' as usize] = Class::Spc;
        ext[b')' as usize] = Class::Spc;
        int[b'(' as usize] = Class::Spc;
        int[b')' as usize] = Class::Spc;
        noc[b'(' as usize] = Class::Opr;
        noc[b')' as usize] = Class::Opr;
        for t in [&mut int, &mut noc] {
            for b in 0x80u8..=0x9F {
                t[b as usize] = Class::Opr;
            }
            for b in [
                meta::MACRODEXPAND,
                meta::MATCHCLASS,
                meta::MATCHNCLASS,
                meta::MATCHREPL,
                meta::METAQUOTE,
            ] {
                t[b as usize] = Class::One;
            }
        }
        for &b in operators.iter().chain(FIXED_DELIMITERS) {
            for t in [&mut ext, &mut int, &mut noc] {
                if t[b as usize] == Class::Atm {
                    t[b as usize] = Class::Opr;
                }
            }
        }
        let run = |t: &[Class; 256]| {
            std::array::from_fn(|b| {
                t[b] == Class::Atm
                    && !matches!(
                        b as u8,
                        0 | b'\\' | b'(' | b')' | b'<' | b'>' | meta::METAQUOTE
                    )
            })
        };
        let runs = [run(&ext), run(&int), run(&noc)];
        Tables {
            ext,
            int,
            noc,
            runs,
        }
    }

    /// Which bytes of `table` continue an atom as they are (see [`Tables`]).
    fn runs(&self, table: Table) -> &[bool; 256] {
        &self.runs[table as usize]
    }

    pub fn class(&self, table: Table, b: u8) -> Class {
        self.table(table)[b as usize]
    }

    /// One whole table.
    pub fn table(&self, table: Table) -> &[Class; 256] {
        match table {
            Table::External => &self.ext,
            Table::Internal => &self.int,
            Table::NoComments => &self.noc,
        }
    }

    /// Whether a token starting with `b` counts as an atom when tokens are joined
    /// (cataddr inserts the blank substitute only between two such tokens).
    pub fn is_atom_start(&self, b: u8) -> bool {
        self.int[b as usize] == Class::Atm
    }
}

/// One token: its bytes and the input range `start..end` it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub bytes: Vec<u8>,
    pub start: usize,
    pub end: usize,
}

/// A problem prescan reports (in reporting mode) or that stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    UnbalancedQuote,
    UnbalancedOpenParen,
    UnbalancedCloseParen,
    UnbalancedOpenAngle,
    UnbalancedCloseAngle,
    TooManyTokens,
    TokenTooLong,
    AddressTooLong,
}

impl Problem {
    /// sendmail's wording.
    pub fn message(&self) -> &'static str {
        match self {
            Problem::UnbalancedQuote => "Unbalanced '\"'",
            Problem::UnbalancedOpenParen => "Unbalanced '('",
            Problem::UnbalancedCloseParen => "Unbalanced ')'",
            Problem::UnbalancedOpenAngle => "Unbalanced '<'",
            Problem::UnbalancedCloseAngle => "Unbalanced '>'",
            Problem::TooManyTokens => "prescan: too many tokens",
            Problem::TokenTooLong => "prescan: token too long",
            Problem::AddressTooLong => "Address too long",
        }
    }

    /// Whether prescan gives no result after this problem.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Problem::TooManyTokens | Problem::TokenTooLong | Problem::AddressTooLong
        )
    }
}

/// How to scan.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub table: Table,
    /// R-line mode: unbalanced quotes, comments and brackets are neither reported nor repaired.
    pub ignore_errors: bool,
    /// The address delimiter (`,` for `-bt` input); `None` for NUL only.
    pub delimiter: Option<u8>,
    /// Byte budget of the token buffer.
    pub bufsize: usize,
}

impl Mode {
    /// The mode used for R-line sides.
    pub fn rule(table: Table) -> Mode {
        Mode {
            table,
            ignore_errors: true,
            delimiter: None,
            bufsize: RULE_BUFSIZE,
        }
    }
}

/// What one scan produced, with tokens of type `T` ([`Token`] for [`prescan`]).
#[derive(Debug, Clone)]
pub struct ScanOf<T> {
    pub tokens: Vec<T>,
    /// Problems in the order met, with the input offset where each was noticed.
    pub problems: Vec<(Problem, usize)>,
    /// Where scanning stopped (the delimiter's offset, or the input length).
    pub consumed: usize,
    /// A fatal problem: sendmail would give "no result".
    pub failed: bool,
}

impl<T> Default for ScanOf<T> {
    fn default() -> Self {
        ScanOf {
            tokens: Vec::new(),
            problems: Vec::new(),
            consumed: 0,
            failed: false,
        }
    }
}

/// A scan into [`Token`]s.
pub type Scan = ScanOf<Token>;

/// Split `input` into tokens.
pub fn prescan(input: &[u8], tables: &Tables, mode: Mode) -> Scan {
    prescan_with(input, tables, mode, |bytes, start, end| Token {
        bytes: bytes.to_vec(),
        start,
        end,
    })
}

/// The token being read, on the stack: the scan stops with an error as soon as it holds
/// more than [`MAXNAME`] bytes, so one more is all the room it needs.
struct TokenBuf {
    bytes: [u8; MAXNAME + 1],
    len: usize,
}

impl TokenBuf {
    fn new() -> TokenBuf {
        TokenBuf {
            bytes: [0; MAXNAME + 1],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    fn extend_from_slice(&mut self, s: &[u8]) {
        self.bytes[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Split `input` into tokens made by `make(bytes, start, end)`: callers that keep tokens
/// in another form build them once, from the scanner's own buffer.
pub fn prescan_with<T>(
    input: &[u8],
    tables: &Tables,
    mode: Mode,
    make: impl FnMut(&[u8], usize, usize) -> T,
) -> ScanOf<T> {
    prescan_into(
        input,
        tables,
        mode,
        Vec::with_capacity(input.len() / 2 + 1),
        make,
    )
}

/// [`prescan_with`] into `tokens` (emptied first), whose buffer the scan keeps.
#[allow(unused_assignments)] // the token macros set state that a later byte may not read
pub fn prescan_into<T>(
    input: &[u8],
    tables: &Tables,
    mode: Mode,
    mut tokens: Vec<T>,
    mut make: impl FnMut(&[u8], usize, usize) -> T,
) -> ScanOf<T> {
    tokens.clear();
    let mut scan: ScanOf<T> = ScanOf {
        tokens,
        ..ScanOf::default()
    };
    let mut state = Class::Atm;
    // The token being read: its bytes, whether one is open, and its input range.
    let mut cur = TokenBuf::new();
    let mut cur_open = false;
    let (mut cur_start, mut cur_end) = (0usize, 0usize);
    let mut total_bytes = 0usize;
    let mut comment_depth = 0usize;
    let mut angle_depth = 0usize;
    let mut route = false;
    let mut i = 0usize;
    // A repair byte to read before the input continues at `i`.
    let mut injected: Option<u8> = None;
    let mut reread_comma = false;

    macro_rules! finish_token {
        () => {
            if cur_open {
                cur_open = false;
                if !cur.is_empty() {
                    if scan.tokens.len() >= MAXATOM {
                        scan.problems.push((Problem::TooManyTokens, cur_start));
                        scan.failed = true;
                        return scan;
                    }
                    total_bytes += cur.len() + 1;
                    if total_bytes > mode.bufsize.saturating_sub(5) {
                        scan.problems.push((Problem::AddressTooLong, cur_start));
                        scan.failed = true;
                        return scan;
                    }
                    scan.tokens.push(make(cur.as_slice(), cur_start, cur_end));
                }
                cur.clear();
            }
        };
    }
    macro_rules! push_byte {
        ($b:expr, $at:expr, $end:expr) => {{
            if !cur_open {
                cur_open = true;
                cur_start = $at;
            }
            cur.push($b);
            cur_end = $end;
            if cur.len() > MAXNAME {
                scan.problems.push((Problem::TokenTooLong, cur_start));
                scan.failed = true;
                return scan;
            }
        }};
    }

    let classes = tables.table(mode.table);
    let runs = tables.runs(mode.table);
    // NUL never continues an atom: it stands for "no delimiter".
    let delimiter = mode.delimiter.unwrap_or(0);
    loop {
        // Fast path: the rest of an atom. Atom bytes that need no special handling go
        // straight into the open token (the state machine would keep them there too).
        if state == Class::Atm && cur_open && injected.is_none() && comment_depth == 0 {
            let run = input[i.min(input.len())..]
                .iter()
                .take_while(|&&b| runs[b as usize] && b != delimiter)
                .count();
            if run > 0 {
                if cur.len() + run > MAXNAME {
                    scan.problems.push((Problem::TokenTooLong, cur_start));
                    scan.failed = true;
                    return scan;
                }
                cur.extend_from_slice(&input[i..i + run]);
                i += run;
                cur_end = i;
                reread_comma = false;
            }
        }
        // Fetch the next byte (or a repair byte).
        let (c, at, from_input) = if let Some(b) = injected.take() {
            (Some(b), i, false)
        } else if i < input.len() && input[i] != 0 {
            (Some(input[i]), i, true)
        } else {
            (None, i, false)
        };
        let in_quote = state == Class::Qst;
        let Some(c) = c else {
            // End of input.
            if mode.ignore_errors {
                break;
            }
            if in_quote {
                scan.problems.push((Problem::UnbalancedQuote, at));
                injected = Some(b'"');
                continue;
            }
            if comment_depth > 0 {
                scan.problems.push((Problem::UnbalancedOpenParen, at));
                injected = Some(b')');
                continue;
            }
            if angle_depth > 0 {
                scan.problems.push((Problem::UnbalancedOpenAngle, at));
                injected = Some(b'>');
                continue;
            }
            break;
        };
        let next_i = if from_input { i + 1 } else { i };

        // The address delimiter.
        if Some(c) == mode.delimiter && !in_quote && comment_depth == 0 && from_input {
            if angle_depth == 0 || reread_comma {
                if angle_depth == 0 {
                    break;
                }
            } else if !route && !mode.ignore_errors {
                scan.problems.push((Problem::UnbalancedOpenAngle, at));
                injected = Some(b'>');
                reread_comma = true;
                continue;
            }
        }
        reread_comma = false;

        // Backslash: the next byte is taken literally.
        if c == b'\\' && from_input {
            let next = input.get(i + 1).copied().filter(|&b| b != 0);
            match next {
                None => {
                    i = next_i;
                    continue;
                }
                Some(n) => {
                    if comment_depth > 0 && !in_quote {
                        i += 2;
                        continue;
                    }
                    if n == b'!' && !in_quote {
                        i = next_i;
                        continue;
                    }
                    // `\` runs through the state machine as an atom byte, the next byte is
                    // glued on without it.
                    if !in_quote {
                        let st = state;
                        if matches!(st, Class::Opr | Class::One) {
                            finish_token!();
                        }
                        state = Class::Atm;
                    }
                    push_byte!(b'\\', i, i + 1);
                    push_byte!(if n == meta::METAQUOTE { 0x7F } else { n }, i + 1, i + 2);
                    i += 2;
                    continue;
                }
            }
        }

        let table_has_comments = mode.table != Table::NoComments;
        if !in_quote {
            if comment_depth > 0 {
                if c == b'(' && table_has_comments {
                    comment_depth += 1;
                } else if c == b')' && table_has_comments {
                    comment_depth -= 1;
                }
                i = next_i;
                continue;
            }
            if c == b'(' && table_has_comments {
                comment_depth += 1;
                finish_token!();
                state = Class::Spc;
                i = next_i;
                continue;
            }
            if c == b')' && table_has_comments {
                if !mode.ignore_errors {
                    // Reported and dropped: it does not even separate tokens.
                    scan.problems.push((Problem::UnbalancedCloseParen, at));
                    i = next_i;
                    continue;
                }
                finish_token!();
                state = Class::Spc;
                i = next_i;
                continue;
            }
            if c == b'<' {
                angle_depth += 1;
                let rest = &input[next_i.min(input.len())..];
                route = rest
                    .iter()
                    .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                    .is_some_and(|&b| b == b'@');
            } else if c == b'>' {
                if angle_depth == 0 {
                    if !mode.ignore_errors {
                        scan.problems.push((Problem::UnbalancedCloseAngle, at));
                        i = next_i;
                        continue;
                    }
                } else {
                    angle_depth -= 1;
                    route = false;
                }
            }
        }

        let class = classes[c as usize];
        let stored = if c == meta::METAQUOTE { 0x7F } else { c };
        let (new_state, brk, drop) = match (state, class) {
            (Class::Qst, Class::Qst) => (Class::Opr, false, false),
            (Class::Qst, _) => (Class::Qst, false, false),
            (Class::One, _) => (Class::Opr, false, false),
            (_, Class::Spc) => (Class::Spc, true, true),
            (Class::Spc, k) => (k, false, false),
            (Class::Atm, Class::Atm) => (Class::Atm, false, false),
            (_, k) => (k, true, false),
        };
        if brk {
            finish_token!();
        }
        if !drop {
            push_byte!(stored, at, next_i.max(at + 1));
        }
        state = new_state;
        i = next_i;
    }
    finish_token!();
    scan.consumed = i.min(input.len());
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(input: &[u8], table: Table) -> Vec<String> {
        let t = Tables::new(b".:%@!^/[]+");
        let mode = Mode {
            table,
            ignore_errors: false,
            delimiter: None,
            bufsize: PSBUFSIZE,
        };
        prescan(input, &t, mode)
            .tokens
            .into_iter()
            .map(|t| String::from_utf8_lossy(&t.bytes).into_owned())
            .collect()
    }

    // The worked examples of cf-semantics §2.5.
    #[test]
    fn worked_examples() {
        assert_eq!(
            toks(b"foo@bar.com", Table::External),
            ["foo", "@", "bar", ".", "com"]
        );
        assert_eq!(
            toks(b"\"foo bar\"@x", Table::External),
            ["\"foo bar\"", "@", "x"]
        );
        assert_eq!(toks(b"a\"b\"c", Table::External), ["a", "\"b\"", "c"]);
        assert_eq!(toks(b"a(b)c", Table::NoComments), ["a", "(", "b", ")", "c"]);
        assert_eq!(toks(b"a(b)c", Table::External), ["a", "c"]);
        assert_eq!(toks(b"a\\(b", Table::External), ["a\\(b"]);
        assert_eq!(toks(b"a\\b\\", Table::External), ["a\\b"]);
        assert_eq!(toks(b"a;b", Table::External), ["a", ";", "b"]);
        assert_eq!(toks(b"5.1.1", Table::External), ["5", ".", "1", ".", "1"]);
        assert_eq!(toks(b"a\\!b", Table::External), ["a", "!", "b"]);
    }

    #[test]
    fn metacharacters_in_rules() {
        let t = Tables::new(b".:%@!^/[]+");
        let m = Mode::rule(Table::NoComments);
        let s = prescan(&[0x93, b'w'], &t, m);
        assert_eq!(s.tokens.len(), 1);
        assert_eq!(s.tokens[0].bytes, [0x93, b'w']);
        let s = prescan(&[0x95, b'1', 0x95, b'2'], &t, m);
        assert_eq!(s.tokens.len(), 2);
        let s = prescan(&[0x99, b'3'], &t, m);
        assert_eq!(s.tokens.len(), 2);
        let s = prescan(&[0x90, b'<', 0x90, b'>'], &t, m);
        assert_eq!(s.tokens.len(), 4);
    }

    #[test]
    fn unbalanced_close_angle_is_dropped() {
        assert_eq!(toks(b"a>b", Table::External), ["ab"]);
    }

    #[test]
    fn token_too_long_fails() {
        let t = Tables::new(DEFAULT_OPERATORS);
        let long = vec![b'a'; 300];
        let s = prescan(&long, &t, Mode::rule(Table::Internal));
        assert!(s.failed);
        assert_eq!(s.problems[0].0, Problem::TokenTooLong);
    }
}
