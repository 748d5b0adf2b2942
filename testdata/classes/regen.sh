#!/bin/sh
# Regenerate what tests/oracle_maps.rs compares against, with the real programs.
#
#   1. The maps built by the real tools, committed: db/r-* with makemap (plain, -N, btree,
#      -f), db/mixed.db with db5.3_load (one key with a trailing NUL, one without), and
#      two files that are not databases (db/garbage.db, db/zero.db).
#   2. The golden outputs NAME.out: `sendmail -bt -C NAME.cf < NAME.in` run by bt.sh on a
#      copy of this directory that also holds what the test builds itself: the db/c-*
#      maps made by `cfmap makemap` and the directories of dirs.sh.
#
# Needs root, sendmail-bin, db5.3-util and a built cfmap (CFMAP, default
# target/debug/cfmap). Run from anywhere: sh testdata/classes/regen.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
cfmap=${CFMAP:-$here/../../target/debug/cfmap}
cd "$here"

find db -maxdepth 1 -name "*.db" -type f -exec rm -f {} +
makemap hash db/r-hash < db/src/plain.txt
makemap -N hash db/r-hashN < db/src/plain.txt
makemap btree db/r-btree < db/src/plain.txt
makemap -f hash db/r-case < db/src/plain.txt
db5.3_load -T -t hash db/mixed.db < db/src/mixed.load
printf 'not a database\n' > db/garbage.db
: > db/zero.db
mkdir -p db/adir.db
touch db/adir.db/.keep

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a . "$tmp/"
"$cfmap" makemap hash "$tmp/db/c-hash" < db/src/plain.txt
"$cfmap" makemap -N hash "$tmp/db/c-hashN" < db/src/plain.txt
"$cfmap" makemap btree "$tmp/db/c-btree" < db/src/plain.txt
"$cfmap" makemap -f hash "$tmp/db/c-case" < db/src/plain.txt
sh ./dirs.sh "$tmp"
chmod 755 "$tmp"
for cf in *.cf; do
  name=${cf%.cf}
  ./bt.sh "$tmp" "$name" > "$name.out" || true   # sendmail exits 70 after read errors
done
