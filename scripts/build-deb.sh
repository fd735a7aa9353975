#!/usr/bin/env bash
# Builds dist/qbsyncd_<version>_<arch>.deb with dpkg-deb, then checks it with lintian (no errors
# allowed) when lintian is installed. Removing (or purging) the package keeps /var/lib/qbsyncd: it
# holds the sealed tokens and the append-only webhook log, which cannot be rebuilt. Delete it by
# hand if that is really meant.
#   QBSYNCD_BIN_DIR=DIR        package the binaries in DIR (qbsyncd, qbctl, generate-manual) instead of building
#   QBSYNCD_SCRATCH=DIR        swift build --scratch-path when building (default .build)
#   QBSYNCD_DEB_VERSION=V      package version (default: the binaries' version)
#   QBSYNCD_DEB_OUTPUT=DIR     where the .deb goes (default dist/)
#   QBSYNCD_LINTIAN=0          skip the lintian check
set -euo pipefail
cd "$(dirname "$0")/.."
version=${QBSYNCD_DEB_VERSION:-$(sed -n 's/.*static let current = "\(.*\)"/\1/p' Sources/QBSyncCore/Version.swift)}
arch=$(dpkg --print-architecture)
output=${QBSYNCD_DEB_OUTPUT:-dist}
stage=$(mktemp -d /tmp/qbsyncd-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage/root" bash scripts/install.sh
root=$stage/root
chmod 0755 "$root" "$root"/usr "$root"/etc
# Completion files are sourced, not run.
sed -i '1{/^#!/d}' "$root/usr/share/bash-completion/completions/qbctl"
# The Swift runtime (with the zlib inside Foundation) is linked into the binaries on purpose: the
# machines it installs on have no Swift toolchain. The settings may hold secrets: 0640 root:qbsyncd.
install -D -m 0644 /dev/stdin "$root/usr/share/lintian/overrides/qbsyncd" <<'OVERRIDES'
qbsyncd: embedded-library zlib [usr/bin/qbsyncd]
qbsyncd: non-standard-file-perm 0640 != 0644 [etc/qbsyncd/qbsyncd.conf]
OVERRIDES

# Debian's documentation files: copyright and a changelog.
doc=$root/usr/share/doc/qbsyncd
cat > "$doc/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: qbsyncd
Source: https://github.com/blockmanos/qbsyncd

Files: *
Copyright: 2026 qbsyncd maintainers
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
cat > "$stage/changelog" <<CHANGELOG
qbsyncd ($version) stable; urgency=medium

  * Release $version. See /usr/share/doc/qbsyncd/README.md.

 -- qbsyncd maintainers <maintainers@users.noreply.example>  Thu, 01 Jan 2026 00:00:00 +0000
CHANGELOG
gzip -9n < "$stage/changelog" > "$doc/changelog.gz"
chmod 0644 "$doc/copyright" "$doc/changelog.gz"

# Dependencies: what the binaries link (the Swift runtime is inside them), and systemd.
depends="libc6, libsqlite3-0, libsystemd0, systemd (>= 247)"
for lib in $(ldd "$root/usr/bin/qbsyncd" "$root/usr/bin/qbctl" | awk '/=>/ {print $1}' | sort -u); do
  case "$lib" in
    libcurl.so.4) depends="$depends, libcurl4" ;;
    libz.so.1) depends="$depends, zlib1g" ;;
    libstdc++.so.6) depends="$depends, libstdc++6" ;;
    libgcc_s.so.1) depends="$depends, libgcc-s1" ;;
    libxml2.so.2) depends="$depends, libxml2" ;;
    libssl.so.3 | libcrypto.so.3) depends="$depends, libssl3" ;;
  esac
done
depends=$(echo "$depends" | tr ',' '\n' | sed 's/^ *//' | awk '!seen[$0]++' | paste -sd, - | sed 's/,/, /g')
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)

mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: qbsyncd
Version: $version
Architecture: $arch
Maintainer: qbsyncd maintainers <maintainers@users.noreply.example>
Installed-Size: $installed_size
Depends: $depends
Section: net
Priority: optional
Homepage: https://github.com/blockmanos/qbsyncd
Description: BlockManOS to QuickBooks Online sync daemon
 Connects each organisation to its QuickBooks Online company, syncs customers
 and invoices, and turns Intuit's webhooks into invoice statuses. Runs under
 systemd with socket activation (qbsyncd.socket), and is controlled with qbctl.
CONTROL
echo "/etc/qbsyncd/qbsyncd.conf" > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  systemd-sysusers qbsyncd.conf
  systemd-tmpfiles --create qbsyncd.conf
  # 0.1 kept the secrets in /etc/qbsyncd/credentials/: move them to the credential store.
  for name in quickbooks_client_secret quickbooks_webhook_verifier_token token_key; do
    if [ -f "/etc/qbsyncd/credentials/$name" ] && [ ! -e "/etc/credstore/qbsyncd.$name" ]; then
      install -m 0600 "/etc/qbsyncd/credentials/$name" "/etc/credstore/qbsyncd.$name"
    fi
  done
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    # An upgrade: restart what was running, with the new binary. A fresh install starts nothing
    # until `systemctl enable --now qbsyncd.socket`.
    if [ -n "$2" ]; then deb-systemd-invoke try-restart qbsyncd.service || true; fi
  fi
fi
SCRIPT
cat > "$root/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  deb-systemd-invoke stop qbsyncd.service qbsyncd.socket qbsyncd-webhook.socket || true
fi
SCRIPT
cat > "$root/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
# /var/lib/qbsyncd (sealed tokens, the webhook log) is kept on remove and on purge.
if [ "$1" = remove ] || [ "$1" = purge ]; then
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
if [ "$1" = purge ] && command -v deb-systemd-helper > /dev/null; then
  deb-systemd-helper purge qbsyncd.socket qbsyncd-webhook.socket qbsyncd.service > /dev/null || true
fi
SCRIPT
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
mkdir -p "$output"
deb="$output/qbsyncd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
echo "built $deb"
if [ "${QBSYNCD_LINTIAN:-1}" != 0 ] && command -v lintian > /dev/null; then
  # Errors fail the build; warnings are printed.
  lintian --fail-on error "$deb"
  echo "lintian: no errors"
fi
