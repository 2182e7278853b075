#!/usr/bin/env bash
# Installs the real identity servers the backend tests run against, idempotently, with
# caches under the git-ignored .roster/:
#   - OpenLDAP: Debian's slapd + ldap-utils (the tests run their own slapd with a temporary
#     cn=config; the system instance the package may set up is stopped and left unused);
#   - Keycloak: the keycloak-quarkus-dist archive from Maven Central, unpacked into
#     .roster/keycloak/keycloak-<version>/ (it needs Java 21+: the tests use a Temurin JDK);
#   - SCIM: scim2-server from PyPI, in a virtualenv at .roster/scim-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
SCIM2_SERVER_VERSION="${SCIM2_SERVER_VERSION:-0.8.3}"
MAVEN_CENTRAL="${MAVEN_CENTRAL:-https://repo.maven.apache.org/maven2}"
mkdir -p .roster

log() { echo "[setup-identity] $*"; }

# --- OpenLDAP ---------------------------------------------------------------------------
if [[ ! -x /usr/sbin/slapd || ! -x /usr/sbin/slapadd || ! -x /usr/bin/ldapsearch ]]; then
  log "installing slapd and ldap-utils"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo -n); fi
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null
  # Debian's postinst configures (and may start) a default slapd; we run our own instances.
  if command -v systemctl >/dev/null && systemctl is-active --quiet slapd 2>/dev/null; then
    "${sudo_cmd[@]}" systemctl disable --now slapd || true
  elif command -v service >/dev/null && service slapd status >/dev/null 2>&1; then
    "${sudo_cmd[@]}" service slapd stop || true
  fi
fi

# --- Keycloak ---------------------------------------------------------------------------
keycloak_home=".roster/keycloak/keycloak-${KEYCLOAK_VERSION}"
if [[ ! -x "${keycloak_home}/bin/kc.sh" ]]; then
  log "downloading keycloak-quarkus-dist ${KEYCLOAK_VERSION} from Maven Central"
  mkdir -p .roster/keycloak
  archive=".roster/keycloak/keycloak-quarkus-dist-${KEYCLOAK_VERSION}.tar.gz"
  url="${MAVEN_CENTRAL}/org/keycloak/keycloak-quarkus-dist/${KEYCLOAK_VERSION}/keycloak-quarkus-dist-${KEYCLOAK_VERSION}.tar.gz"
  if [[ ! -s "${archive}" ]]; then
    if command -v curl >/dev/null; then
      curl -fsSL --retry 3 -o "${archive}.part" "${url}"
      expected=$(curl -fsSL --retry 3 "${url}.sha1" | cut -c1-40)
      actual=$(sha1sum "${archive}.part" | cut -c1-40)
      if [[ "${expected}" != "${actual}" ]]; then
        echo "[setup-identity] checksum mismatch for ${url}" >&2
        rm -f "${archive}.part"
        exit 1
      fi
      mv "${archive}.part" "${archive}"
    else
      mvn -q dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:tar.gz" -DoutputDirectory=.roster/keycloak -Dmdep.useBaseVersion=true
    fi
  fi
  rm -rf "${keycloak_home}.tmp"
  mkdir -p "${keycloak_home}.tmp"
  tar -xzf "${archive}" -C "${keycloak_home}.tmp" --strip-components=1
  rm -rf "${keycloak_home}"
  mv "${keycloak_home}.tmp" "${keycloak_home}"
  rm -f "${archive}"
fi
ln -sfn "keycloak-${KEYCLOAK_VERSION}" .roster/keycloak/current

# --- SCIM -------------------------------------------------------------------------------
if [[ ! -x .roster/scim-venv/bin/scim2-server ]] || ! .roster/scim-venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('scim2-server') != '${SCIM2_SERVER_VERSION}')" 2>/dev/null; then
  log "installing scim2-server ${SCIM2_SERVER_VERSION} into .roster/scim-venv"
  python=$(command -v python3)
  "${python}" -m venv .roster/scim-venv
  .roster/scim-venv/bin/pip install -q --disable-pip-version-check "scim2-server==${SCIM2_SERVER_VERSION}"
fi
