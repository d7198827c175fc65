#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh) and start sealsvc.
#
# Without SEALSVC_PASSPHRASE / SEALSVC_PASSPHRASE_FILE a random DEVELOPMENT passphrase is
# written to <data dir>/dev-passphrase (mode 0600, value starts with "dev-only-").  Never
# use it in production: point SEALSVC_PASSPHRASE_FILE at a file your secret store provides.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

data_dir="${SEALSVC_DATA_DIR:-data}"
[[ "$data_dir" = /* ]] || data_dir="$PWD/$data_dir"

if [ -z "${SEALSVC_PASSPHRASE:-}" ] && [ -z "${SEALSVC_PASSPHRASE_FILE:-}" ]; then
  dev_file="$data_dir/dev-passphrase"
  if [ ! -s "$dev_file" ]; then
    mkdir -p "$data_dir"
    # The whole file is the passphrase, so the dev-only mark is part of the value.
    (
      umask 077
      tmp="$(mktemp "$data_dir/.dev-passphrase.XXXXXX")"
      python -c 'import secrets; print("dev-only-" + secrets.token_urlsafe(32))' >"$tmp"
      mv "$tmp" "$dev_file"
    )
    echo "run.sh: created a DEVELOPMENT-ONLY master passphrase in $dev_file" >&2
  fi
  export SEALSVC_PASSPHRASE_FILE="$dev_file"
fi

# First start on an empty data directory creates the dev CAs, departments, demo seals and
# prints an admin API key once; later starts just serve.  Extra arguments go to `serve`
# (e.g. ./run.sh --port 8080 --workers 2).
exec sealctl --data-dir "$data_dir" serve "$@"
