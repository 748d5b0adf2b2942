//! Printing the IR: a stable text form for diffing (`--emit ir`) and JSON (`--emit json`).
//!
//! Tokens are written the way a `.cf` writes them (`$*`, `$=w`, `$&{client_addr}`, `$1`),
//! literal bytes outside printable ASCII as `\xNN`. Rulesets come in number order, maps and
//! mailers in declaration order, so the output only changes when the configuration does.

use serde_json::{Value, json};

use super::macros::MacroTable;
use super::rule::{Node, PatOp, Prefix};
use super::{Ir, MapDecl, Rule};
use crate::bytes::escape;
use crate::cf::SourceFile;
use crate::meta;

/// One token as a person writes it in a `.cf`.
pub fn token(bytes: &[u8], macros: &MacroTable) -> String {
    let name = |id: u8| macros.name(id).display();
    match bytes {
        [m, id] if *m == meta::MATCHCLASS => format!("$={}", name(*id)),
        [m, id] if *m == meta::MATCHNCLASS => format!("$~{}", name(*id)),
        [m, id] if *m == meta::MACRODEXPAND => format!("$&{}", name(*id)),
        [m, d] if *m == meta::MATCHREPL => format!("${}", *d as char),
        [m] if meta::meta_letter(*m).is_some() => {
            format!("${}", meta::meta_letter(*m).unwrap_or(b'?') as char)
        }
        _ => {
            let mut s = String::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == meta::METAQUOTE && i + 1 < bytes.len() {
                    i += 1;
                }
                s.push_str(&escape(&bytes[i..i + 1]));
                i += 1;
            }
            s
        }
    }
}

/// A token as sendmail prints it (`xputs` in util.c; cf-semantics §5.4): metacharacters
/// as `$x`, class and macro ids by name, control bytes other than TAB/LF/CR dropped,
/// 8-bit bytes as `M-` and the byte without its high bit.
pub fn xputs(bytes: &[u8], macros: &MacroTable) -> String {
    fn plain(out: &mut String, b: u8) {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7E => out.push(b as char),
            0x80..=0xFF => {
                out.push_str("M-");
                plain(out, b & 0x7F);
            }
            _ => {}
        }
    }
    let name = |id: u8| -> String {
        if id >= 0x80 {
            match macros.name(id) {
                crate::cf::MacroName::Long(n) => format!("{{{}}}", String::from_utf8_lossy(&n)),
                crate::cf::MacroName::Short(_) => "{***UNDEFINED MACRO***}".to_string(),
            }
        } else {
            let mut s = String::new();
            plain(&mut s, id);
            s
        }
    };
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            meta::MATCHREPL => {
                out.push('$');
                if let Some(&d) = bytes.get(i + 1) {
                    plain(&mut out, d);
                }
                i += 2;
            }
            meta::MACROEXPAND | meta::MACRODEXPAND => {
                out.push_str(if b == meta::MACROEXPAND { "$" } else { "$&" });
                i += 1;
                if let Some(&c) = bytes.get(i)
                    && matches!(c, b'=' | b'~' | b'&' | b'?')
                {
                    out.push(c as char);
                    i += 1;
                }
                if let Some(&id) = bytes.get(i) {
                    out.push_str(&name(id));
                }
                i += 1;
            }
            meta::MATCHCLASS | meta::MATCHNCLASS => {
                out.push_str(if b == meta::MATCHCLASS { "$=" } else { "$~" });
                if let Some(&id) = bytes.get(i + 1) {
                    out.push_str(&name(id));
                }
                i += 2;
            }
            _ => {
                match meta::meta_letter(b) {
                    Some(l) if (0x80..=0x9F).contains(&b) => {
                        out.push('$');
                        out.push(l as char);
                    }
                    _ => plain(&mut out, b),
                }
                i += 1;
            }
        }
    }
    out
}

/// The tokens of a compiled LHS, as sendmail stores them.
pub fn pattern_tokens(p: &crate::ir::Pattern) -> Vec<Vec<u8>> {
    p.ops
        .iter()
        .map(|o| match o {
            PatOp::Literal(b) => b.clone(),
            PatOp::ZeroOrMore => vec![meta::MATCHZANY],
            PatOp::OneOrMore => vec![meta::MATCHANY],
            PatOp::One => vec![meta::MATCHONE],
            PatOp::Class(id) => vec![meta::MATCHCLASS, *id],
            PatOp::NotClass(id) => vec![meta::MATCHNCLASS, *id],
            PatOp::Zero => vec![meta::CANONHOST],
            PatOp::Macro(id) => vec![meta::MACRODEXPAND, *id],
        })
        .collect()
}

/// A rule the way `sendmail -bt` prints it for `=S`: every token followed by a blank, the
/// LHS and RHS separated by two TABs.
pub fn sendmail_rule(r: &Rule, macros: &MacroTable) -> String {
    let mut s = String::from("R");
    for t in pattern_tokens(&r.lhs) {
        s.push_str(&xputs(&t, macros));
        s.push(' ');
    }
    s.push_str("\t\t");
    match r.rhs.prefix {
        Prefix::Once => s.push_str("$: "),
        Prefix::Return => s.push_str("$@ "),
        Prefix::Repeat => {}
    }
    for t in &r.rhs.tokens {
        s.push_str(&xputs(&t.bytes, macros));
        s.push(' ');
    }
    s
}

