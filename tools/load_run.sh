#!/usr/bin/env bash
# Overhead under load: checkout_demo --serve under wrk, in two configurations
# alternating in one run (README, "Overhead under load"):
#   exporting  instrumented, 100% of traces sampled, exporting traces and
#              metrics over OTLP/gRPC to a rotel collector (blackhole exporter)
#   disabled   the same binary with OTEL_SDK_DISABLED=true (the baseline)
# Each round starts a fresh shop, warms it up, runs wrk for a fixed time
# with a fixed number of connections, and stops the shop with SIGINT. Rounds
# alternate the order of the configurations (AB, BA, ...) so that drift on a
# shared machine hits both. Loopback only. Two loads:
#   saturated  every connection sends its next checkout as soon as the last
#              one is answered: the most checkouts/s the shop can do
#   paced      every connection waits PACE_MS between checkouts, so both
#              configurations serve about the same rate below saturation:
#              the latencies to compare (at saturation the faster shop also
#              queues more, which hides its latency advantage)
#
# Usage: tools/load_run.sh            (ROUNDS, DURATION, CONNECTIONS, WARMUP,
#                                      PSP_LATENCY_MS, PACE_MS, LOADS, OUT
#                                      override the defaults)
#        PERF=1 tools/load_run.sh     (then one more round per configuration of
#                                      PERF_CONFIGS, default "exporting", under
#                                      `perf record -g`, and its top symbols)
set -euo pipefail

ROUNDS="${ROUNDS:-6}"
DURATION="${DURATION:-20}"          # seconds of measurement per round
WARMUP="${WARMUP:-3}"               # seconds of load before measuring
CONNECTIONS="${CONNECTIONS:-32}"
PACE_MS="${PACE_MS:-60}"
LOADS="${LOADS:-saturated paced}"
PSP_LATENCY_MS="${PSP_LATENCY_MS:-5}"
OUT="${OUT:-$(mktemp -d /tmp/checkout-load.XXXXXX)}"
# The shop's SQLite files go to tmpfs: on a VM disk, an fsync per commit
# bounds the shop at ~190 checkouts/s with seconds of p99 whatever the CPU
# does, which would hide the instrumentation's cost.
SHOP_TMPDIR="${SHOP_TMPDIR:-/dev/shm}"
ROTEL_VERSION="0.0.1a15"
cd "$(dirname "$0")/.."
mkdir -p "$OUT"

say() { printf '== %s\n' "$*" >&2; }

# --- tools ------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk
fi
if [ -z "${ROTEL_BIN:-}" ]; then
  find_rotel() { python3 -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))' 2>/dev/null; }
  ROTEL_BIN="$(find_rotel || true)"
  if [ ! -x "$ROTEL_BIN" ]; then
    say "installing rotel ${ROTEL_VERSION} (PyPI)"
    python3 -m pip install --quiet --pre "rotel==${ROTEL_VERSION}"
    ROTEL_BIN="$(find_rotel)"
  fi
fi

say "building the demo (release)"
cargo build --release --example checkout_demo
DEMO="${CARGO_TARGET_DIR:-target}/release/examples/checkout_demo"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- the collector ------------------------------------------------------------
GRPC_PORT="$(free_port)"; HTTP_PORT="$(free_port)"
"$ROTEL_BIN" start --exporter blackhole \
  --otlp-grpc-endpoint "127.0.0.1:${GRPC_PORT}" --otlp-http-endpoint "127.0.0.1:${HTTP_PORT}" \
  --log-file "$OUT/rotel.log" >"$OUT/rotel.out" 2>&1 &
ROTEL_PID=$!
cleanup() {
  [ -n "${SHOP_PID:-}" ] && kill -TERM "$SHOP_PID" 2>/dev/null || true
  kill -TERM "$ROTEL_PID" 2>/dev/null || true
}
trap cleanup EXIT
sleep 1
kill -0 "$ROTEL_PID" || { say "rotel did not start:"; cat "$OUT/rotel.out" >&2; exit 1; }

