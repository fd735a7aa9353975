#!/usr/bin/env bash
# Installs the system packages qbsyncd builds against (Debian). Safe to run again.
set -euo pipefail
packages=(libsystemd-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
command -v swift >/dev/null || { echo "setup: the Swift toolchain (6.2 or newer) must be on PATH" >&2; exit 1; }
