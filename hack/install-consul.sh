#!/usr/bin/env bash
# Prints the path of a Consul binary (>= the minimum version) on stdout, building one if needed.
# Order: $CONSUL_BIN, `consul` on PATH, the per-user cache, then a build of the pinned version from the Go
# module proxy. All progress goes to stderr so callers can do: CONSUL=$(hack/install-consul.sh).
#
# Licence: the pinned version, 1.16.1 (July 2023), is the last Consul release that is MPL-2.0 end to end (main module
# and its sub-modules). Later releases are under the Business Source License, which is not an open-source licence, so
# this script never builds one: it builds only versions in MPL_VERSIONS and checks the licence texts of the main module
# and of every hashicorp/consul sub-module the build pulls in before compiling. A Consul the user brings
# ($CONSUL_BIN, PATH) is used as it is, whatever its version above the minimum: that is the user's choice.
set -euo pipefail

PINNED_VERSION="1.16.1"
# The versions this script may build: MPL-2.0 releases only. (Asking for another with APPMESH_CONSUL_VERSION fails.)
MPL_VERSIONS=(1.16.1)
# The oldest version the suites were run on and passed (README "Prerequisites" lists the runs).
MIN_VERSION="1.16.1"
VERSION="${APPMESH_CONSUL_VERSION:-$PINNED_VERSION}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/appmesh/consul"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'install-consul: %s\n' "$*" >&2; }

version_of() { # prints e.g. 1.16.1, or nothing when the binary does not run
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
  log "CONSUL_BIN=$CONSUL_BIN is not an executable Consul >= $MIN_VERSION (it reports '$(version_of "$CONSUL_BIN" || true)'); looking further"
fi
if on_path="$(command -v consul 2>/dev/null)"; then
  if usable "$on_path"; then found "$on_path"; fi
  log "ignoring $on_path on PATH: Consul '$(version_of "$on_path" || true)' is older than $MIN_VERSION"
fi

allowed=false
for v in "${MPL_VERSIONS[@]}"; do [ "$v" = "$VERSION" ] && allowed=true; done
if ! $allowed; then
  log "refusing to build Consul $VERSION: this script builds only MPL-2.0 releases (${MPL_VERSIONS[*]})."
  log "Consul 1.17 and later are under the Business Source License. To test against such a Consul you installed"
  log "yourself, set CONSUL_BIN=/path/to/consul."
  exit 1
fi

if usable "$CACHE_ROOT/$VERSION/consul"; then found "$CACHE_ROOT/$VERSION/consul"; fi

if ! command -v go >/dev/null 2>&1; then
  log "no Consul >= $MIN_VERSION found (checked \$CONSUL_BIN, PATH, $CACHE_ROOT) and no Go toolchain to build one."
  log "install Go (https://go.dev/dl) or Consul, or set CONSUL_BIN to a consul binary."
  exit 1
fi

mpl_licensed() { # $1 = a module directory; true when its LICENSE is the MPL 2.0 and not the BSL
  local f="$1/LICENSE"
  [ -f "$f" ] || return 1
  grep -q 'Mozilla Public License' "$f" && ! grep -qi 'Business Source License' "$f"
}

build_version() { # $1 = version; builds into $CACHE_ROOT/$1/consul
  local v="$1" work dir
  work="$(mktemp -d "${TMPDIR:-/tmp}/appmesh-consul-build.XXXXXX")"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' RETURN
  log "building Consul $v with $(go version) (the first build takes several minutes)"
  dir="$(cd "$work" && go mod download -json "github.com/hashicorp/consul@v$v" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then log "go mod download of consul v$v failed"; return 1; fi
  if ! mpl_licensed "$dir"; then log "consul v$v is not MPL-2.0 licensed ($dir/LICENSE); not building it"; return 1; fi
  cp -r "$dir" "$work/src" && chmod -R u+w "$work/src"
  (
    cd "$work/src"
    # The module's go.mod points its sub-modules at local folders; use their published versions instead.
    for p in $(awk '/=> *\.\// { for (i = 1; i < NF; i++) if ($(i + 1) == "=>") print $i }' go.mod); do
      go mod edit -dropreplace="$p"
    done
    export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
    # Download only what the build needs (`go list -m all` would also ask for modules outside the build, one of
    # which the proxy refuses), then check that every hashicorp/consul sub-module in it is MPL-2.0
    # (envoyextensions and troubleshoot moved to the BSL in later versions).
    go list -deps -test=false . >/dev/null
    bad=0
    while read -r path ver mdir; do
      [ -n "$mdir" ] || continue
      if mpl_licensed "$mdir"; then log "  $path $ver: MPL-2.0"; else log "  $path $ver: NOT MPL-2.0 ($mdir/LICENSE)"; bad=1; fi
    done < <(go list -m -f '{{.Path}} {{.Version}} {{.Dir}}' 'github.com/hashicorp/consul/...' |
      awk '$1 != "github.com/hashicorp/consul"')
    [ "$bad" -eq 0 ] || { echo "install-consul: a Consul sub-module is not MPL-2.0; not building" >&2; exit 1; }
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/consul" .
  ) >&2 || return 1
  mkdir -p "$CACHE_ROOT/$v"
  mv "$work/consul" "$CACHE_ROOT/$v/consul"
  usable "$CACHE_ROOT/$v/consul"
}

start=$(date +%s)
if build_version "$VERSION"; then
  log "built Consul $VERSION in $(( $(date +%s) - start ))s"
  found "$CACHE_ROOT/$VERSION/consul"
fi
log "Consul $VERSION could not be built; see the errors above. (Or set CONSUL_BIN to a Consul >= $MIN_VERSION.)"
exit 1
