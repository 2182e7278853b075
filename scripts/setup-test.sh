#!/usr/bin/env bash
# What `make test` (and .ci/run) needs on top of scripts/setup.sh, idempotently: Chromium
# for the accept-page browser test, the real identity servers the backend tests run against
# (slapd, Keycloak, a SCIM server) and the chart tools (helm, lua). The demo needs none of it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Debian packages the tests drive: Chromium for the accept-page browser test; zsh and fish
# to check the completion scripts `kubectl roster completion` prints.
missing=()
for pkg in chromium zsh fish; do
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
