#!/usr/bin/env python3
"""Turn the criterion results of `cargo bench --bench overhead` into the
ratio table of the Benchmarks section of README.md.

Reads the median point estimate of every `<group>/<side>/<run>/estimates.json`
under criterion's output directory. Every ratio is computed within one run
(the sides of a group are measured back to back), then, over several runs,
the table shows the median of the per-run ratios and their range.

    cargo bench --bench overhead
    python3 tools/bench_ratios.py                      # the last run ("new")

    for r in 1 2 3 4 5; do cargo bench --bench overhead -- --save-baseline run$r; done
    python3 tools/bench_ratios.py --runs run1,run2,run3,run4,run5

    python3 tools/bench_ratios.py --check              # exit status 1 if a target is missed

The bench's alternating mode (`OVERHEAD_AB=<group>`, every side of a group
in turn, round after round: the quickest honest comparison on a busy
machine) prints lines `<group>/<side>: fastest <t>, median <t>`. Give one log
per run to `--ab` and the table is made from each side's median round:

    tools/bench_ab.sh 5                                # target/bench-ab/run1.log ... run5.log
    python3 tools/bench_ratios.py --ab target/bench-ab/run*.log --check

Standard library only.
"""

import argparse
import json
import re
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

# label, group, numerator side, denominator side, target, kind, third column side
# kind "ratio": median(numerator) / median(denominator) <= target
# kind "abs":   median(numerator) in ns < target
# kind "info":  reported, no target
ROWS = [
    ("one span, sampled", "span_sampled", "crate", "raw", 1.0, "ratio", "tracing"),
    ("one span, not sampled", "span_unsampled", "crate", "raw", 0.5, "ratio", "tracing"),
    ("one span, SDK disabled", "span_disabled", "crate", "raw", None, "info", "tracing"),
    ("checkout trace, 11 spans, with its metrics", "checkout_trace", "crate", "raw", 1.05, "ratio", "tracing"),
    ("checkout trace, vs tracing", "checkout_trace", "crate", "tracing", None, "info", "tracing"),
    ("checkout trace, vs tracing-opentelemetry defaults", "checkout_trace", "crate", "tracing_defaults", None, "info", "tracing_defaults"),
    ("meter, one checkout", "meter_checkout", "crate", "raw", 0.5, "ratio", "tracing"),
    ("pseudonymise a user id", "pseudonymise", "crate", "raw", None, "info", None),
    ("scrub 200 chars, clean", "scrub_200", "clean", None, 300.0, "abs", None),
    ("scrub 200 chars, with PII", "scrub_200", "with_pii", None, None, "info", None),
    ("redacting exporter, 512 spans", "redacting_exporter", "crate", "raw", None, "info", None),
    ("one log record, vs the appender alone", "log_record", "crate", "appender", None, "info", None),
    ("one log record, exit check on vs off", "log_record", "crate", "crate_unchecked", None, "info", None),
    ("one hop of W3C trace context (extract + inject), vs the SDK's propagator", "trace_context_hop", "crate", "sdk", 1.0, "ratio", None),
    ("one unary gRPC call through the server layer, vs the same span by hand", "grpc_server_call", "crate", "raw", None, "info", None),
    ("one unary gRPC call through the client layer, vs the same span by hand", "grpc_client_call", "crate", "raw", None, "info", None),
    ("a DEBUG event below the level, vs no subscriber", "debug_event", "crate", "no_subscriber", None, "info", None),
]


def criterion_dir(arg):
    if arg:
        return Path(arg)
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "criterion"
    return Path(__file__).resolve().parent.parent / "target" / "criterion"


def median_ns_criterion(root, group, side, run):
    path = root / group / side / run / "estimates.json"
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


AB_LINE = re.compile(r"^(\w+)/(\w+): fastest [\d.]+ \S+, median ([\d.]+) (ns|µs|ms)$")
UNIT_NS = {"ns": 1.0, "µs": 1_000.0, "ms": 1_000_000.0}


def read_ab_logs(paths):
    """One run per log: {run name: {(group, side): median round in ns}}."""
    runs = {}
    for path in paths:
        values = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = AB_LINE.match(line.strip())
                if m:
                    values[(m.group(1), m.group(2))] = float(m.group(3)) * UNIT_NS[m.group(4)]
        runs[Path(path).stem] = values
    return runs


def fmt_time(ns):
    if ns is None:
        return "–"
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1_000:.2f} µs"
    return f"{ns:.0f} ns"


def machine():
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rustc = subprocess.run(
            ["rustc", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rustc = "rustc unknown"
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, {rustc}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--criterion-dir", help="criterion output (default: $CARGO_TARGET_DIR/criterion or target/criterion)")
    parser.add_argument("--runs", default="new", help="comma-separated criterion baselines (default: new, the last run)")
    parser.add_argument("--ab", nargs="+", metavar="LOG", help="logs of the alternating mode, one per run, instead of criterion's results")
    parser.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed or missing")
    args = parser.parse_args()
    if args.ab:
        ab = read_ab_logs(args.ab)
        runs = list(ab)

        def median_ns(_root, group, side, run):
            return ab[run].get((group, side))

        root = None
    else:
        root = criterion_dir(args.criterion_dir)
        runs = [r for r in args.runs.split(",") if r]
        if not root.is_dir():
            sys.exit(f"no criterion results in {root}: run `cargo bench --bench overhead` first")
        median_ns = median_ns_criterion

    multi = len(runs) > 1
    print("| case | crate | raw | tracing | ratio | target | |")
    print("|---|--:|--:|--:|--:|--:|---|")
    failed = False
    for label, group, num, den, limit, kind, third in ROWS:
        def med(side):
            if side is None:
                return None
            values = [v for v in (median_ns(root, group, side, r) for r in runs) if v is not None]
            return statistics.median(values) if values else None

        if kind == "abs" or num not in ("crate",):
            cells = [fmt_time(med(num)), "–", "–"]
        else:
            cells = [fmt_time(med("crate")), fmt_time(med("raw")), fmt_time(med(third))]

        ratio, target, verdict = "–", "–", ""
        if den:
            per_run = []
            for r in runs:
                a, b = median_ns(root, group, num, r), median_ns(root, group, den, r)
                if a is not None and b:
                    per_run.append(a / b)
            if per_run:
                value = statistics.median(per_run)
                spread = f" ({min(per_run):.2f}–{max(per_run):.2f})" if multi else ""
                ratio = f"{num}/{den} {value:.2f}{spread}"
                if kind == "ratio":
                    target = f"≤ {limit:g}"
                    verdict = "pass" if value <= limit else "**miss**"
            elif kind == "ratio":
                verdict = "not run"
        elif kind == "abs":
            value = med(num)
            target = f"< {limit:.0f} ns"
            verdict = "not run" if value is None else ("pass" if value < limit else "**miss**")
        if kind != "info" and verdict != "pass":
            failed = True
        print(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {ratio} | {target} | {verdict} |")
    print()
    source = "alternating-mode runs" if args.ab else "runs"
    runs_text = f"{len(runs)} {source} ({', '.join(runs)}): medians, ratio = median of the per-run ratios (range)" if multi else f"one run ({runs[0]})"
    print(f"{runs_text}; {machine()}.")
    if args.check and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