# --- the load ----------------------------------------------------------------
# One request per cart in turn; done() prints one machine-readable line.
cat >"$OUT/checkout.lua" <<'LUA'
local n = 0
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
  delay = function() return pace end
end
request = function()
  n = n + 1
  local body = string.format('{"cart_id":"cart-%04d","item_count":2,"customer_id":"cus_8412",'
    .. '"email":"jane.doe@example.com","card_number":"4242 4242 4242 4242"}', n % 1000)
  return wrk.format("POST", "/checkout", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
LUA

# Starts the shop with the environment of configuration $1 and waits for
# its address (SHOP_PID, SHOP_URL).
start_shop() {
  local config="$1" log="$2"
  local -a env=(env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_SDK_DISABLED
    TMPDIR="$SHOP_TMPDIR" OTEL_TRACES_SAMPLER=parentbased_always_on)
  case "$config" in
    exporting) env+=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${GRPC_PORT}" OTEL_EXPORTER_OTLP_PROTOCOL=grpc) ;;
    disabled) env+=(OTEL_SDK_DISABLED=true) ;;
  esac
  "${env[@]}" "$DEMO" --serve 127.0.0.1:0 --psp-latency "$PSP_LATENCY_MS" >"$log" 2>&1 &
  SHOP_PID=$!
  for _ in $(seq 100); do
    SHOP_URL="$(sed -n 's/^serving POST \/checkout on //p' "$log" 2>/dev/null || true)"
    [ -n "$SHOP_URL" ] && grep -q '^Ctrl-C' "$log" && return 0
    sleep 0.1
  done
  say "the shop did not start:"; cat "$log" >&2; exit 1
}

# CPU time (user + system, ms) a process has used so far.
cpu_ms() {
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}

stop_shop() {
  kill -INT "$SHOP_PID"
  wait "$SHOP_PID" || { say "the shop exited with $?"; }
  SHOP_PID=""
}

RESULTS="$OUT/results.tsv"
printf 'load\tround\tconfig\trequests\tduration_us\terrors\tnon2xx\tp50_us\tp99_us\tp999_us\tmax_us\tshutdown_ms\tshop_cpu_ms\tcollector_cpu_ms\n' >"$RESULTS"

run_round() {
  local load="$1" round="$2" config="$3" log="$OUT/shop-$1-$2-$3.log" pace=0
  [ "$load" = paced ] && pace="$PACE_MS"
  start_shop "$config" "$log"
  PACE_MS="$pace" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$OUT/checkout.lua" "$SHOP_URL" >/dev/null
  local shop0 rotel0 shop_cpu rotel_cpu
  shop0="$(cpu_ms "$SHOP_PID")"; rotel0="$(cpu_ms "$ROTEL_PID")"
  PACE_MS="$pace" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$OUT/checkout.lua" \
    "$SHOP_URL" >"$OUT/wrk-$load-$round-$config.txt"
  shop_cpu=$(( $(cpu_ms "$SHOP_PID") - shop0 )); rotel_cpu=$(( $(cpu_ms "$ROTEL_PID") - rotel0 ))
  stop_shop
  local line shutdown
  line="$(grep '^RESULT' "$OUT/wrk-$load-$round-$config.txt")"
  shutdown="$(sed -n 's/^telemetry shut down in \([0-9]*\) ms$/\1/p' "$log")"
  # shellcheck disable=SC2001
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$load" "$round" "$config" \
    "$(echo "$line" | sed 's/RESULT //; s/[a-z0-9_]*=//g; s/ /\t/g')" "${shutdown:-?}" \
    "$shop_cpu" "$rotel_cpu" >>"$RESULTS"
  say "$load round $round $config: $line shutdown=${shutdown:-?}ms shop_cpu=${shop_cpu}ms collector_cpu=${rotel_cpu}ms"
}

