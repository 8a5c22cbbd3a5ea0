# The genfill plug-in in real GIMP with a display (Xvfb), run by tests/gimp/run-gimp-gui-tests
# through Python-Fu. The runner plays the user: it presses keys in the plug-in's own windows
# (xdotool) while the calls below wait. GENFILL_GUI_CASE names the case:
#   cancel  the run waits for a slow answer; the user presses Cancel in genfill's progress
#           window: the call ends at once as cancelled and the image is as it was.
#   key     no API key anywhere: genfill asks for one; the user types it and presses Enter:
#           the edit completes with that key.
#   remembered  (with a keyring) no key anywhere but the keyring, where "key" left it: the edit
#           completes without asking.
#   forget  (with a keyring) the stored key is rejected: the edit fails, and genfill's question
#           "forget it?" is answered Forget.
#   served  the same dialog: the last line of the Model list is the model only the service's
#           own list names (it arrived in the background), not a retired one.
#   model   the Edit with Prompt dialog: the user opens the Model list and picks the third
#           line (after "the service's default" and Gemini 3.1 Flash Image: Nano Banana 2.1),
#           then presses Edit: the edit goes to that model. (The dialog also asks the service
#           for its list of models, in the background.)
#   typed   the same dialog, as a person starts: "a paper lantern" typed at once, then
#           Ctrl+Return: the edit runs with those words.
#   retired the last values name a retired model: genfill offers its replacement, the runner
#           takes it, the edit runs again with it.
#   expand  Expand Canvas's dialog, typed into at once, then Ctrl+Return: the canvas grows.
#   estimate  the Edit with Prompt dialog (OpenAI, low quality): the runner raises the quality
#           and the variations, then presses Edit: the edit asks for medium quality, two
#           pictures; the run's cost is printed for the runner to hold against the estimates the
#           dialog showed (its debug log).
#   many    Edit Many with Prompt's dialog (every open image), typed into at once, then
#           Ctrl+Return: the one open image gets its layer, with the typed words.
#   drafts  the last values, the fake streaming its events 1.5 s apart: genfill's progress
#           window shows the drafts (its debug log says so; the runner keeps a screenshot with
#           GENFILL_GUI_SHOTS), and only the finished picture lands in the new layer.
# The first two run with the last values (what Filters > Repeat does), so no procedure dialog
# opens; the runner writes those values beforehand, which the dialog of "model" starts from.
import json
import os
import time
import traceback
import urllib.request

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, Gegl, Gio  # noqa: E402

URL = os.environ["GENFILL_FAKE_URL"]
CASE = os.environ["GENFILL_GUI_CASE"]
PHOTO = "/usr/share/gimp/3.0/images/gimp-splash.png"
DELAY_MS = 60000


def fake(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def pixels(drawable):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return drawable.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def edit_with_last_values(image, layer):
    proc = Gimp.get_pdb().lookup_procedure("plug-in-genfill-edit")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.WITH_LAST_VALS)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    start = time.monotonic()
    res = proc.run(cfg)
    return res, time.monotonic() - start


def edit_in_dialog(image, layer, procedure="plug-in-genfill-edit"):
    # The procedure's dialog (the runner plays the user there); the run must succeed.
    proc = Gimp.get_pdb().lookup_procedure(procedure)
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    res = proc.run(cfg)
    check(res.index(0) == Gimp.PDBStatusType.SUCCESS, "status %s" % res.index(0))


def case_model(image, layer):
    edit_in_dialog(image, layer)
    reqs = fake("/_fake/requests")
    # The dialog's Model list asked the service which models it serves (GET, before Edit).
    lists = [r for r in reqs if r["method"] == "GET"]
    check(lists and all(r["path"] == "/v1beta/models" and r["status"] == 200 for r in lists),
          "the service's model list was read: %s" % [(r["method"], r["path"], r["status"]) for r in reqs])
    edits = [r for r in reqs if r["method"] != "GET"]
    check(len(edits) == 1, "one edit: %s" % [(r["method"], r["path"]) for r in reqs])
    check(edits[0]["model"] == "gemini-nano-banana-2.1", "the model picked in the list: %s" % edits[0]["model"])
    check(edits[0]["image_size"] == "1K", "with its image size: %s" % edits[0]["image_size"])


