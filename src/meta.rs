//! sendmail's internal metacharacters (`sendmail.h`, "Special characters in rewriting
//! rules"). The `.cf` reader turns `$`-syntax into these single bytes and every later stage
//! (tokenizer classes, matcher, printer) works on them, exactly as sendmail does, so that
//! literal text that looks like a metasymbol (a typed `$|`) stays distinct from it.

/// `$x`: macro reference, expanded while reading.
pub const MACROEXPAND: u8 = 0x81;
/// `$&x`: deferred macro reference, expanded at run time.
pub const MACRODEXPAND: u8 = 0x82;
/// `$(`: map lookup start.
pub const LOOKUPBEGIN: u8 = 0x85;
/// `$)`: map lookup end.
pub const LOOKUPEND: u8 = 0x86;
/// `$*`: zero or more tokens.
pub const MATCHZANY: u8 = 0x90;
/// `$+`: one or more tokens.
pub const MATCHANY: u8 = 0x91;
/// `$-`: exactly one token.
pub const MATCHONE: u8 = 0x92;
/// `$=X`: a phrase in class X; the class id byte follows.
pub const MATCHCLASS: u8 = 0x93;
/// `$~X`: one token not in class X; the class id byte follows.
pub const MATCHNCLASS: u8 = 0x94;
/// `$n`: replacement of binding n; the ASCII digit follows.
pub const MATCHREPL: u8 = 0x95;
/// `$#`: mailer / resolved marker.
pub const CANONNET: u8 = 0x96;
/// `$@`: return prefix, host part, map argument separator; zero tokens on the LHS.
pub const CANONHOST: u8 = 0x97;
/// `$:`: once prefix, user part, map default separator.
pub const CANONUSER: u8 = 0x98;
/// `$>`: call a ruleset.
pub const CALLSUBR: u8 = 0x99;
/// `$?x`: conditional start (read time).
pub const CONDIF: u8 = 0x9A;
/// `$|`: conditional else; elsewhere a plain separator token.
pub const CONDELSE: u8 = 0x9B;
/// `$.`: conditional end; elsewhere a plain token.
pub const CONDFI: u8 = 0x9C;
/// `$[`: host lookup start.
pub const HOSTBEGIN: u8 = 0x9D;
/// `$]`: host lookup end.
pub const HOSTEND: u8 = 0x9E;
/// The next byte is literal.
pub const METAQUOTE: u8 = 0xFF;

/// First id given to a `{long}` macro or class name.
pub const FIRST_LONG_ID: u8 = 0xA0;

/// The ASCII letter sendmail writes after `$` for a one-byte metacharacter.
pub fn meta_letter(b: u8) -> Option<u8> {
    Some(match b {
        MACROEXPAND => b'$',
        MACRODEXPAND => b'&',
        LOOKUPBEGIN => b'(',
        LOOKUPEND => b')',
        MATCHZANY => b'*',
        MATCHANY => b'+',
        MATCHONE => b'-',
        MATCHCLASS => b'=',
        MATCHNCLASS => b'~',
        CANONNET => b'#',
        CANONHOST => b'@',
        CANONUSER => b':',
        CALLSUBR => b'>',
        CONDIF => b'?',
        CONDELSE => b'|',
        CONDFI => b'.',
        HOSTBEGIN => b'[',
        HOSTEND => b']',
        _ => return None,
    })
}

/// The macros sendmail defines at start-up whose values are metacharacters
/// (`initmacros`): `$*` is "the value of macro `*`", and so on.
pub const META_MACROS: &[(u8, u8)] = &[
    (b'*', MATCHZANY),
    (b'+', MATCHANY),
    (b'-', MATCHONE),
    (b'=', MATCHCLASS),
    (b'~', MATCHNCLASS),
    (b'#', CANONNET),
    (b'@', CANONHOST),
    (b':', CANONUSER),
    (b'>', CALLSUBR),
    (b'?', CONDIF),
    (b'|', CONDELSE),
    (b'.', CONDFI),
    (b'[', HOSTBEGIN),
    (b']', HOSTEND),
    (b'(', LOOKUPBEGIN),
    (b')', LOOKUPEND),
    (b'&', MACRODEXPAND),
];

/// Whether `b` is in the metacharacter range that the reader protects with METAQUOTE.
pub fn needs_metaquote(b: u8) -> bool {
    (0x80..=0x9F).contains(&b) || b == METAQUOTE
}
