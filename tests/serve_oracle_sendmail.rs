//! The proof with real parts: real `sendmail -bt` asks `cfmap serve` through a
//! `K vrc socket inet:7777@127.0.0.1` map from a check_rcpt-style ruleset, and cfmap
//! verifies against a real Postfix (Debian's package, unpacked by `.ci/run`) that accepts
//! alice@ and bob@example.com, answers busy@ with 450 and every other example.com
//! address with 550. The mailertable routes example.com to `esmtp:[127.0.0.1]`.
//!
//! Everything runs in private UTS, network and mount namespaces (shared/oracle.md):
//! loopback only, fixed /etc files (with a postfix user and a postdrop group, so this
//! machine's /etc/passwd is never changed), nothing reachable from outside. Phase 2
//! stops Postfix and asks again: the recipients accepted in phase 1 are still accepted,
//! from the cache; the others are temporary failures. Last, Postfix's own socketmap
//! client (`postmap -q KEY socketmap:inet:127.0.0.1:7777:NAME`) asks the same server.

mod verify_support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn postfix_root() -> PathBuf {
    std::env::var_os("CFMAP_POSTFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/cfmap-postfix"))
}

const MASTER_CF: &str = "\
127.0.0.1:2525 inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  0 discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
";

fn main_cf(pf: &Path, pd: &Path) -> String {
    let (pf, pd) = (pf.display(), pd.display());
    format!(
        "compatibility_level = 3.6
queue_directory = {pd}/spool
data_directory = {pd}/spool/data
daemon_directory = {pf}/usr/lib/postfix/sbin
command_directory = {pf}/usr/sbin
shlib_directory = {pf}/usr/lib/postfix
meta_directory = {pf}/etc/postfix
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH={pf}/usr/lib/postfix
maillog_file_prefixes = {pd}
maillog_file = {pd}/maillog
myhostname = backend.example.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
relay_domains = example.com
relay_recipient_maps = hash:{pd}/etc/recipients
smtpd_recipient_restrictions = check_recipient_access hash:{pd}/etc/access, reject_unauth_destination
alias_maps =
alias_database =
biff = no
"
    )
}