fn op(o: &PatOp, macros: &MacroTable) -> String {
    let name = |id: u8| macros.name(id).display();
    match o {
        PatOp::Literal(b) => token(b, macros),
        PatOp::ZeroOrMore => "$*".into(),
        PatOp::OneOrMore => "$+".into(),
        PatOp::One => "$-".into(),
        PatOp::Class(id) => format!("$={}", name(*id)),
        PatOp::NotClass(id) => format!("$~{}", name(*id)),
        PatOp::Zero => "$@".into(),
        PatOp::Macro(id) => format!("$&{}", name(*id)),
    }
}

fn nodes(ns: &[Node], macros: &MacroTable) -> String {
    ns.iter()
        .map(|n| node(n, macros))
        .collect::<Vec<_>>()
        .join(" ")
}

fn node(n: &Node, macros: &MacroTable) -> String {
    match n {
        Node::Token(t) => token(&t.bytes, macros),
        Node::Bound(d, _) => format!("${d}"),
        Node::Deferred(id, _) => format!("$&{}", macros.name(*id).display()),
        Node::Lookup(l) => {
            let mut s = match &l.map {
                Some(m) => format!("lookup({}", token(&m.bytes, macros)),
                None => "host(".to_string(),
            };
            s.push_str(&format!(" key=[{}]", nodes(&l.key, macros)));
            for (i, a) in l.args.iter().enumerate() {
                s.push_str(&format!(" %{}=[{}]", i + 1, nodes(a, macros)));
            }
            if let Some(d) = &l.default {
                s.push_str(&format!(" default=[{}]", nodes(d, macros)));
            }
            if !l.closed {
                s.push_str(" UNCLOSED");
            }
            s.push(')');
            s
        }
        Node::Call { target, input, .. } => {
            format!("call({} [{}])", escape(target), nodes(input, macros))
        }
        Node::Resolve {
            mailer, host, user, ..
        } => {
            let mut s = format!("resolve(mailer=[{}]", nodes(mailer, macros));
            if let Some(h) = host {
                s.push_str(&format!(" host=[{}]", nodes(h, macros)));
            }
            if let Some(u) = user {
                s.push_str(&format!(" user=[{}]", nodes(u, macros)));
            }
            s.push(')');
            s
        }
    }
}

fn prefix(p: Prefix) -> &'static str {
    match p {
        Prefix::Repeat => "repeat",
        Prefix::Once => "once",
        Prefix::Return => "return",
    }
}

fn map_flags(m: &MapDecl) -> Vec<String> {
    let f = &m.flags;
    let mut out = Vec::new();
    let mut opt = |c: char, v: &Option<Vec<u8>>| {
        if let Some(v) = v {
            out.push(format!("-{c}{}", escape(v)));
        }
    };
    opt('a', &f.append);
    opt('T', &f.tempfail_text);
    opt('k', &f.key_col);
    opt('v', &f.value_col);
    opt('z', &f.delimiter);
    opt('d', &f.timeout);
    for (on, s) in [
        (f.alias_merge, "-A"),
        (f.defer_skip, "-D"),
        (f.keep_case, "-f"),
        (f.match_only, "-m"),
        (f.nul_only, "-N"),
        (f.no_nul, "-O"),
        (f.optional, "-o"),
        (f.keep_quotes, "-q"),
        (f.tempfail_is_notfound, "-t"),
    ] {
        if on {
            out.push(s.to_string());
        }
    }
    if let Some(c) = f.space_sub {
        out.push(format!("-S{}", escape(&[c])));
    }
    out.extend(f.other.iter().map(|o| escape(o)));
    out
}

fn line_of(file: &SourceFile, span: crate::cf::Span) -> usize {
    file.locate(span.start as usize).line
}

fn skip_info(r: &Rule) -> String {
    let p = &r.lhs;
    let max = p.max_len.map_or("-".to_string(), |m| m.to_string());
    let first = p.first.as_deref().map_or("-".to_string(), escape);
    let last = p.last.as_deref().map_or("-".to_string(), escape);
    format!("min={} max={max} first={first} last={last}", p.min_len)
}

