#!/usr/bin/env bash
# Peak resident memory of `genfill edit` when the service answers a 1K edit with a decompression
# bomb: a real 16000x16000 PNG of one colour, under 1 MB sent, 1 GiB if decoded whole. Run it
# in the build environment after a build:
#   scripts/devenv bench/bomb_peak.sh [BUILD_DIR]
# Prints the CLI's exit status, its message and its peak resident memory (getrusage of the child).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/build}
tmp=$(mktemp -d)
fake_pid=
cleanup() { [ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$build/tests/fake/genfill-fake-server" >"$tmp/url" &
fake_pid=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(head -n1 "$tmp/url")
python3 - "$url" <<'PY'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_fake/enqueue", data=b'{"picture":"bomb"}',
                                              headers={"Content-Type": "application/json"})).read()
PY
GEMINI_API_KEY=test-key-bomb GENFILL_NO_KEYRING=1 XDG_CACHE_HOME="$tmp/cache" python3 - \
  "$build/cli/genfill" edit --endpoint "$url" --prompt "paint it" "$top/samples/landscape.png" -o "$tmp/out.png" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"exit {r.returncode} after {time.monotonic() - t:.2f} s; peak resident {peak / 1024:.1f} MB")
print((r.stderr or r.stdout).strip())
PY
