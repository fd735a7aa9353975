#!/usr/bin/env bash
# Installs what the build and tests need, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Intuit's own Python OAuth client, for the simulator's compatibility test.
pydeps="$PWD/.build/pydeps"
if ! PYTHONPATH="$pydeps" python3 -c 'import intuitlib' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$pydeps" intuit-oauth
fi
export QBSYNC_PYDEPS="$pydeps"
swift build --build-tests
swift test --skip-build --disable-xctest
