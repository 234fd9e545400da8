#!/usr/bin/env python3
"""Turn the criterion results of `cargo bench --bench overhead` into the
ratio table of docs/readme-benchmarks.md.

Reads the median point estimate of every `<group>/<side>/new/estimates.json`
under criterion's output directory, so every figure of a row comes from the
same run. Prints a Markdown table, then the machine it ran on.

    cargo bench --bench overhead
    python3 tools/bench_ratios.py            # table on stdout
    python3 tools/bench_ratios.py --check    # exit status 1 if a target is missed

Standard library only.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

# (group, label, numerator side, denominator side or None, limit, kind)
# kind "ratio": numerator median / denominator median <= limit
# kind "abs":   numerator median (ns) < limit
# kind "info":  shown, no target
ROWS = [
    ("span_sampled", "one span, sampled", "crate", "raw", 1.0, "ratio"),
    ("span_unsampled", "one span, not sampled", "crate", "raw", 0.5, "ratio"),
    ("span_disabled", "one span, SDK disabled", "crate", "raw", None, "info"),
    ("checkout_trace", "checkout trace (11 spans)", "crate", "tracing", 0.3, "ratio"),
    ("meter_checkout", "meter, one checkout", "crate", "raw", 0.5, "ratio"),
    ("pseudonymise", "pseudonymise a user id", "crate", "raw", None, "info"),
    ("scrub_200", "scrub 200 chars, clean", "clean", None, 300.0, "abs"),
    ("scrub_200", "scrub 200 chars, with PII", "with_pii", None, None, "info"),
    ("redacting_exporter", "redacting exporter, batch", "crate", "raw", None, "info"),
]

SIDES = ("crate", "raw", "tracing")


def criterion_dir(arg):
    if arg:
        return Path(arg)
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "criterion"
    return Path(__file__).resolve().parent.parent / "target" / "criterion"


def median_ns(root, group, side):
    path = root / group / side / "new" / "estimates.json"
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


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
    parser.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed or missing")
    args = parser.parse_args()
    root = criterion_dir(args.criterion_dir)
    if not root.is_dir():
        sys.exit(f"no criterion results in {root}: run `cargo bench --bench overhead` first")

    print("| case | crate | raw | tracing | ratio | target | |")
    print("|---|--:|--:|--:|--:|--:|---|")
    failed = False
    for group, label, num, den, limit, kind in ROWS:
        times = {side: median_ns(root, group, side) for side in SIDES + (num,)}
        if kind == "abs" or num not in SIDES:
            cells = [fmt_time(times[num]), "–", "–"]
        else:
            cells = [fmt_time(times[s]) for s in SIDES]
        ratio, target, verdict = "–", "–", ""
        if kind in ("ratio", "info") and den and times[num] is not None and times[den]:
            value = times[num] / times[den]
            ratio = f"{num}/{den} {value:.2f}"
            if kind == "ratio":
                target = f"≤ {limit:.1f}"
                verdict = "pass" if value <= limit else "**miss**"
        elif kind == "abs" and times[num] is not None:
            target = f"< {limit:.0f} ns"
            verdict = "pass" if times[num] < limit else "**miss**"
        if times[num] is None:
            verdict = "not run" if kind != "info" else ""
        if kind != "info" and verdict != "pass":
            failed = True
        print(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {ratio} | {target} | {verdict} |")
    print()
    print(f"Medians of one run on {machine()}.")
    if args.check and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
