#!/usr/bin/env bash
# Installs everything Roster's tests and demo need on a fresh Debian machine, idempotently:
# npm dependencies (Node 24 comes from the npm registry's `node` package), and the local
# control plane built from Go modules into .roster/bin. Caches live under .roster/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi

bash controlplane/build.sh

# Debian packages the tests drive: Chromium for the accept-page browser test.
missing=()
for pkg in chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  echo "[setup] apt-get install ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Real identity servers (slapd, Keycloak, a SCIM server) and the chart tools (helm, lua).
bash scripts/setup-identity-servers.sh
bash scripts/setup-helm.sh