say "loads: $LOADS; rounds: $ROUNDS x ${DURATION}s per configuration, $CONNECTIONS connections (paced: ${PACE_MS} ms between checkouts), payment gateway ${PSP_LATENCY_MS} ms; results in $OUT"
for load in $LOADS; do
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="exporting disabled"; else order="disabled exporting"; fi
    for config in $order; do run_round "$load" "$round" "$config"; done
  done
done

python3 - "$RESULTS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def rate(r):
    ok = int(r["requests"]) - int(r["non2xx"]) - int(r["errors"])
    return ok / (int(r["duration_us"]) / 1e6)
med = statistics.median
for load in dict.fromkeys(r["load"] for r in rows):
    print(f"\n{load}: medians over rounds (shutdown: the longest)")
    print(f"{'config':<10} {'checkouts/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'non-2xx':>8} {'shutdown ms':>12} {'shop CPU us/checkout':>21} {'collector':>10}")
    stats, pairs = {}, {}
    for r in rows:
        if r["load"] == load:
            pairs.setdefault(r["round"], {})[r["config"]] = r
    for config in ("exporting", "disabled"):
        rs = [p[config] for p in pairs.values() if config in p]
        if not rs:
            continue
        s = stats[config] = {
            "rate": med([rate(r) for r in rs]),
            "p50": med([int(r["p50_us"]) for r in rs]) / 1e3,
            "p99": med([int(r["p99_us"]) for r in rs]) / 1e3,
            "p999": med([int(r["p999_us"]) for r in rs]) / 1e3,
            "bad": sum(int(r["non2xx"]) + int(r["errors"]) for r in rs),
            "shutdown": max((int(r["shutdown_ms"]) for r in rs if r["shutdown_ms"].isdigit()), default=-1),
            "cpu": med([int(r["shop_cpu_ms"]) * 1e3 / (rate(r) * int(r["duration_us"]) / 1e6) for r in rs]),
            "ccpu": med([int(r["collector_cpu_ms"]) * 1e3 / (rate(r) * int(r["duration_us"]) / 1e6) for r in rs]),
        }
        print(f"{config:<10} {s['rate']:>12.0f} {s['p50']:>8.1f} {s['p99']:>8.1f} {s['p999']:>9.1f} {s['bad']:>8} {s['shutdown']:>12} {s['cpu']:>21.0f} {s['ccpu']:>10.0f}")
    if len(stats) == 2:
        a, b = stats["exporting"], stats["disabled"]
        both = [p for p in pairs.values() if len(p) == 2]
        span = lambda f: sorted(f(p["exporting"]) / f(p["disabled"]) for p in both)
        rr, pr = span(rate), span(lambda r: int(r["p99_us"]))
        print(f"exporting/disabled: checkouts/s {a['rate']/b['rate']:.3f} (rounds {rr[0]:.3f}-{rr[-1]:.3f}), "
              f"p50 {a['p50']/b['p50']:.3f}, p99 {a['p99']/b['p99']:.3f} (rounds {pr[0]:.3f}-{pr[-1]:.3f}), "
              f"p99.9 {a['p999']/b['p999']:.3f}, shop CPU per checkout {a['cpu']/b['cpu']:.3f}")
PY

if [ "${PERF:-0}" = 1 ]; then
  # PERF_CONFIGS="exporting disabled" profiles the baseline too, so that the
  # two profiles can be compared per checkout.
  for config in ${PERF_CONFIGS:-exporting}; do
    say "one more $config round under perf record -g"
    start_shop "$config" "$OUT/shop-perf-$config.log"
    perf record -g -o "$OUT/perf-$config.data" -p "$SHOP_PID" -- sleep "$DURATION" >/dev/null 2>&1 &
    PERF_PID=$!
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$OUT/checkout.lua" "$SHOP_URL" >"$OUT/wrk-perf-$config.txt"
    wait "$PERF_PID" || true
    stop_shop
    perf report -i "$OUT/perf-$config.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40 >"$OUT/perf-top-$config.txt" || true
    say "perf: $OUT/perf-$config.data, top symbols in $OUT/perf-top-$config.txt"
  done
fi
echo "results: $OUT"
