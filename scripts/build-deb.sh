#!/usr/bin/env bash
# Builds dist/qbsyncd_<version>_<arch>.deb with dpkg-deb. Removing (or purging) the package keeps
# /var/lib/qbsyncd: it holds the sealed tokens and the append-only webhook log, which cannot be
# rebuilt. Delete it by hand if that is really meant.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/.*static let current = "\(.*\)"/\1/p' Sources/QBSyncCore/Version.swift)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d /tmp/qbsyncd-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage/root" bash scripts/install.sh
mkdir -p "$stage/root/DEBIAN"
cat > "$stage/root/DEBIAN/control" <<CONTROL
Package: qbsyncd
Version: $version
Architecture: $arch
Maintainer: qbsyncd maintainers <maintainers@users.noreply.example>
Depends: libsystemd0, libsqlite3-0, libc6, systemd
Section: net
Priority: optional
Description: BlockManOS to QuickBooks Online sync daemon
 Connects each organisation to its QuickBooks Online company, syncs customers and invoices,
 and turns Intuit's webhooks into invoice statuses. Controlled with qbctl.
CONTROL
echo "/etc/qbsyncd/qbsyncd.conf" > "$stage/root/DEBIAN/conffiles"
cat > "$stage/root/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
systemd-sysusers /usr/lib/sysusers.d/qbsyncd.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/qbsyncd.conf
chgrp qbsyncd /etc/qbsyncd/qbsyncd.conf || true
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
SCRIPT
cat > "$stage/root/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then systemctl stop qbsyncd.service qbsyncd.socket || true; fi
SCRIPT
cat > "$stage/root/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
# /var/lib/qbsyncd (sealed tokens, the webhook log) is kept on remove and on purge.
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
SCRIPT
chmod 0755 "$stage/root/DEBIAN/postinst" "$stage/root/DEBIAN/prerm" "$stage/root/DEBIAN/postrm"
mkdir -p dist
dpkg-deb --root-owner-group --build "$stage/root" "dist/qbsyncd_${version}_${arch}.deb"
echo "built dist/qbsyncd_${version}_${arch}.deb"
