#!/usr/bin/env bash
# Install everything sealsvc needs on a Debian 12 machine; idempotent and fast when done.
#
#   scripts/bootstrap.sh          runtime: Debian packages + .venv with sealsvc
#   scripts/bootstrap.sh --test   the same plus the test extras (pytest, gmssl, ruff, ...)
#
# Debian packages are installed only when one is missing (one `apt-get update` first).
# Python packages come from the lock file (requirements.lock, or requirements-test.lock with
# --test), so every install gets the versions the tests ran with; sealsvc itself is then
# installed editable without dependencies.  The venv is reinstalled only when pyproject.toml
# or the lock file changed: a stamp file inside .venv keeps their hash and the extras.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

extras=""
case "${1:-}" in
  --test) extras="test" ;;
  "") ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

# Tools the service and its tests call: openssl (SM2 distid checks), poppler (pdfsig,
# pdftotext), CJK fonts for rendered licences, PostgreSQL for the multi-node database
# tests, zbar for QR codes, NSS certutil (trust store for pdfsig), chromium for page tests,
# SoftHSM2 (a PKCS#11 token) and OpenSC's pkcs11-tool for the token key store tests.
# No C compiler: sealsvc is pure Python and every dependency comes as a wheel.
APT_PACKAGES=(
  openssl poppler-utils fonts-wqy-zenhei fonts-arphic-uming postgresql
  zbar-tools libzbar0 libnss3-tools chromium chromium-driver curl python3-venv
  softhsm2 opensc haproxy
)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

install_debian_packages() {
  local missing=() pkg
  command -v dpkg-query >/dev/null || { log "not a Debian system: skipping apt packages"; return; }
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      log "missing Debian packages; please install them as root:"
      log "  apt-get update && apt-get install -y ${missing[*]}"
      return
    fi
  fi
  log "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
}

create_venv() {
  if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys' 2>/dev/null; then
    return
  fi
  local python
  python="$(command -v python3.11 || command -v python3)" || {
    log "python3 not found: install python3.11 (apt-get install python3 python3-venv)"
    exit 1
  }
  log "creating .venv with $python"
  rm -rf .venv
  "$python" -m venv .venv
}

install_python_packages() {
  local stamp=.venv/.sealsvc-bootstrap wanted test_hash lock=requirements.lock
  [ -n "$extras" ] && lock=requirements-test.lock
  wanted="$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1) ${extras:-runtime}"
  test_hash="$(cat pyproject.toml requirements-test.lock | sha256sum | cut -d' ' -f1) test"
  # A test install covers the runtime one, so `./run.sh` after `./test.sh` costs nothing.
  if [ -f "$stamp" ]; then
    local have
    have="$(cat "$stamp")"
    if [ "$have" = "$wanted" ] || [ "$have" = "$test_hash" ]; then
      return
    fi
  fi
  log "pip install -r $lock, then sealsvc itself (log: .venv/bootstrap-pip.log)"
  # pip's chatter (index warnings, setuptools deprecations) goes to a log, shown on failure.
  if ! {
    .venv/bin/python -m pip install -r "$lock" && .venv/bin/python -m pip install --no-deps -e .
  } >.venv/bootstrap-pip.log 2>&1; then
    tail -n 40 .venv/bootstrap-pip.log >&2
    log "pip install failed"
    exit 1
  fi
  printf '%s\n' "$wanted" >"$stamp"
}

install_debian_packages
create_venv
install_python_packages