def case_served(image, layer):
    # The last line of the Model list: the service's own list has arrived (a model only the
    # service knows comes last), and no retired model is offered (they would follow the served
    # ones in the catalog's order).
    edit_in_dialog(image, layer)
    edits = [r for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(len(edits) == 1, "one edit: %s" % edits)
    check(edits[0]["model"] == "gemini-9-flash-image-exp",
          "the last model in the list is the service's new one: %s" % edits[0]["model"])


def case_typed(image, layer):
    # Typed at once into the dialog, then Ctrl+Return: the typed words replaced the remembered
    # prompt ("a red kite"), and the edit ran with them.
    count = len(image.get_layers())
    edit_in_dialog(image, layer)
    check(len(image.get_layers()) == count + 1, "one layer added")
    edits = [r for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(len(edits) == 1, "one edit: %s" % [(r["method"], r["path"]) for r in edits])
    check(edits[0]["prompt"].startswith("a paper lantern"), "the typed prompt: %r" % edits[0]["prompt"])


def case_retired(image, layer):
    # The last values name a retired model: the service's 404 (not billed) brings the question
    # "Use gemini-3-pro-image" (the runner takes it with Return, its default), and the edit
    # runs again with the replacement; a layer arrives.
    count = len(image.get_layers())
    res, _ = edit_with_last_values(image, layer)
    check(res.index(0) == Gimp.PDBStatusType.SUCCESS, "status %s" % res.index(0))
    check(len(image.get_layers()) == count + 1, "one layer added")
    edits = [(r["model"], r["status"]) for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(edits == [("gemini-3-pro-image-preview", 404), ("gemini-3-pro-image", 200)],
          "the retired model refused, then its replacement: %s" % edits)


def case_expand_typed(image, layer):
    # Expand Canvas's dialog, as a person starts: the words typed at once, then Ctrl+Return (its
    # last values give 40 px on the left and right): the canvas grows and a layer arrives.
    width, count = image.get_width(), len(image.get_layers())
    edit_in_dialog(image, layer, "plug-in-genfill-expand")
    check(image.get_width() == width + 80, "the canvas grew by the margins: %d -> %d" % (width, image.get_width()))
    check(len(image.get_layers()) == count + 1, "one layer added")
    edits = [r for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(len(edits) == 1 and "a paper lantern" in edits[0]["prompt"], "the typed prompt: %s" % edits)


def case_estimate(image, layer):
    count = len(image.get_layers())
    edit_in_dialog(image, layer)
    edits = [r for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(len(edits) == 1, "one call (OpenAI makes both pictures in one): %s" % edits)
    check(edits[0]["quality"] == "medium" and edits[0]["n"] == 2, "medium quality, two pictures: %s" % edits[0])
    new = [l for l in image.get_layers() if l.get_name() != layer.get_name()]
    check(len(image.get_layers()) == count + 1, "one layer group added")
    meta = json.loads(bytes(new[0].get_children()[0].get_parasite("genfill").get_data()).decode())
    print("COST %.6f" % meta["cost"]["usd"], flush=True)


def case_cancel(image, layer):
    before = pixels(layer)
    count = len(image.get_layers())
    fake("/_fake/enqueue", {"delay_ms": DELAY_MS})
    res, seconds = edit_with_last_values(image, layer)
    check(res.index(0) == Gimp.PDBStatusType.CANCEL, "status %s" % res.index(0))
    check(seconds < DELAY_MS / 1000 / 2, "ended %.1f s after the start, not at the Cancel" % seconds)
    check(len(fake("/_fake/requests")) == 1, "the request had been sent")
    check(len(image.get_layers()) == count, "nothing added")
    check(pixels(layer) == before, "source unchanged")


def case_many(image, layer):
    count = len(image.get_layers())
    edit_in_dialog(image, layer, "plug-in-genfill-edit-many")
    check(len(image.get_layers()) == count + 1, "one layer added")
    edits = [r for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(len(edits) == len(Gimp.get_images()), "one edit per open image: %s" % edits)
    check(edits[0]["prompt"].startswith("a paper lantern"), "the typed prompt: %r" % edits[0]["prompt"])


def case_drafts(image, layer):
    # Gemini 3 sends two thought pictures (grey) before the answer (the fake's colour).
    before = pixels(layer)
    count = len(image.get_layers())
    fake("/_fake/enqueue", {"event_delay_ms": 1500})
    res, _ = edit_with_last_values(image, layer)
    check(res.index(0) == Gimp.PDBStatusType.SUCCESS, "status %s" % res.index(0))
    check(len(image.get_layers()) == count + 1, "one layer added")
    reqs = fake("/_fake/requests")
    check(len(reqs) == 1 and reqs[0]["stream"] and ":streamGenerateContent" in reqs[0]["path"],
          "one streamed request: %s" % [(r["path"], r["stream"]) for r in reqs])
    new = image.get_layers()[0]
    # The middle of the selection (100, 100, 200, 150) in the new layer: the answer, not a draft.
    x, y = 200 - new.get_offsets()[1], 175 - new.get_offsets()[2]
    rect = Gegl.Rectangle.new(x, y, 1, 1)
    px = new.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE)
    r, g, b = px[0], px[1], px[2]
    check(r > 200 and g < 60 and b > 200, "the finished picture (magenta) is placed, not a grey draft: %s" % ((r, g, b),))
    check(pixels(layer) == before, "source unchanged")


def case_key(image, layer):
    count = len(image.get_layers())
    res, _ = edit_with_last_values(image, layer)
    check(res.index(0) == Gimp.PDBStatusType.SUCCESS, "status %s" % res.index(0))
    check(len(image.get_layers()) == count + 1, "one layer added")
    reqs = fake("/_fake/requests")
    check(len(reqs) == 1 and reqs[0]["has_key"], "sent with the typed key: %s" % reqs)


def case_remembered(image, layer):
    # No key in the environment, and nobody to type one: the key the "key" case typed, with
    # "Remember it" on, comes from the desktop keyring (a key dialog would wait here for ever).
    count = len(image.get_layers())
    res, _ = edit_with_last_values(image, layer)
    check(res.index(0) == Gimp.PDBStatusType.SUCCESS, "status %s" % res.index(0))
    check(len(image.get_layers()) == count + 1, "one layer added")
    edits = [r for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(len(edits) == 1 and edits[0]["has_key"] and edits[0]["status"] == 200,
          "sent with the remembered key: %s" % edits)


def case_forget(image, layer):
    # The keyring's key is rejected (the fake refuses keys starting with "bad"): the edit fails,
    # adds nothing, and genfill asks whether to forget the key (the runner answers Forget).
    count = len(image.get_layers())
    res, _ = edit_with_last_values(image, layer)
    check(res.index(0) == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % res.index(0))
    check(len(image.get_layers()) == count, "nothing added")
    edits = [r for r in fake("/_fake/requests") if r["method"] != "GET"]
    check(len(edits) == 1 and edits[0]["status"] == 400, "the stored key was sent and refused: %s" % edits)


image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(PHOTO))
Gimp.Display.new(image)
layer = image.get_layers()[0]
image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
try:
    {"cancel": case_cancel, "key": case_key, "remembered": case_remembered, "forget": case_forget,
     "model": case_model, "served": case_served, "typed": case_typed, "retired": case_retired,
     "expand": case_expand_typed, "estimate": case_estimate, "drafts": case_drafts,
     "many": case_many}[CASE](image, layer)
    print("PASS", CASE, flush=True)
except Exception:
    print("FAIL", CASE, "\n" + traceback.format_exc(), flush=True)
