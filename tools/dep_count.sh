#!/usr/bin/env bash
# Counts the crates a service pulls in by depending on checkout-otel with the
# given features: a throwaway consumer crate in a temporary folder depends on
# this checkout by path (the crate's own dev-dependency on itself would unify
# features, so counting inside the repository would overstate it).
#
#   tools/dep_count.sh                       # default features
#   tools/dep_count.sh --no-default-features --features grpc
#   MAX_CRATES=100 tools/dep_count.sh        # exit 1 above the limit
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
consumer="$(mktemp -d)"
trap 'rm -rf "$consumer"' EXIT

default_features=true
features=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-default-features) default_features=false ;;
    --features) shift; features="$1" ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
feature_list="$(printf '%s' "$features" | tr ',' '\n' | sed '/^$/d; s/.*/"&"/' | paste -sd, -)"

mkdir -p "$consumer/src"
cat >"$consumer/Cargo.toml" <<TOML
[package]
name = "dep-count-consumer"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
checkout-otel = { path = "$repo", default-features = $default_features, features = [$feature_list] }

[workspace]
TOML
echo 'fn main() {}' >"$consumer/src/main.rs"
cp "$repo/Cargo.lock" "$consumer/Cargo.lock" 2>/dev/null || true

# One line per crate (name and version), the consumer itself left out.
count="$(cd "$consumer" && cargo tree -e normal --prefix none --quiet |
  sed 's/ (\*)$//; s/ (proc-macro)$//; s/ (.*)$//' | sort -u |
  grep -v '^dep-count-consumer ' | wc -l)"
echo "checkout-otel (default features: $default_features, features: ${features:-none}): $count crates"
if [ -n "${MAX_CRATES:-}" ] && [ "$count" -gt "$MAX_CRATES" ]; then
  echo "more than MAX_CRATES=$MAX_CRATES" >&2
  exit 1
fi
