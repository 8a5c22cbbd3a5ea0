#!/usr/bin/env bash
# Makes docs/seam-before-after.png: the CLI against the fake server answering with a drifted
# copy of the upload, composited --raw (left) and corrected (right). Run in scripts/devenv.
set -e
cd "$(dirname "$0")/.."
B=build
T=$(mktemp -d)
python3 - "$T" <<'PY'
import sys, gi
gi.require_version('GdkPixbuf', '2.0')
from gi.repository import GdkPixbuf
T = sys.argv[1]
src = GdkPixbuf.Pixbuf.new_from_file('/usr/share/gimp/3.0/images/gimp-splash.png')
w, h = src.get_width(), src.get_height()
m = GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, False, 8, w, h)
rs = m.get_rowstride()
buf = bytearray(rs * h)
cx, cy, rx, ry = w * 0.5, h * 0.5, w * 0.12, h * 0.2
for y in range(h):
    for x in range(int(cx - rx) - 1, int(cx + rx) + 2):
        if ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1:
            o = y * rs + x * 3
            buf[o:o + 3] = b'\xff\xff\xff'
GdkPixbuf.Pixbuf.new_from_bytes(__import__('gi.repository.GLib', fromlist=['GLib']).Bytes.new(bytes(buf)),
    GdkPixbuf.Colorspace.RGB, False, 8, w, h, rs).savev(T + '/mask.png', 'png', [], [])
PY
$B/tests/fake/genfill-fake-server --port 18787 --stdin-eof < <(sleep 60) > $T/fake.log 2>&1 &
sleep 1
python3 -c 'import urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:18787/_fake/enqueue", data=b"{\"color\":\"3366CC\",\"count\":2,\"drift\":{\"dx\":9,\"dy\":-6,\"scale\":1.04,\"gain\":1.12,\"offset\":-6}}", method="POST")).read()'
export GEMINI_API_KEY=fake-key-for-the-loopback GENFILL_NO_KEYRING=1
$B/cli/genfill edit --endpoint http://127.0.0.1:18787 --prompt "a blue disc" --mask $T/mask.png --raw --json /usr/share/gimp/3.0/images/gimp-splash.png -o $T/raw.png > $T/raw.json
$B/cli/genfill edit --endpoint http://127.0.0.1:18787 --prompt "a blue disc" --mask $T/mask.png --json /usr/share/gimp/3.0/images/gimp-splash.png -o $T/fixed.png > $T/fixed.json
grep -A8 '"seam"' $T/fixed.json | head -12
python3 - "$T" <<'PY'
import sys, gi
gi.require_version('GdkPixbuf', '2.0')
from gi.repository import GdkPixbuf
T = sys.argv[1]
raw = GdkPixbuf.Pixbuf.new_from_file(T + '/raw.png')
fixed = GdkPixbuf.Pixbuf.new_from_file(T + '/fixed.png')
w, h = raw.get_width(), raw.get_height()
# the selection's left edge, where a drift shows most
x0, y0, cw, ch = int(w * 0.5 - w * 0.12) - 120, int(h * 0.5) - 150, 300, 300
out = GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, True, 8, cw * 2 + 8, ch)
out.fill(0xffffffff)
raw.copy_area(x0, y0, cw, ch, out, 0, 0)
fixed.copy_area(x0, y0, cw, ch, out, cw + 8, 0)
out.savev('docs/seam-before-after.png', 'png', [], [])
print('wrote docs/seam-before-after.png')
PY
