#!/usr/bin/env bash
# Installs qbsyncd on a Debian system: release binaries (Swift runtime linked in), units, sysusers,
# tmpfiles and the example settings (kept if present). Then: put the secrets in
# /etc/qbsyncd/credentials/, edit /etc/qbsyncd/qbsyncd.conf, `systemctl enable --now qbsyncd.socket`.
# DESTDIR=/some/root stages the files instead (no users, no systemctl).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${DESTDIR:-}
bash scripts/setup.sh
for product in qbsyncd qbctl; do swift build -c release --static-swift-stdlib --product "$product"; done
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
install -D -s -m 0755 "$bin/qbsyncd" "$root/usr/bin/qbsyncd"
install -D -s -m 0755 "$bin/qbctl" "$root/usr/bin/qbctl"
install -D -m 0644 systemd/qbsyncd.service "$root/lib/systemd/system/qbsyncd.service"
install -D -m 0644 systemd/qbsyncd.socket "$root/lib/systemd/system/qbsyncd.socket"
install -D -m 0644 systemd/qbsyncd.sysusers "$root/usr/lib/sysusers.d/qbsyncd.conf"
install -D -m 0644 systemd/qbsyncd.tmpfiles "$root/usr/lib/tmpfiles.d/qbsyncd.conf"
install -D -m 0644 README.md "$root/usr/share/doc/qbsyncd/README.md"
[ -e "$root/etc/qbsyncd/qbsyncd.conf" ] || install -D -m 0640 etc/qbsyncd.conf "$root/etc/qbsyncd/qbsyncd.conf"
if [ -z "$root" ]; then
  systemd-sysusers /usr/lib/sysusers.d/qbsyncd.conf
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/qbsyncd.conf
  chgrp qbsyncd /etc/qbsyncd/qbsyncd.conf
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  echo "installed; next: secrets in /etc/qbsyncd/credentials/, then systemctl enable --now qbsyncd.socket"
fi
