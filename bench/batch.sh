#!/usr/bin/env bash
# Wall time of `genfill batch` over 12 edits against the loopback fake taking 1 s an answer, with
# --jobs 1, 4 and 8. Run it in the build environment after a build:
#   scripts/devenv bench/batch.sh [BUILD_DIR] [RUNS (default 3)]
# Prints, per --jobs, the median wall time of the runs and the most calls that were in flight.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/build}
runs=${2:-3}
tmp=$(mktemp -d)
fake_pid=
cleanup() { [ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$build/tests/fake/genfill-fake-server" --port 0 >"$tmp/url" &
fake_pid=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(head -n1 "$tmp/url")
GEMINI_API_KEY=test-key-bench GENFILL_NO_KEYRING=1 XDG_CACHE_HOME="$tmp/cache" XDG_DATA_HOME="$tmp/data" \
python3 - "$build/cli/genfill" "$url" "$runs" "$top/samples/landscape.png" "$tmp" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time, urllib.request
cli, url, runs, photo, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"12 edits of {os.path.basename(photo)}, the fake answering after 1 s; medians of {runs} runs")
print("| --jobs | wall time | calls in flight at most |")
print("|---|---|---|")
for jobs in (1, 4, 8):
    times, most = [], []
    for run in range(runs):
        work = os.path.join(tmp, f"j{jobs}-{run}")
        os.makedirs(work)
        shutil.copy(photo, os.path.join(work, "in.png"))
        with open(os.path.join(work, "batch.jsonl"), "w") as f:
            for i in range(12):
                f.write(json.dumps({"prompt": f"a lantern {i}", "input": "in.png", "output": f"out-{i}.png"}) + "\n")
        urllib.request.urlopen(urllib.request.Request(url + "/_fake/enqueue",
                                                      data=json.dumps({"delay_ms": 1000, "count": 12}).encode())).read()
        t = time.monotonic()
        r = subprocess.run([cli, "batch", "--endpoint", url, "--jobs", str(jobs), "--json", "-q",
                            os.path.join(work, "batch.jsonl")], capture_output=True, text=True)
        times.append(time.monotonic() - t)
        if r.returncode != 0:
            sys.exit(r.stderr + r.stdout)
        doc = json.loads(r.stdout)
        assert doc["done"] == 12, doc
        most.append(doc["max_in_flight"])
    print(f"| {jobs} | {statistics.median(times):.2f} s | {max(most)} |")
PY