#[test]
fn sendmail_asks_cfmap_serve_which_asks_postfix() {
    let pf = postfix_root();
    if !cfmap_testkit::need_root()
        || !cfmap_testkit::need_tool("sendmail")
        || !cfmap_testkit::need_tool(&pf.join("usr/sbin/postfix").display().to_string())
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/verify");
    std::fs::copy(here.join("check_rcpt.cf"), d.join("test.cf")).unwrap();
    std::fs::copy(here.join("check_rcpt.input"), d.join("input")).unwrap();
    let etc = d.join("etc");
    let pd = d.join("pf");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(pd.join("etc")).unwrap();
    std::fs::create_dir_all(pd.join("spool")).unwrap();
    for (name, text) in [
        ("hosts", "127.0.0.1 localhost\n"),
        ("resolv.conf", "nameserver 127.0.0.1\n"),
        (
            "nsswitch.conf",
            "hosts: files dns\npasswd: files\ngroup: files\n",
        ),
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\n\
             postfix:x:64010:64010:postfix:/nonexistent:/usr/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        ),
        (
            "group",
            "root:x:0:\npostfix:x:64010:\npostdrop:x:64011:\nnogroup:x:65534:\n",
        ),
    ] {
        std::fs::write(etc.join(name), text).unwrap();
    }
    std::fs::write(pd.join("etc/main.cf"), main_cf(&pf, &pd)).unwrap();
    std::fs::write(pd.join("etc/master.cf"), MASTER_CF).unwrap();
    std::fs::write(
        pd.join("etc/recipients"),
        "alice@example.com OK\nbob@example.com OK\n",
    )
    .unwrap();
    std::fs::write(
        pd.join("etc/access"),
        "busy@example.com 450 4.2.1 Mailbox busy\n",
    )
    .unwrap();
    for (name, src) in [
        ("mailertable", "example.com esmtp:[127.0.0.1]\n"),
        ("access", "example.com RELAY\n"),
    ] {
        let mut mk = Command::new(env!("CARGO_BIN_EXE_cfmap"))
            .current_dir(d)
            .args(["makemap", "hash", name])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut mk.stdin.take().unwrap(), src.as_bytes()).unwrap();
        assert!(mk.wait().unwrap().success());
    }

    let script = format!(
        r#"set -u
D={d}; PF={pf}; PD={pd}; CFMAP={cfmap}
ip link set lo up
hostname vm.example.com
for f in hosts resolv.conf nsswitch.conf passwd group; do mount --bind $D/etc/$f /etc/$f; done
export LD_LIBRARY_PATH=$PF/usr/lib/postfix
$PF/usr/sbin/postmap -c $PD/etc $PD/etc/recipients || exit 1
$PF/usr/sbin/postmap -c $PD/etc $PD/etc/access || exit 1
$PF/usr/sbin/postfix -c $PD/etc check >$D/postfix-check.log 2>&1
$PF/usr/sbin/postfix -c $PD/etc start >$D/postfix-start.log 2>&1 || exit 1
$CFMAP serve --listen inet:7777@127.0.0.1 --verify vrc --cache $D/rcpt \
    --mailertable hash:$D/mailertable --port 2525 --helo relay.example.com \
    --map acc=hash:$D/access 2>$D/serve.log &
SERVE=$!
for p in 2525 7777; do
  for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done
SM="sendmail -bt -C $D/test.cf -ODontProbeInterfaces=true -ODontBlameSendmail=MapInUnsafeDirPath"
echo "== phase 1: Postfix up"
$SM < $D/input 2>&1
$PF/usr/sbin/postfix -c $PD/etc stop >/dev/null 2>&1
echo "== phase 2: Postfix stopped"
$SM < $D/input 2>&1
echo "== Postfix's own socketmap client (postmap -q)"
for q in "example.com acc" "other.org acc" "alice@example.com vrc" "carol@example.com vrc" "x nosuch"; do
  set -- $q
  $PF/usr/sbin/postmap -c $PD/etc -q $1 socketmap:inet:127.0.0.1:7777:$2 2>&1 | sed 's/query error: .*/query error/'
  echo "exit ${{PIPESTATUS[0]}}"
done
kill $SERVE; wait $SERVE; echo "== cfmap serve exit $?"
"#,
        d = d.display(),
        pf = pf.display(),
        pd = pd.display(),
        cfmap = env!("CARGO_BIN_EXE_cfmap"),
    );
    std::fs::write(d.join("run.sh"), &script).unwrap();
    let out = Command::new("timeout")
        .args(["120", "unshare", "--uts", "--net", "--mount", "bash"])
        .arg(d.join("run.sh"))
        .current_dir(d)
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = |n: &str| std::fs::read_to_string(d.join(n)).unwrap_or_default();
    let context = format!(
        "stderr: {}\nserve.log: {}\npostfix start: {}",
        String::from_utf8_lossy(&out.stderr),
        log("serve.log"),
        log("postfix-start.log")
    );
    let golden = here.join("check_rcpt.expected");
    if std::env::var_os("CFMAP_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    assert_eq!(got, std::fs::read_to_string(&golden).unwrap(), "{context}");

    // Postfix was asked once for each recipient and rejected carol and busy; alice and
    // bob were answered from the cache in phase 2 (Postfix was down).
    let maillog = log("pf/maillog");
    let rejects: Vec<&str> = maillog
        .lines()
        .filter(|l| l.contains("reject: RCPT"))
        .collect();
    assert_eq!(rejects.len(), 2, "{maillog}");
    assert!(
        rejects[0].contains("550 5.1.1 <carol@example.com>"),
        "{maillog}"
    );
    assert!(
        rejects[1].contains("450 4.2.1 <busy@example.com>"),
        "{maillog}"
    );
    assert!(maillog.contains("helo=<relay.example.com>"), "{maillog}");
    let (list, _, _) = verify_support::cfmap(d, &["cache", "list", "rcpt"]);
    let mut keys: Vec<&str> = list
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["alice@example.com", "bob@example.com"]);
}
