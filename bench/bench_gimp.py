# Runs inside gimp-console (Python-Fu): edits on photos of 1, 12 and 24 megapixels with
# selections of 1, 10 and 100 % of their area, through the real plug-in against the
# loopback fake. The plug-in appends its stage timings to $GENFILL_TIMINGS; this script
# appends one line per run (the case and the wall time of proc.run) to $GENFILL_BENCH_RUNS.
import json
import math
import os
import time
import urllib.request

URL = os.environ["GENFILL_FAKE_URL"]
RUNS = os.environ["GENFILL_BENCH_RUNS"]
REPEAT = int(os.environ.get("GENFILL_BENCH_REPEAT", "3"))
PROVIDER = os.environ.get("GENFILL_BENCH_PROVIDER", "openai")
# GENFILL_BENCH_ONLY="12" or "12:0.1" or "12:0.1:4": only the cases matching (megapixels,
# selection, variations), for looking closely at one of them.
ONLY = [float(x) for x in os.environ.get("GENFILL_BENCH_ONLY", "").split(":") if x]


def wanted(*case):
    return all(abs(a - b) < 1e-9 for a, b in zip(ONLY, case))


def fake(path, body):
    req = urllib.request.Request(URL + path, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def photo(megapixels):
    src = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path("/usr/share/gimp/3.0/images/gimp-splash.png"))
    w = int(round(math.sqrt(megapixels * 1e6 * 16 / 9)))
    h = int(round(w * 9 / 16))
    image = src.duplicate()
    src.delete()
    image.scale(w, h)
    layer = image.get_layers()[0]
    if not layer.has_alpha():
        layer.add_alpha()
    return image, layer


def edit(image, layer, share, variations=1, provider=PROVIDER):
    W, H = image.get_width(), image.get_height()
    if share < 1.0:
        s = math.sqrt(share)
        w, h = int(W * s), int(H * s)
        image.select_rectangle(Gimp.ChannelOps.REPLACE, (W - w) // 2, (H - h) // 2, w, h)
    else:
        Gimp.Selection.none(image)
    proc = Gimp.get_pdb().lookup_procedure("plug-in-genfill-edit")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    cfg.set_property("prompt", "benchmark")
    cfg.set_property("provider", provider)
    cfg.set_property("endpoint", URL + "/v1" if provider == "openai" else URL)
    cfg.set_property("variations", variations)
    t = time.perf_counter()
    res = proc.run(cfg)
    wall = time.perf_counter() - t
    assert res.index(0) == Gimp.PDBStatusType.SUCCESS, res.index(1)
    for l in res.get_core_object_array(1):  # keep the image as it was for the next run
        parent = l.get_parent()
        image.remove_layer(l)
        if parent is not None and len(parent.get_children()) == 0:
            image.remove_layer(parent)
    return wall


def record(case, wall):
    with open(RUNS, "a") as f:
        f.write(json.dumps(dict(case, wall=wall)) + "\n")


for mp in (1, 12, 24):
    if not wanted(mp):
        continue
    image, layer = photo(mp)
    for share in (0.01, 0.10, 1.0):
        for _ in range(REPEAT if wanted(mp, share, 1) else 0):
            record({"megapixels": mp, "selection": share, "provider": PROVIDER,
                    "layer_bytes": image.get_width() * image.get_height() * 4}, edit(image, layer, share))
    if mp == 12:  # four variations while the service takes 2 s for each
        for _ in range(REPEAT if wanted(mp, 0.10, 4) else 0):
            fake("/_fake/enqueue", {"delay_ms": 2000, "count": 4})
            # Gemini: one request per variation, all at once.
            record({"megapixels": mp, "selection": 0.10, "provider": "gemini", "variations": 4, "service_s": 2.0,
                    "layer_bytes": image.get_width() * image.get_height() * 4},
                   edit(image, layer, 0.10, 4, "gemini"))
    image.delete()
print("bench runs done", flush=True)
