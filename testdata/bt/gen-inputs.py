#!/usr/bin/env python3
"""Write the long, generated `input` files of testdata/bt (README.md there).

    python3 testdata/bt/gen-inputs.py      then ./regen.sh to record what sendmail says

The lists are cross products of local parts, domains and address forms; the output is
deterministic (no randomness), so rerunning it changes nothing unless this file changes.
The other cases' inputs are written by hand.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

FORMS = [
    "{l}@{d}",
    "<{l}@{d}>",
    "Some Body <{l}@{d}>",
    "{l}@{d} (a comment)",
    "<@relay.example.net:{l}@{d}>",
    "{d}!{l}",
    "{l}%{d}@relay.example.net",
]


def write(case, lines):
    data = b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines)
    with open(os.path.join(HERE, case, "input"), "wb") as f:
        f.write(data)


def odd_senders(rs, dom):
    """Edge cases every junk-mail case gets: null sender, empty, broken syntax, 8-bit,
    lengths at the -bt limits."""
    long_local = "x" * (255 - len("@" + dom))
    out = [
        f"{rs} <>",
        f"{rs} < >",
        f"{rs} <<>>",
        f"{rs}",
        f"{rs} ",
        f"{rs} ()",
        f"{rs} (only a comment)",
        f"{rs} <<honey@{dom}>>",
        f"{rs} honey@{dom}, other@example.com",
        f"{rs} honey@{dom},other@{dom}",
        f'{rs} "unbalanced@{dom}',
        f"{rs} <honey@{dom}",
        f"{rs} honey@{dom}>",
        f"{rs} honey@{dom})",
        f"{rs} honey@({dom}",
        f"{rs} honey@{dom}\\",
        f"{rs} h\\oney@{dom}",
        f"{rs} h\\@ney@{dom}",
        f'{rs} "honey"@{dom}',
        f'{rs} "ho ney"@{dom}',
        f'{rs} "ho\\"ney"@{dom}',
        f"{rs} honey @ {dom}",
        f"{rs} honey@{dom}.",
        f"{rs} honey@{dom}..",
        f"{rs} honey@.{dom}",
        f"{rs} @{dom}",
        f"{rs} honey@",
        f"{rs} honey",
        f"{rs} honey@[192.0.2.1]",
        f"{rs} <honey@[IPv6:2001:db8::1]>",
        f"{rs} <@a.example,@b.example:honey@{dom}>",
        f"{rs} honey@{dom};",
        f"{rs} honey@{dom}:x",
        f"{rs} group: honey@{dom};",
        f"{rs} {long_local}@{dom}",
        f"{rs} {long_local}x@{dom}",
        f"{rs} {'a' * 257}@{dom}",
        f"{rs} {'a.' * 120}{dom}",
        f"{rs}\thoney@{dom}",
        f"  {rs} honey@{dom}",
        f"{rs}  honey@{dom}",
    ]
    out += [
        f"{rs} caf\xe9@{dom}".encode("latin-1"),
        f"{rs} honey@{dom}\xa0".encode("latin-1"),
        f"{rs} \xff\xfe@{dom}".encode("latin-1"),
        f"{rs} honey\x80@{dom}".encode("latin-1"),
        f"{rs} honey@{dom}\x9f".encode("latin-1"),
        f"{rs} caf\xc3\xa9@{dom}".encode("latin-1"),
        f"{rs} honey@{dom}\r".encode(),
        f"{rs} ho\x01ney@{dom}".encode(),
    ]
    return out


def junk1():
    locals_ = ["honey", "John.Doe", "a+b", '"john doe"']
    listed = [
        "natureplus.com",
        "NaturePlus.COM",
        "mail.natureplus.com",
        "a.b.natureplus.com",
        "bulk-offers.example",
        "cheap-pills.example",
        "MX1.Cheap-Pills.Example",
        "natureplus.com.",
    ]
    unlisted = [
        "example.com",
        "natureplus.com.evil.org",
        "notnatureplus.com",
        "natureplus.co",
        "vm.example.com",
        "localhost",
        "partner.example.net",
        "sub.partner.example.net",
        "spammer.example",
        "backup.example.org",
        "[192.0.2.1]",
    ]
    lines = ["# junk1: the example configuration's check_mail and check_rcpt"]
    for d in listed + unlisted:
        for form in FORMS:
            for l in locals_:
                lines.append("check_mail " + form.format(l=l, d=d))
    lines += odd_senders("check_mail", "natureplus.com")
    lines += odd_senders("check_mail", "example.com")[:12]
    for d in listed + unlisted:
        for form in FORMS[:3]:
            lines.append("check_rcpt " + form.format(l="postmaster", d=d))
    lines.append("check_rcpt postmaster")
    lines.append("check_rcpt <>")
    for d in ["natureplus.com", "partner.example.net", "vm.example.com", "x.example"]:
        lines.append(f"3,0 honey@{d}")
        lines.append(f"3 <honey@{d}>")
        lines.append(f"0 honey<@{d}>")
    lines.append("3,0 <>")
    lines.append("3,0 honey")
    for k in ["natureplus.com", "NATUREPLUS.COM", "mail.natureplus.com", "nosuch.example", ""]:
        lines.append(f"/map junkmail {k}".rstrip())
    for k in ["partner.example.net", "spammer.example", "other.example"]:
        lines.append(f"/map access {k}")
    lines += ["$=w", "$j", "=Scheck_mail", "=Scheck_rcpt", "=S3"]
    write("junk1", lines)
    # The same configuration without the optional access map.
    write(
        "junk1-noaccess",
        [l for l in lines if isinstance(l, str) and l.startswith(("check_rcpt", "/map access"))],
    )


def junk2():
    locals_ = ["spam", "Spam", "offers", "john.doe", "honey"]
    domains = [
        "example.com",
        "Example.COM",
        "partner.example.org",
        "example.net",
        "natureplus.com",
        "deep.sub.natureplus.com",
        "mail.example.com",
        "casino.example",
        "www.casino.example",
        "pharma.example.org",
        "example.org",
        "123abc.biz",
        "42.top",
        "7-x.info",
        "abc.biz",
        "trusted.example.org",
        "partner.example.net",
        "vm.example.com",
    ]
    lines = ["# junk2: badip/junkuser/junkdom/regex/sequence check_mail"]
    for d in domains:
        for l in locals_:
            lines.append(f"check_mail <{l}@{d}>")
        lines.append(f"check_mail {locals_[0]}@{d}")
    for ip in ["192.0.2.66", "198.51.100.99", "192.0.2.1", "203.0.113.5", ""]:
        lines.append(f".D{{client_addr}}{ip}")
        for d in ["example.org", "natureplus.com", "42.top"]:
            lines.append(f"check_mail <honey@{d}>")
        lines.append("check_mail <>")
        lines.append("$&{client_addr}")
        lines.append("${client_addr}")
    lines += odd_senders("check_mail", "natureplus.com")
    for d in domains[:8]:
        lines.append(f"check_rcpt <postmaster@{d}>")
    lines.append("check_rcpt <postmaster@vm.example.com>")
    for k in ["natureplus.com", "42.top", "casino.example", "nothing.example", "123.INFO"]:
        lines.append(f"/map junkseq {k}")
        lines.append(f"/map junkre {k}")
    for k in ["Spam@Example.COM", "spam@example.com", "SPAM@EXAMPLE.COM"]:
        lines.append(f"/map junkuser {k}")
    lines += ["/map oldjunk x", "/map badip 192.0.2.66", "=Sjunkwalk", "=Scheck_mail", "$=J"]
    lines += ["junkwalk a.b.c.natureplus.com", "junkwalk", "junkwalk natureplus.com.evil"]
    write("junk2", lines)


def m4feat():
    addrs = [
        "alice",
        "alice@vm.example.com",
        "Alice@VM.Example.COM",
        "alice@example.com",
        "bob@localhost",
        "info@virtual.example",
        "sales@virtual.example",
        "nobody@virtual.example",
        "anyone@catchall.example",
        "user@routed.example",
        "user@sub.routed.example",
        "user@bad.example",
        "user@other.org",
        "user@partner.example.net",
        "user@mail.example.com",
        "<@relay.example.net:user@other.org>",
        "<@a.example,@b.example:user@other.org>",
        "host1!host2!user",
        "user%other.org@vm.example.com",
        '"john doe"@other.org',
        "user@[192.0.2.20]",
        "user@[192.0.2.99]",
        "Some Body <user@other.org>",
        "user@other.org (comment)",
        "user@other.org.",
        "<>",
        "user@",
        "@other.org",
    ]
    lines = ["# m4feat: an m4-generated sendmail.cf with access_db, mailertable, virtusertable"]
    for a in addrs:
        lines.append(f"3,0 {a}")
    for a in addrs:
        lines.append(f"check_mail <{a}>" if not a.startswith("<") else f"check_mail {a}")
    senders = [
        "spammer@example.org",
        "other@example.org",
        "x@junk.example",
        "x@bulk.example",
        "x@sub.bulk.example",
        "abuse@example.net",
    ]
    for s in senders:
        lines.append(f"check_mail <{s}>")
    for a in addrs:
        lines.append(f"check_rcpt <{a}>" if not a.startswith("<") else f"check_rcpt {a}")
    for ip in ["192.0.2.66", "192.0.2.5", "203.0.113.1"]:
        lines.append(f".D{{client_addr}}{ip}")
        for r in ["user@other.org", "user@partner.example.net", "user@closed.example", "user@busy.example", "alice@vm.example.com"]:
            lines.append(f"check_rcpt <{r}>")
        for h in ["badhost.example", "[192.0.2.66]", "good.example"]:
            lines.append(f"check_relay {h}")
    for a in addrs[:12]:
        lines.append(f"/parse {a}")
    for a in ["user@other.org", "alice", "Some Body <user@other.org>"]:
        lines.append(f"/try esmtp {a}")
        lines.append(f"/try local {a}")
    lines.append("/tryflags hs")
    lines.append("/try esmtp user@other.org")
    for k in ["Connect:192.0.2.66", "To:partner.example.net", "From:spammer@example.org", "nothing", "connect:192.0.2.66"]:
        lines.append(f"/map access {k}")
    for k in ["routed.example", ".routed.example", "other.org"]:
        lines.append(f"/map mailertable {k}")
    for k in ["info@virtual.example", "@virtual.example", "x@y"]:
        lines.append(f"/map virtuser {k}")
    lines += ["=S0", "=S3", "=Scanonify", "=SParse0", "=Scheck_mail", "=SLocal_check_mail", "=Snosuch"]
    lines += ["$=w", "$j", "$w", "$m", "$=R", "$=E", "$=M", "$={VirtHost}", "=M"]
    write("m4feat", lines)


def tokens():
    """The same tokenization torture list for a V8 and a V10 configuration."""
    raw = [
        "foo@bar.com",
        '"foo bar"@x',
        'a"b"c',
        "a(b)c",
        "a(b(c)d)e",
        "a(b",
        "a)b",
        "a\\(b",
        "a\\b\\",
        "a\\!b",
        "a!b!c",
        "a%b%c@d",
        "<@a,@b:c@d>",
        "<@a, @b:c@d>",
        "< @a,@b:c@d>",
        "<a,b>,c",
        "a,b,c",
        "a, ,b",
        ",",
        ",,a",
        "a;b",
        "5.1.1",
        "a.b..c",
        "<<a>>",
        "<a>>",
        "<<a>",
        "a>b",
        "a<b",
        '"a',
        'a"',
        '"a\\"b"',
        '"(not a comment)"',
        '"<>"@x',
        "(comment) user@host",
        "user@host (comment)",
        "Full Name <user@host>",
        '"Full Name" <user@host>',
        "user@[192.0.2.1]",
        "user@[IPv6:2001:db8::1]",
        "a+b=c_d-e#f$g&h*i|j'k?l~m{n}o",
        "a/b^c[d]e+f",
        "a:b::c",
        "a\tb",
        "a  b",
        "  leading",
        "trailing  ",
        "$|",
        "$#x $@y $:z",
        "${x}",
        "a=b",
        "<>",
        "<\"\">",
        "\"\"",
        "()",
        "(a)(b)(c)",
        "x" * 256,
        "x" * 257,
        "a." * 127,
        "a " * 127,
        "y" * 255,
        "y" * 256,
    ]
    lines = ["# tokens: the same address list for a V8 and a V10 configuration"]
    for a in raw:
        lines.append("show " + a)
    lines += [
        b"show caf\xe9",
        b"show \xa0\xa1\xfe\xff",
        b"show a\xffb",
        b"show a\xff",
        b"show \xffa\xff(b)",
        b"show \x80",
        b"show a\x9fb",
        b"show \xc3\xa9t\xc3\xa9@example.com",
        b"show a\x01b\x7fc",
        b"show a\rb",
        b"show a\x0bb\x0cc",
        b"show \"\xe9 \xe9\"",
        b"show <\xe9@x>,<\xe8@y>",
    ]
    lines += ["show", "show ", "show  ", "show,", "show ,"]
    lines += ["canon " + a for a in raw[:40]]
    lines += ["show,canon a(b)c", "canon,show a(b)c", "show,nosuch a", "nosuch,show a"]
    lines += ["paren " + a for a in ["a(b)c", "a (b) c", "(b)", "a(b", "abc", "a(b)(c)d", "x y z"]]
    lines += ["=Sparen"]
    write("tokens8", lines)
    write("tokens10", lines)


def match():
    rulesets = [
        "split", "starplus", "plusstar", "dots", "two", "cls", "clsbt", "ncls", "xyz",
        "case", "mid", "atdollar", "minus", "fruit", "long", "amp", "nine", "wild",
        "quoted", "ops",
    ]
    inputs = [
        "a.b.c",
        "a b c",
        "x FOO . Com",
        "x foo . com . bar",
        "foo.com.x",
        "foo.com",
        "bar",
        "BAR baz",
        "c b",
        "a b",
        "a",
        "x.y.z",
        "q x.y",
        "foo bar",
        "apple",
        "APPLE pie",
        "my cherry.pie",
        "pear tree",
        "long.example.org",
        "LONG.Example.ORG.more",
        "a@b",
        "a@b@c",
        "1@2@3@4@5@6@7@8@9",
        "1@2@3@4@5@6@7@8",
        "u<@h>rest",
        "<@a,@b:c@d>",
        '"a b"',
        '"A B"',
        '"x y"',
        'p "x" q',
        "a!b%c:d;e",
        "@",
        "..",
        "$| $#",
    ]
    lines = ["# match: every ruleset on every input"]
    for rs in rulesets:
        for a in inputs:
            lines.append(f"{rs} {a}")
    # $&x matching: undefined, then defined values
    amp_inputs = ["abc def", "abc", "ABC", "ab c", "def", "q abc", "x", "a b c"]
    for setting in ["", ".Dxabc", ".Dxab", ".Dyc", ".Dydef", ".D{Mac}b", ".Dxa b", ".Dx", ".Dy"]:
        if setting:
            lines.append(setting)
        for a in amp_inputs:
            lines.append(f"amp {a}")
    for setting in [".CXbaz", ".CYc", ".CFkiwi", ".C{Empty}b", ".CWq"]:
        lines.append(setting)
        for rs in ["cls", "ncls", "fruit", "long", "xyz"]:
            lines.append(f"{rs} {setting[3:]} tail")
    lines += ["$=X", "$=Y", "$=F", "$={Long}", "$={Empty}", "$=W", "$=w", "$={Many}", "$=y"]
    for w in ["m05", "M05", "m5", "zeta", "ZETA.example"]:
        lines.append(f"many {w}")
    lines += ["split,dots,two a.b@c.d", "split,nosuch a.b", "split,99 a.b", "split,150 a.b"]
    write("match", lines)


def limits():
    lines = ["# limits: recursion, loops, expansion, bounds, calls"]
    lines += ["forever a", "forever", "loop a", "loop", "oob a", "oob a b", "oob"]
    for n in [48, 49, 50, 51, 52]:
        lines.append("depth " + "x " * n + "end")
    for n in [99, 100, 101, 102]:
        lines.append("drop " + "a " * n)
    for n in [1, 7, 8, 9, 62, 63, 64]:
        lines.append("double " + "t " * n)
    for n in [400, 499, 500, 501]:
        lines.append("grow " + ". " * (n // 2) if False else "grow " + "." * min(n, 254))
    for rs in ["unknown", "unknown2", "callempty", "skipnext", "calls", "many", "fifteen",
               "tailcall", "lastdollar", "prefix", "canonnet", "hashcall", "stopped",
               "numcall", "quotedname", "empty", "sub1", "5"]:
        lines.append(f"{rs} q")
        lines.append(f"{rs} a b <c>")
    lines += ["calls", "callempty", "empty,sub1 z", "sub1,empty,sub2 z", "7 q", "7,sub1 q",
              "oob,sub1 q", "unknown,sub1 q", "forever,sub1 q", "loop,sub2 q"]
    lines += ["=Sempty", "=S7", "=S5", "=Sforever", "=Smany", "=S100", "=S0"]
    # address lengths at the -bt limits (255 bytes), a token of 256/257 bytes
    for n in [254, 255, 256, 300]:
        lines.append("sub1 " + "y" * n)
    for n in [127, 128]:
        lines.append("sub1 " + "a." * n)
    lines.append("sub1 " + "z" * 2100)
    lines.append("sub1 " + "a," * 1100)
    for value in ["", " ", "(c)", "a(b)c", "x" * 256, "x" * 257, "a." * 300, "a " * 500,
                  "b " * 999, "(" + "c" * 300 + ")", '"unbalanced', "<open", "close>",
                  "\\" * 10]:
        lines.append(".Dx" + value)
        lines.append("ampx q")
    write("limits", lines)


def maps():
    keys = ["key1", "KEY1", "Key1", "key2", "key3", "key4", "key5", "multi.word.key",
            "multi word key", "space key", "loop", "empty.ish", "eight", "long", "quote",
            "angle", '"key1"', "ke\\y1", "nokey", "<key1>", "key1 trailing"]
    mapnames = ["pct", "pctf", "pctm", "pcta", "pctq", "pcts", "gone", "gonet", "goneT",
                "goneo", "impl", "implgone", "txt", "nothing", "seq", "seqgone"]
    lines = ["# maps: every map on every key, then the special classes"]
    for m in mapnames:
        for k in keys:
            lines.append(f"look {m} {k}")
        lines.append(f"dflt {m} nokey")
        lines.append(f"dflt {m} key1")
        lines.append(f"emptydflt {m} nokey")
        lines.append(f"/map {m} key1")
        lines.append(f"/map {m} nokey")
    lines.append("/map NOSUCH key1")
    lines.append("/map pct")
    lines.append("/map")
    for k in ["key2", "KEY2", "key5", "nokey", "key2 x"]:
        for rs in ["args", "manyargs", "twodflt", "default"]:
            lines.append(f"{rs} {k}")
    for a in ["key1 + key2", "loop + nokey", "+"]:
        lines.append(f"twolookups {a}")
    lines += ["nested loop", "nested key1", "nested nokey"]
    dq = ['"a b"', '"a"b', '"abc"', "abc", '"a', '<"x">', '"a\\"b"', '"(c)"', '"a" "b"', '""']
    for d in dq:
        lines += [f"look dq {d}", f"look dqs {d}", f"look dqa {d}", f"/map dq {d}"]
    for expr in ["+ 7 5", "- 7 5", "* 7 5", "/ 7 0", "/ 7 2", "% 7 0", "% 7 3", "| 12 3",
                 "& 12 4", "l 1 2", "l 2 1", "= 3 3", "= 3 4", "+ 0x1f 1", "+ 017 1",
                 "+ abc 5", "+ 7", "x 7 5", "- 0 2147483647", "* 65536 65536"]:
        lines.append(f"math {expr}")
    lines += ["/map math +"]
    lines += ["setmac first", "setmac second", "$&{M}", "${M}", "unsetmac x", "${M}",
              "setmac a b c", "${M}", "/map mac {M}", "${M}"]
    regs = ["abc.example", "ABC.EXAMPLE", "abc.def", "abc", "good.one", "bad.one",
            "Case", "case", "12345", "12a", "a b", "abc.example.org"]
    for r in regs:
        for m in ["re", "res", "resall", "ren", "ref", "rem", "seq"]:
            lines.append(f"look {m} {r}")
    for m in ["re", "res", "resall", "ren", "ref", "rem"]:
        lines.append(f"/map {m} abc.def")
    lines += ["nomap x", "nomap", "host localhost", "host [127.0.0.1]", "host nosuch.example"]
    write("maps", lines)


if __name__ == "__main__":
    junk1()
    junk2()
    m4feat()
    tokens()
    match()
    limits()
    maps()
