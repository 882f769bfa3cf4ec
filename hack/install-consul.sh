#!/usr/bin/env bash
# Prints the path of a Consul binary (>= the minimum version) on stdout, building one if needed.
# Order: $CONSUL_BIN, `consul` on PATH, the per-user cache, then a build from the Go module proxy.
# All progress goes to stderr so callers can do: CONSUL=$(hack/install-consul.sh).
set -euo pipefail

PINNED_VERSION="${APPMESH_CONSUL_VERSION:-1.20.6}"
# Tried in order when the pinned version does not build with the local Go toolchain.
NEIGHBOUR_VERSIONS=(1.20.5 1.20.4 1.21.5)
MIN_VERSION="1.20.0"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/appmesh/consul"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'install-consul: %s\n' "$*" >&2; }

version_of() { # prints e.g. 1.21.5, or nothing when the binary does not run
  "$1" version 2>/dev/null | sed -n 's/^Consul v\([0-9][0-9.]*\).*/\1/p' | head -n 1
}

recent_enough() { # $1 = version; true when >= MIN_VERSION
  [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$MIN_VERSION" "$1" | sort -V | head -n 1)" = "$MIN_VERSION" ]
}

usable() { # $1 = binary path
  [ -x "$1" ] || return 1
  local v; v="$(version_of "$1")"
  recent_enough "$v"
}

link_tools() { # keep a git-ignored .tools/consul link in the repo for convenience
  mkdir -p "$REPO_ROOT/.tools" 2>/dev/null && ln -sf "$1" "$REPO_ROOT/.tools/consul" 2>/dev/null || true
}

found() { link_tools "$1"; printf '%s\n' "$1"; exit 0; }

if [ -n "${CONSUL_BIN:-}" ]; then
  if usable "$CONSUL_BIN"; then found "$CONSUL_BIN"; fi
  log "CONSUL_BIN=$CONSUL_BIN is not an executable Consul >= $MIN_VERSION; looking further"
fi
if on_path="$(command -v consul 2>/dev/null)" && usable "$on_path"; then found "$on_path"; fi

for v in "$PINNED_VERSION" "${NEIGHBOUR_VERSIONS[@]}"; do
  if usable "$CACHE_ROOT/$v/consul"; then found "$CACHE_ROOT/$v/consul"; fi
done

if ! command -v go >/dev/null 2>&1; then
  log "no Consul >= $MIN_VERSION found (checked \$CONSUL_BIN, PATH, $CACHE_ROOT) and no Go toolchain to build one."
  log "install Go (https://go.dev/dl) or Consul, or set CONSUL_BIN to a consul binary."
  exit 1
fi

build_version() { # $1 = version; builds into $CACHE_ROOT/$1/consul
  local v="$1" work dir
  work="$(mktemp -d "${TMPDIR:-/tmp}/appmesh-consul-build.XXXXXX")"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' RETURN
  log "building Consul $v with $(go version) (this takes several minutes the first time)"
  dir="$(cd "$work" && go mod download -json "github.com/hashicorp/consul@v$v" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then log "go mod download of consul v$v failed"; return 1; fi
  cp -r "$dir" "$work/src" && chmod -R u+w "$work/src"
  (
    cd "$work/src"
    # The module's go.mod points its sub-modules at local folders; use their published versions instead.
    for p in $(awk '/=> *\.\// { for (i = 1; i < NF; i++) if ($(i + 1) == "=>") print $i }' go.mod); do
      go mod edit -dropreplace="$p"
    done
    GOFLAGS=-mod=mod go mod download
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/consul" .
  ) >&2 || return 1
  mkdir -p "$CACHE_ROOT/$v"
  mv "$work/consul" "$CACHE_ROOT/$v/consul"
  usable "$CACHE_ROOT/$v/consul"
}

for v in "$PINNED_VERSION" "${NEIGHBOUR_VERSIONS[@]}"; do
  start=$(date +%s)
  if build_version "$v"; then
    log "built Consul $v in $(( $(date +%s) - start ))s"
    found "$CACHE_ROOT/$v/consul"
  fi
  log "Consul $v did not build; trying the next version"
done

log "no Consul could be built (tried $PINNED_VERSION ${NEIGHBOUR_VERSIONS[*]}); see the errors above."
exit 1
