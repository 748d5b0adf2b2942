#!/usr/bin/env bash
# Record the golden makemap cases listed in ./cases from the real makemap
# (sendmail 8.17.1.9, Debian 12's sendmail-bin): for each case, its stdout,
# stderr and exit status, and `makemap -u` of the map it left.
#
#   ./regen.sh            rewrite expected/ here
#   ./regen.sh OUTDIR     write into OUTDIR instead (to diff against expected/)
#   MAKEMAP=/path ./regen.sh   use another makemap (default: the one on PATH)
#
# Each case runs in a fresh, private (0700) temporary directory, under umask 022
# and LC_ALL=C. Run as root (as recorded here): makemap then reads
# /etc/mail/sendmail.cf for TrustedUser and prints its writable-directory
# warnings; the root-* cases depend on that. tests/makemap_golden.rs replays
# the same steps with cfmap started as `makemap`.
set -euo pipefail
umask 022
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/expected}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
MAKEMAP=${MAKEMAP:-$(command -v makemap || true)}
[ -n "$MAKEMAP" ] || { echo "regen.sh: makemap not found" >&2; exit 1; }
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
# argv[0] is then plain "makemap", as the tests run it.
ln -s "$MAKEMAP" "$BIN/makemap"
export PATH="$BIN:$PATH"

setup() {   # setup STEP...: one step of the SETUP field
  case $1 in
    mkdir)    mkdir "$2"; chmod "$3" "$2" ;;
    build)    makemap "$2" "$3" <"$HERE/inputs/$4" ;;
    build-d)  makemap -d "$2" "$3" <"$HERE/inputs/$4" ;;
    symlink)  ln -s "$2" "$3" ;;
    hardlink) ln "$2" "$3" ;;
    *) echo "regen.sh: unknown setup step $1" >&2; exit 1 ;;
  esac
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }

grep -v '^#' "$HERE/cases" | grep -v '^[[:space:]]*$' |
while IFS='|' read -r name steps args input dump; do
  name=$(trim "$name"); steps=$(trim "$steps"); args=$(trim "$args")
  input=$(trim "$input"); dump=$(trim "$dump")
  work=$(mktemp -d)
  (
    cd "$work"
    if [ "$steps" != "-" ]; then
      IFS=';' read -ra list <<<"$steps"
      for step in "${list[@]}"; do
        # shellcheck disable=SC2086
        setup $step
      done
    fi
    [ "$args" = "-" ] && args=""
    stdin=/dev/null
    [ "$input" != "-" ] && stdin="$HERE/inputs/$input"
    rc=0
    # shellcheck disable=SC2086
    makemap $args <"$stdin" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
    echo "$rc" >"$OUT/$name.rc"
    if [ "$dump" != "-" ]; then
      # shellcheck disable=SC2086
      # stdout, then stderr, then "rc=N" when it failed
      urc=0
      makemap -u $dump >"$OUT/$name.u" 2>"$BIN/uerr" || urc=$?
      cat "$BIN/uerr" >>"$OUT/$name.u"
      [ "$urc" = 0 ] || echo "rc=$urc" >>"$OUT/$name.u"
    fi
  )
  chmod -R u+rwx "$work"
  rm -rf "$work"
done
echo "regen.sh: done, outputs in $OUT"
