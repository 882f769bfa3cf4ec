#!/usr/bin/env bash
# Ensures a Chromium for the web UI's browser test: $CHROMIUM_BIN, else /usr/bin/chromium, else Debian's
# `chromium` package installed with apt-get (as root, or with passwordless sudo). Prints the binary's
# path on stdout; on a machine where none can be had it prints why on stderr and exits 1, and the UI
# test skips itself with that reason.
set -euo pipefail

for candidate in "${CHROMIUM_BIN:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    echo "$candidate"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null; then
  echo "install-chromium: no Chromium and no apt-get here; set CHROMIUM_BIN to a Chromium binary" >&2
  exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-chromium: no Chromium, and installing Debian's chromium needs root (or passwordless sudo)" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install-chromium: installing Debian's chromium package (one time)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -q chromium >"$log" 2>&1; then
  # A fresh machine may have no package lists yet.
  if ! { "${as_root[@]}" apt-get update -q && "${as_root[@]}" apt-get install -y -q chromium; } >>"$log" 2>&1; then
    echo "install-chromium: apt-get could not install chromium; its last lines:" >&2
    tail -n 5 "$log" >&2
    exit 1
  fi
fi
echo /usr/bin/chromium
