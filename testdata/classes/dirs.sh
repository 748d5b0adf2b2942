#!/bin/sh
# What git cannot keep, made in a copy of this directory (regen.sh and
# tests/oracle_maps.rs both run it): maps below directories with unsafe permissions.
#   unsafe/  world-writable, empty          ww/      world-writable, m.db and t.txt
#   gw/      group-writable, m.db           sticky/  world-writable + sticky, m.db
#   link ->  ww (a symbolic link)
# usage: dirs.sh DIR
set -e
cd "$1"
mkdir -p unsafe ww gw sticky
cp db/r-hash.db ww/m.db
cp db/r-hash.db gw/m.db
cp db/r-hash.db sticky/m.db
cp text/t1.txt ww/t.txt
chmod 777 unsafe ww
chmod 775 gw
chmod 1777 sticky
ln -sfn ww link
