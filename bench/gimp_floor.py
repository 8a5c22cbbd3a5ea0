# Runs inside gimp-console (Python-Fu, itself a plug-in): what GIMP 3's own plug-in protocol costs
# to move the pixels of the benchmark's 12 MP / 10 % case in and out, with no genfill code at
# all: reading the region from a layer and writing it into a new layer of that size. Prints
# one JSON line; bench/run shows it next to the targets, since no plug-in can go below it.
import json
import math
import os
import statistics
import time

from gi.repository import Gegl, Gimp, Gio

src = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path("/usr/share/gimp/3.0/images/gimp-splash.png"))
w = int(round(math.sqrt(12e6 * 16 / 9)))
h = int(round(w * 9 / 16))
image = src.duplicate()
src.delete()
image.scale(w, h)
layer = image.get_layers()[0]
if not layer.has_alpha():
    layer.add_alpha()
# The region the plug-in read in the benchmark's 12 MP / 10 % case (bench/run passes it);
# otherwise the 10 % selection, centred, with genfill's default 25 % context on each side.
if os.environ.get("GENFILL_FLOOR_REGION"):
    rw, rh = (int(v) for v in os.environ["GENFILL_FLOOR_REGION"].split("x"))
else:
    sw, sh = int(w * math.sqrt(0.10)), int(h * math.sqrt(0.10))
    rw, rh = int(sw * 1.5), int(sh * 1.5)
rect = Gegl.Rectangle.new((w - rw) // 2, (h - rh) // 2, rw, rh)
reads, writes = [], []
for _ in range(5):
    t = time.perf_counter()
    data = layer.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE)
    reads.append(time.perf_counter() - t)
    new = Gimp.Layer.new(image, "floor", rw, rh, Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
    image.insert_layer(new, None, 0)
    t = time.perf_counter()
    buf = new.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, rw, rh), "R'G'B'A u8", data)
    buf.flush()
    writes.append(time.perf_counter() - t)
    image.remove_layer(new)
image.delete()
print("FLOOR " + json.dumps({"region": [rw, rh], "read_s": statistics.median(reads), "write_s": statistics.median(writes),
                             "read_min_s": min(reads), "write_min_s": min(writes)}), flush=True)
