# One edit with the installed genfill plug-in, inside headless GIMP on a clean system, against
# the loopback fake. Run by scripts/check-package through gimp-console's Python-Fu. GIMP must
# have found the plug-in by itself: no plug-in-path, no GENFILL_* variable but the fake's URL.
import json
import os
import traceback
import urllib.request

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, Gegl  # noqa: E402

URL = os.environ["GENFILL_FAKE_URL"]
VERSION = os.environ["GENFILL_EXPECT_VERSION"]
LABEL = os.environ.get("GENFILL_EXPECT_LABEL", "Edit with Prompt…")  # in the language GIMP runs in
MAGENTA = (255, 0, 255, 255)
BLUE = (40, 90, 160, 255)


def fake(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def pixel(drawable, x, y):
    buf = drawable.get_buffer()
    return tuple(buf.get(Gegl.Rectangle.new(x, y, 1, 1), 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE))


def installed_plugin_edits_a_selection():
    pdb = Gimp.get_pdb()
    proc = pdb.lookup_procedure("plug-in-genfill-edit")
    check(proc is not None, "plug-in-genfill-edit is not registered: GIMP did not find the plug-in")
    check(any(p.startswith("<Image>/Filters/") for p in proc.get_menu_paths()),  # "Generative", translated
          "menu paths: %s" % proc.get_menu_paths())
    check(proc.get_menu_label().replace("_", "") == LABEL, "menu label %r" % proc.get_menu_label())
    check(proc.get_copyright() == "genfill " + VERSION, "version %r" % proc.get_copyright())

    fake("/_fake/reset", {})
    image = Gimp.Image.new(320, 240, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(image, "photo", 320, 240, Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    Gimp.context_set_foreground(Gegl.Color.new("#%02x%02x%02x" % BLUE[:3]))
    layer.fill(Gimp.FillType.FOREGROUND)
    check(pixel(layer, 5, 5) == BLUE, "fill: %s" % (pixel(layer, 5, 5),))
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 60, 120, 100)

    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    cfg.set_property("prompt", "a paper lantern")
    cfg.set_property("endpoint", URL)
    cfg.set_property("feather", 4.0)
    res = proc.run(cfg)
    status = res.index(0)
    if status != Gimp.PDBStatusType.SUCCESS:
        raise AssertionError("status %s: %s" % (status, res.index(1) if res.length() > 1 else ""))
    layers = image.get_layers()
    check(len(layers) == 2, "one layer added, have %d" % len(layers))
    new = layers[0]
    check(new.get_mask() is not None, "the new layer is masked to the selection")
    check(pixel(layer, 160, 110) == BLUE, "the source layer is untouched")
    check(pixel(new, 160 - new.get_offsets()[1], 110 - new.get_offsets()[2]) == MAGENTA, "the model's picture landed")
    record = json.loads(bytes(new.get_parasite("genfill").get_data()).decode())
    check(record.get("generator") == "genfill " + VERSION, "record: %s" % record.get("generator"))
    reqs = fake("/_fake/requests")
    check(len(reqs) == 1 and reqs[0]["has_key"] and not reqs[0]["key_in_query"], "one request, key in a header")
    print("INFO plug-in found; the edit added layer %r at %s" % (new.get_name(), new.get_offsets()[1:]), flush=True)
    image.delete()


try:
    installed_plugin_edits_a_selection()
    print("PASS installed_plugin_edits_a_selection", flush=True)
except Exception:
    print("FAIL installed_plugin_edits_a_selection\n" + traceback.format_exc(), flush=True)
