#!/usr/bin/env bash
# What `make demo` needs, on a fresh Debian machine, idempotently: the npm dependencies
# (Node 24 comes from the npm registry's `node` package; MailDev, the demo's mail catcher,
# is a devDependency) and the local control plane built from Go modules into .roster/bin.
# The tests need more (Chromium, identity servers, helm): scripts/setup-test.sh adds those.
# Caches live under .roster/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi

bash controlplane/build.sh
