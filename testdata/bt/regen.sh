#!/usr/bin/env bash
# Record what the real `sendmail -bt` (8.17.1.9, Debian 12's sendmail-bin) prints for
# every case of testdata/bt (README.md there describes a case).
#
#   ./regen.sh [CFMAP] [CASE...]        rewrite CASE/expected (default: every case)
#   BT_OUT=DIR ./regen.sh [CFMAP] ...   write DIR/CASE.expected instead (to diff)
#
# CFMAP is the cfmap binary that builds the maps (default target/release/cfmap of this
# checkout): sendmail reading cfmap's files is part of what the goldens prove.
#
# Each case is copied to a scratch directory below target/bt-regen (not below a
# world-writable directory, where sendmail distrusts map files), its `setup` steps run
# there, and sendmail runs there hermetically (shared/oracle.md): private UTS, network
# and mount namespaces, host name vm.example.com, the files of ./etc bind-mounted over
# /etc/{hosts,resolv.conf,nsswitch.conf,passwd,group}, interfaces not probed. Needs root.
set -euo pipefail
export LC_ALL=C
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CFMAP=${1:-$TOP/target/release/cfmap}
[ $# -gt 0 ] && shift
case $CFMAP in /*) ;; *) CFMAP=$(pwd)/$CFMAP ;; esac
[ -x "$CFMAP" ] || { echo "regen.sh: no cfmap binary at $CFMAP (cargo build --release)" >&2; exit 1; }
command -v sendmail >/dev/null || PATH=$PATH:/usr/sbin
command -v sendmail >/dev/null || { echo "regen.sh: sendmail not found" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "regen.sh: needs root (unshare, mount)" >&2; exit 1; }
CFM4=/usr/share/sendmail/cf/m4/cf.m4

if [ $# -gt 0 ]; then cases=("$@"); else
  cases=()
  for d in "$HERE"/*/; do
    [ -f "$d/input" ] && cases+=("$(basename "$d")")
  done
fi

# setup_case DIR: run the steps of DIR/setup inside DIR (format: README.md).
setup_case() {
  local dir=$1 words
  [ -f "$dir/setup" ] || return 0
  while read -r -a words; do
    [ ${#words[@]} -eq 0 ] && continue
    case ${words[0]} in
      '#'*) ;;
      m4) (cd "$dir" && m4 "$CFM4" "${words[1]}" >site.cf) ;;
      *)
        local n=${#words[@]}
        (cd "$dir" && "$CFMAP" makemap "${words[@]}" <"${words[n-1]}") ;;
    esac
  done <"$dir/setup"
}

# bt DIR: real sendmail -bt on DIR/site.cf with DIR/input, everything it prints.
bt() {
  (cd "$1" && timeout 120 unshare --uts --net --mount sh -c '
      for f in hosts resolv.conf nsswitch.conf passwd group; do
        mount --bind "$0/$f" /etc/$f || exit 1; done
      hostname vm.example.com
      exec sendmail -bt -C site.cf -ODontProbeInterfaces=true \
        -ODontBlameSendmail=MapInUnsafeDirPath 2>&1' "$HERE/etc" <input)
}

WORK=$TOP/target/bt-regen
for c in "${cases[@]}"; do
  [ -f "$HERE/$c/input" ] || { echo "regen.sh: no case $c" >&2; exit 1; }
  rm -rf "${WORK:?}/$c"
  mkdir -p "$WORK"
  cp -r "$HERE/$c" "$WORK/$c"
  rm -f "$WORK/$c/expected"
  setup_case "$WORK/$c"
  if [ -n "${BT_OUT:-}" ]; then out=$BT_OUT/$c.expected; mkdir -p "$BT_OUT"
  else out=$HERE/$c/expected; fi
  rc=0; bt "$WORK/$c" >"$out" || rc=$?
  [ $rc -lt 124 ] || { echo "regen.sh: $c: sendmail timed out or could not start ($rc)" >&2; exit 1; }
  printf '%-16s %6d input lines, %7d output lines\n' "$c" \
    "$(wc -l <"$HERE/$c/input")" "$(wc -l <"$out")"
  rm -rf "${WORK:?}/$c"
done