/// The stable text form.
pub fn text(ir: &Ir, file: &SourceFile) -> String {
    let m = &ir.macros;
    let mut s = String::new();
    s.push_str(&format!(
        "config level={} vendor={}\n",
        ir.level,
        ir.vendor.as_deref().map_or("-".into(), escape)
    ));
    s.push_str(&format!(
        "tokenizer operators=\"{}\" blanksub=\"{}\"\n",
        escape(&ir.operators),
        escape(&[ir.blank_sub])
    ));
    for map in ir.maps.values() {
        s.push_str(&format!(
            "\nmap {} class={} line={}",
            escape(&map.name),
            map.class.name(),
            map.spans.first().map_or(0, |s| line_of(file, *s))
        ));
        if let Some(f) = &map.file {
            s.push_str(&format!(" file=\"{}\"", escape(f)));
        }
        let flags = map_flags(map);
        if !flags.is_empty() {
            s.push_str(&format!(" flags=[{}]", flags.join(" ")));
        }
        if !map.args.is_empty() {
            let args: Vec<String> = map.args.iter().map(|a| escape(a)).collect();
            s.push_str(&format!(" args=[{}]", args.join(" ")));
        }
        s.push_str(&format!(" spacesub=\"{}\"", escape(&[map.space_sub])));
    }
    if !ir.maps.is_empty() {
        s.push('\n');
    }
    for mailer in ir.mailers.values() {
        s.push_str(&format!(
            "\nmailer {} line={}",
            escape(&mailer.name),
            line_of(file, mailer.span)
        ));
        for (k, v) in &mailer.fields {
            s.push_str(&format!(" {}={}", escape(k), escape(v)));
        }
    }
    if !ir.mailers.is_empty() {
        s.push('\n');
    }
    for rs in ir.rulesets.values() {
        s.push_str(&format!(
            "\nruleset {} name={} rules={}\n",
            rs.number,
            rs.name.as_deref().map_or("-".into(), escape),
            rs.rules.len()
        ));
        for (i, r) in rs.rules.iter().enumerate() {
            s.push_str(&format!(
                "  rule {} line={} {}\n",
                i + 1,
                line_of(file, r.span),
                skip_info(r)
            ));
            s.push_str(&format!(
                "    lhs {}\n",
                r.lhs
                    .ops
                    .iter()
                    .map(|o| op(o, m))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
            s.push_str(&format!(
                "    rhs {} {}\n",
                prefix(r.rhs.prefix),
                nodes(&r.rhs.nodes, m)
            ));
        }
    }
    s
}

fn node_json(n: &Node, m: &MacroTable) -> Value {
    let list = |ns: &[Node]| Value::Array(ns.iter().map(|n| node_json(n, m)).collect());
    match n {
        Node::Token(t) => json!({"token": token(&t.bytes, m)}),
        Node::Bound(d, _) => json!({"bound": d}),
        Node::Deferred(id, _) => json!({"macro": m.name(*id).display()}),
        Node::Lookup(l) => json!({
            "lookup": {
                "map": l.map.as_ref().map(|t| token(&t.bytes, m)),
                "host": l.map.is_none(),
                "key": list(&l.key),
                "args": l.args.iter().map(|a| list(a)).collect::<Vec<_>>(),
                "default": l.default.as_ref().map(|d| list(d)),
                "closed": l.closed,
            }
        }),
        Node::Call { target, input, .. } => json!({
            "call": { "ruleset": escape(target), "input": list(input) }
        }),
        Node::Resolve {
            mailer, host, user, ..
        } => json!({
            "resolve": {
                "mailer": list(mailer),
                "host": host.as_ref().map(|h| list(h)),
                "user": user.as_ref().map(|u| list(u)),
            }
        }),
    }
}

/// The JSON form.
pub fn json(ir: &Ir, file: &SourceFile) -> Value {
    let m = &ir.macros;
    let maps: Vec<Value> = ir
        .maps
        .values()
        .map(|map| {
            json!({
                "name": escape(&map.name),
                "class": map.class.name(),
                "file": map.file.as_deref().map(escape),
                "flags": map_flags(map),
                "args": map.args.iter().map(|a| escape(a)).collect::<Vec<_>>(),
                "spacesub": escape(&[map.space_sub]),
                "line": map.spans.first().map_or(0, |s| line_of(file, *s)),
            })
        })
        .collect();
    let mailers: Vec<Value> = ir
        .mailers
        .values()
        .map(|mm| {
            json!({
                "name": escape(&mm.name),
                "line": line_of(file, mm.span),
                "fields": mm.fields.iter().map(|(k, v)| json!([escape(k), escape(v)])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let rulesets: Vec<Value> = ir
        .rulesets
        .values()
        .map(|rs| {
            json!({
                "number": rs.number,
                "name": rs.name.as_deref().map(escape),
                "rules": rs.rules.iter().map(|r| json!({
                    "line": line_of(file, r.span),
                    "lhs": r.lhs.ops.iter().map(|o| op(o, m)).collect::<Vec<_>>(),
                    "bindings": r.lhs.bindings,
                    "min_len": r.lhs.min_len,
                    "max_len": r.lhs.max_len,
                    "first": r.lhs.first.as_deref().map(escape),
                    "last": r.lhs.last.as_deref().map(escape),
                    "prefix": prefix(r.rhs.prefix),
                    "rhs": r.rhs.nodes.iter().map(|n| node_json(n, m)).collect::<Vec<_>>(),
                    "rhs_tokens": r.rhs.tokens.iter().map(|t| token(&t.bytes, m)).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "level": ir.level,
        "vendor": ir.vendor.as_deref().map(escape),
        "operators": escape(&ir.operators),
        "blanksub": escape(&[ir.blank_sub]),
        "maps": maps,
        "mailers": mailers,
        "rulesets": rulesets,
    })
}
