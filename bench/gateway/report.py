"""Turns bench/gateway/run.sh's raw.jsonl into the tables in docs/benchmarks.md."""

import json
import sys

import statistics

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
# Several interleaved runs per cell: report the median of each figure.
grouped = {}
for r in rows:
    if "/" in r["name"] and not r["name"].startswith("oha/"):
        grouped.setdefault(r["name"], []).append(r)


def median_run(rs):
    out = {"runs": len(rs), "achieved_rate": statistics.median(r["achieved_rate"] for r in rs),
           "errors": sum(r["errors"] for r in rs)}
    for metric in ("first_byte", "total"):
        out[metric] = {k: statistics.median(r[metric][k] for r in rs) for k in rs[0][metric]}
    return out


runs = {name: median_run(rs) for name, rs in grouped.items()}


def fmt(x):
    return "n/a" if x is None or x != x else f"{x:.3f}"


for mode, metric, label in (("chat", "total", "non-streaming, full response"), ("stream", "first_byte", "streaming, time to first byte")):
    print(f"\n### {label}\n")
    print("| offered rate | gateway | runs | achieved req/s | errors | p50 ms | p90 ms | p99 ms | overhead p50 ms | overhead p90 ms | overhead p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rates = sorted({n.split("/")[2] for n in runs if n.startswith(mode + "/")}, key=lambda r: (r == "0", float(r)))
    for rate in rates:
        direct = runs.get(f"{mode}/direct/{rate}")
        for gw in ("direct", "tokenwise-before", "tokenwise", "tokenwise-task", "tokenwise-process_crash", "tokenwise-process_crash-task", "noveum", "litellm"):
            r = runs.get(f"{mode}/{gw}/{rate}")
            if not r:
                continue
            m = r[metric]
            over = ["", "", ""]
            if gw != "direct" and direct:
                d = direct[metric]
                over = [fmt(m[k] - d[k]) for k in ("p50_ms", "p90_ms", "p99_ms")]
            label_rate = "max (closed loop)" if rate == "0" else f"{float(rate):.0f}/s"
            print(f"| {label_rate} | {gw} | {r['runs']} | {r['achieved_rate']:.0f} | {r['errors']} | {fmt(m['p50_ms'])} | {fmt(m['p90_ms'])} | {fmt(m['p99_ms'])} | {' | '.join(over)} |")

oha = [r for r in rows if r["name"].startswith("oha/")]
if oha:
    print("\n### oha cross-check (non-streaming, 50 connections, closed loop)\n")
    print("| gateway | req/s | success | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for r in oha:
        print(f"| {r['name'][4:]} | {r['rps']:.0f} | {r['success']:.3f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |")
