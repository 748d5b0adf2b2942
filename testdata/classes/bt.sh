#!/bin/sh
# Run real `sendmail -bt` on one config of a copy of this directory, hermetically
# (shared/oracle.md): the directory is bound on /srv (configs name /srv/... where sendmail
# wants absolute paths) and is sendmail's current directory; etc/ supplies /etc/hosts,
# resolv.conf, nsswitch.conf, passwd and group; host name vm.example.com; no network.
# usage: bt.sh DIR NAME   (reads DIR/NAME.cf, feeds DIR/NAME.in, prints what sendmail prints)
set -e
dir=$(cd "$1" && pwd)
exec timeout 120 unshare --uts --net --mount sh -c '
  d=$1; n=$2
  for f in hosts resolv.conf nsswitch.conf passwd group; do
    mount --bind "$d/etc/$f" "/etc/$f"
  done
  mount --bind "$d" /srv
  hostname vm.example.com
  cd /srv
  exec sendmail -bt -C "$n.cf" -ODontProbeInterfaces=true < "$n.in" 2>&1' sh "$dir" "$2"
