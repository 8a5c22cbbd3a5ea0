#!/usr/bin/env bash
# Time from sending an edit to the first draft shown, and to the finished picture, for the
# services that stream (Gemini's thought pictures, OpenAI's partial images), through `genfill
# edit --json` against the loopback fake sending its events EVENT_MS apart. Run it in the build
# environment after a build:
#   scripts/devenv bench/first_draft.sh [BUILD_DIR] [EVENT_MS (default 500)] [RUNS (default 5)]
# Prints, per service, the medians of the runs: seconds to the first draft, seconds to the end,
# and the drafts shown; and the same edit asked whole (--no-stream) for comparison.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/build}
event_ms=${2:-500}
runs=${3:-5}
tmp=$(mktemp -d)
fake_pid=
cleanup() { [ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$build/tests/fake/genfill-fake-server" --port 0 >"$tmp/url" &
fake_pid=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(head -n1 "$tmp/url")
GEMINI_API_KEY=test-key-bench OPENAI_API_KEY=test-key-bench GENFILL_NO_KEYRING=1 XDG_CACHE_HOME="$tmp/cache" \
XDG_DATA_HOME="$tmp/data" python3 - "$build/cli/genfill" "$url" "$event_ms" "$runs" "$top/samples/landscape.png" \
  "$tmp" <<'PY'
import json, statistics, subprocess, sys, time, urllib.request
cli, url, event_ms, runs, photo, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]

def enqueue(reply):
    urllib.request.urlopen(urllib.request.Request(url + "/_fake/enqueue", data=json.dumps(reply).encode())).read()

print(f"events {event_ms} ms apart; medians of {runs} runs")
print("| service | asked | first draft | finished | drafts |")
print("|---|---|---|---|---|")
for provider, endpoint in (("gemini", url), ("openai", url + "/v1")):
    for stream in (True, False):
        first, total, drafts = [], [], []
        for i in range(runs):
            # Asked whole, the fake answers after as long as the stream would take.
            enqueue({"event_delay_ms": event_ms} if stream else {"delay_ms": event_ms * (5 if provider == "gemini" else 2)})
            args = [cli, "edit", "--provider", provider, "--endpoint", endpoint, "--prompt", "a lantern", "--json",
                    "--force", photo, "-o", f"{tmp}/out.png"] + ([] if stream else ["--no-stream"])
            t = time.monotonic()
            r = subprocess.run(args, capture_output=True, text=True)
            total.append(time.monotonic() - t)
            if r.returncode != 0:
                sys.exit(f"{provider}: {r.stderr}")
            doc = json.loads(r.stdout)
            drafts.append(doc["drafts"])
            if "first_draft_seconds" in doc:
                first.append(doc["first_draft_seconds"])
        f = f"{statistics.median(first):.2f} s" if first else "none"
        print(f"| {provider} | {'streamed' if stream else 'whole'} | {f} | {statistics.median(total):.2f} s | "
              f"{statistics.median(drafts):.0f} |")
PY
