#!/usr/bin/env bash
# Runs the overhead bench's alternating mode (OVERHEAD_AB) for every group
# of the README's table (not metric_export: its export waits for the
# reader's thread, so its rounds measure wake-ups; count its instructions
# with OVERHEAD_PROFILE under callgrind), RUNS times, one log per run under target/bench-ab/.
# Then: python3 tools/bench_ratios.py --ab target/bench-ab/run*.log [--check]
#
#   tools/bench_ab.sh [RUNS] [GROUP...]      # default: 5 runs, every group
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
groups=("$@")
if [ ${#groups[@]} -eq 0 ]; then
  groups=(span_sampled span_unsampled span_disabled checkout_trace meter_checkout
          pseudonymise scrub_200 redacting_exporter log_record trace_context_hop grpc_server_call grpc_client_call
          debug_event)
fi
target=${CARGO_TARGET_DIR:-target}
bin=$(cargo bench --bench overhead --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "overhead" and m.get("executable"):
        print(m["executable"])')
out="$target/bench-ab"
mkdir -p "$out"
for r in $(seq 1 "$runs"); do
  log="$out/run$r.log"
  : >"$log"
  for g in "${groups[@]}"; do
    OVERHEAD_AB="$g" "$bin" 2>&1 | grep -E '^[a-z_0-9]+/[a-z_0-9]+: fastest' | tee -a "$log"
  done
done
echo "logs in $out; now: python3 tools/bench_ratios.py --ab $out/run*.log"
