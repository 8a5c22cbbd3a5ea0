#!/usr/bin/env python3
"""Turns the benchmark's raw lines into a table, results.json, a baseline comparison and
the targets' verdicts.

    report.py RUNS.jsonl STAGES.jsonl RESULTS.json BASELINE.json [--save-baseline]
"""
import json
import os
import platform
import statistics
import sys

runs_path, stages_path, results_path, baseline_path = sys.argv[1:5]
save = "--save-baseline" in sys.argv[5:]
runs = [json.loads(l) for l in open(runs_path)]
stages = [json.loads(l) for l in open(stages_path)]
assert len(runs) == len(stages), (len(runs), len(stages))

STAGES = ["read", "plan", "resolve", "encode", "build", "request", "decode", "scale", "seam", "feather", "insert"]
groups = {}
for run, st in zip(runs, stages):
    key = (run["megapixels"], run["selection"], run.get("variations", 1), run["provider"])
    groups.setdefault(key, []).append((run, st))

rows = []
for (mp, sel, var, provider), items in sorted(groups.items()):
    med = lambda f: statistics.median(f(r, s) for r, s in items)
    row = {
        "megapixels": mp, "selection": sel, "variations": var, "provider": provider, "runs": len(items),
        "wall_s": med(lambda r, s: r["wall"]),
        "plugin_total_s": med(lambda r, s: s["total"]),
        "own_s": med(lambda r, s: s["total"] - s["stages"].get("request", 0)),
        "stages_s": {k: med(lambda r, s, k=k: s["stages"].get(k, 0.0)) for k in STAGES},
        "bytes_sent": med(lambda r, s: s["bytes_sent"]),
        "upload_png": med(lambda r, s: s["upload_png"]),
        "peak_rss_mb": med(lambda r, s: s["peak_rss_kb"] / 1024.0),
        # What the edit adds to the plug-in process: its peak minus its footprint when the run began.
        "added_mb": med(lambda r, s: (s["peak_rss_kb"] - s.get("start_rss_kb", 0)) / 1024.0),
        "layer_mb": items[0][0]["layer_bytes"] / 2**20,
        # The plug-in's peak so far after each stage (which stage raised it), when recorded.
        "peak_mb_after": {k: med(lambda r, s, k=k: s.get("peak_kb_after", {}).get(k, 0) / 1024.0)
                          for k in items[0][1].get("peak_kb_after", {})},
        "region": items[0][1]["region"],
    }
    row["upload_ratio"] = row["bytes_sent"] / max(1, row["upload_png"] * var if provider == "gemini" else row["upload_png"])
    rows.append(row)

def find(mp, sel, var=1):
    return next((r for r in rows if r["megapixels"] == mp and r["selection"] == sel and r["variations"] == var), None)

targets = []
def target(name, value, limit, unit):
    targets.append({"target": name, "value": value, "limit": limit, "unit": unit, "met": value is not None and value <= limit})

r = find(24, 0.01); target("24 MP, 1 % selection: genfill's own time", r and r["own_s"], 1.0, "s")
r = find(12, 0.10); target("12 MP, 10 %: plug-in overhead (own time)", r and r["own_s"], 0.1, "s")
worst = max((x["upload_ratio"] for x in rows if x["variations"] == 1), default=None)
target("bytes uploaded / PNG of the region at upload size (worst case)", worst, 1.1, "x")
r = find(12, 0.10, 4); target("4 variations, service 2 s each: wall time", r and r["wall_s"], 2.6, "s")
# The plug-in's whole peak (its libraries included), not only what the edit adds to it.
over = max((x["peak_rss_mb"] - x["layer_mb"] for x in rows), default=None)
target("plug-in's peak memory above the layer's own bytes (worst case)", over, 64.0, "MB")

# GIMP's own pixel transfer for the 12 MP / 10 % region (bench/gimp_floor.py), when measured.
floor = None
floor_path = os.environ.get("GENFILL_BENCH_FLOOR")
if floor_path and os.path.exists(floor_path) and os.path.getsize(floor_path) > 0:
    floor = json.loads(open(floor_path).read().splitlines()[0])

machine = "%s, %d cores, %s" % (platform.machine(), os.cpu_count(), platform.platform())
results = {"machine": machine, "rows": rows, "targets": targets, "gimp_transfer_floor": floor}
json.dump(results, open(results_path, "w"), indent=2)

print("machine: " + machine)
hdr = "%-5s %-5s %-3s %-7s %8s %8s " % ("MP", "sel", "var", "service", "wall s", "own s") + \
      " ".join("%8s" % k for k in STAGES) + " %9s %6s %8s %8s" % ("sent KB", "ratio", "RSS MB", "added")
print(hdr)
for x in rows:
    print("%-5g %-5g %-3d %-7s %8.3f %8.3f " % (x["megapixels"], x["selection"], x["variations"], x["provider"],
                                               x["wall_s"], x["own_s"]) +
          " ".join("%8.3f" % x["stages_s"][k] for k in STAGES) +
          " %9.0f %6.2f %8.0f %8.0f" % (x["bytes_sent"] / 1024, x["upload_ratio"], x["peak_rss_mb"], x["added_mb"]))
print()
for t in targets:
    v = "n/a" if t["value"] is None else "%.3f" % t["value"]
    print("%-4s %s: %s %s (limit %s)" % ("MET" if t["met"] else "MISS", t["target"], v, t["unit"], t["limit"]))

worst_mem = max(rows, key=lambda x: x["peak_rss_mb"] - x["layer_mb"], default=None)
if worst_mem and worst_mem["peak_mb_after"]:
    print("peak memory of the worst case (%g MP, %g %%, %d variation(s)) after each stage: %s MB" % (
        worst_mem["megapixels"], worst_mem["selection"] * 100, worst_mem["variations"],
        ", ".join("%s %.0f" % kv for kv in worst_mem["peak_mb_after"].items())))
if floor:
    print("GIMP's own transfer of the 12 MP / 10 %% region (%dx%d), no genfill code: read %.3f s, write %.3f s "
          "(medians of 5; fastest %.3f / %.3f)" % (floor["region"][0], floor["region"][1], floor["read_s"],
                                                 floor["write_s"], floor["read_min_s"], floor["write_min_s"]))

if os.path.exists(baseline_path) and not save:
    base = {(b["megapixels"], b["selection"], b["variations"], b["provider"]): b for b in json.load(open(baseline_path))["rows"]}
    print()
    slower = 0
    for x in rows:
        b = base.get((x["megapixels"], x["selection"], x["variations"], x["provider"]))
        if not b:
            continue
        change = (x["own_s"] - b["own_s"]) / max(b["own_s"], 1e-3)
        if change > 0.25 and x["own_s"] - b["own_s"] > 0.02:
            slower += 1
            print("REGRESSION %g MP %g %%: own time %.3f s, baseline %.3f s (%+.0f %%)" % (
                x["megapixels"], x["selection"] * 100, x["own_s"], b["own_s"], change * 100))
    print("baseline: %d case(s) slower by more than 25 %%" % slower)
if save:
    json.dump(results, open(baseline_path, "w"), indent=2)
    print("saved as baseline: " + baseline_path)
