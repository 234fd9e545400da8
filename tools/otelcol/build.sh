#!/usr/bin/env bash
# Builds otelcol-checkout, the reference OpenTelemetry Collector the tests run
# deploy/*.yaml with (tests/otelcol.rs finds it through OTELCOL_BIN), into
# ${CARGO_TARGET_DIR:-target}/otelcol/otelcol-checkout and prints its path on
# the last line of stdout. Needs the Go toolchain (go.mod names the version)
# and the Go module proxy; versions are pinned by go.mod and go.sum.
#
# Cached: nothing is done while the binary is newer than go.mod, go.sum, the
# Go sources and this script. OTELCOL_REBUILD=1 forces a build. A cold build
# (empty Go module and build caches) downloads about 500 MB of modules and
# took 100 s on a shared 2-core machine; a cached one takes no time.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
out="$target/otelcol/otelcol-checkout"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "tools/otelcol/build.sh: the Go toolchain (go) is not installed" >&2
  exit 1
fi

up_to_date=true
if [ ! -x "$out" ] || [ "${OTELCOL_REBUILD:-0}" = 1 ]; then
  up_to_date=false
else
  for src in "$here"/go.mod "$here"/go.sum "$here"/*.go "$here"/build.sh; do
    if [ "$src" -nt "$out" ]; then
      up_to_date=false
    fi
  done
fi

if $up_to_date; then
  echo "otelcol-checkout is up to date (delete it or set OTELCOL_REBUILD=1 to rebuild)" >&2
else
  started=$SECONDS
  mkdir -p "$(dirname "$out")"
  # -mod=readonly: go.sum is committed and must already hold every module,
  # so a build never resolves a version that was not reviewed.
  (cd "$here" && go build -mod=readonly -buildvcs=false -trimpath -ldflags='-s -w' -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  echo "built otelcol-checkout ($(go version | awk '{print $3}')) in $((SECONDS - started))s" >&2
fi
"$out" --version >&2
echo "$out"
