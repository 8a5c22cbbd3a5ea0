# The genfill plug-in inside real headless GIMP 3, against the loopback fake of the services.
# Run by tests/gimp/run-gimp-tests through gimp-console's Python-Fu (Gimp, Gegl, Gio in scope).
import json
import os
import traceback
import urllib.request

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, Gegl, Gio  # noqa: E402

URL = os.environ["GENFILL_FAKE_URL"]
KEY = os.environ.get("GEMINI_API_KEY", "")
PHOTO = os.environ.get("GENFILL_TEST_PHOTO", "/usr/share/gimp/3.0/images/gimp-splash.png")
ONLY = os.environ.get("GENFILL_GIMP_TEST", "")
MAGENTA = (255, 0, 255, 255)
results = []


def fake(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def endpoint(provider):
    return URL + "/v1" if provider in ("openai", "openai-chat") else URL


def pixels(drawable, x, y, w, h):
    buf = drawable.get_buffer()
    return buf.get(Gegl.Rectangle.new(x, y, w, h), 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE)


def composite(image):
    """What the user sees: the visible layers merged, from a duplicate."""
    dup = image.duplicate()
    merged = dup.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
    data = pixels(merged, 0, 0, image.get_width(), image.get_height())
    dup.delete()
    return data


def selection_bytes(image):
    sel = image.get_selection()
    buf = sel.get_buffer()
    return buf.get(Gegl.Rectangle.new(0, 0, image.get_width(), image.get_height()), 1.0, "Y u8",
                   Gegl.AbyssPolicy.NONE)


def run(name, image=None, drawables=(), **args):
    proc = Gimp.get_pdb().lookup_procedure(name)
    assert proc is not None, name + " is not registered"
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    if image is not None:
        cfg.set_property("image", image)
        cfg.set_core_object_array("drawables", list(drawables))
    for k, v in args.items():
        if isinstance(v, list):
            cfg.set_core_object_array(k.replace("_", "-"), v)
        else:
            cfg.set_property(k.replace("_", "-"), v)
    res = proc.run(cfg)
    status = res.index(0)
    value = None
    if res.length() > 1:
        if status == Gimp.PDBStatusType.SUCCESS and name != "plug-in-genfill-new-image":
            value = res.get_core_object_array(1)  # the new layers
        else:
            value = res.index(1)  # the image, or the error message
    return status, value


def open_photo():
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(PHOTO))
    layer = image.get_layers()[0]
    if not layer.has_alpha():
        layer.add_alpha()
    return image, layer


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def test(fn):
    if ONLY and ONLY not in fn.__name__:
        return fn
    fake("/_fake/reset", {})
    try:
        fn()
        results.append((fn.__name__, None))
        print("PASS", fn.__name__, flush=True)
    except Exception:
        results.append((fn.__name__, traceback.format_exc()))
        print("FAIL", fn.__name__, "\n" + traceback.format_exc(), flush=True)
    return fn


def masked_fill(provider):
    image, layer = open_photo()
    before_layer = pixels(layer, 0, 0, layer.get_width(), layer.get_height())
    before_view = composite(image)
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 400, 300, 300, 200)
    sel = selection_bytes(image)
    position = image.get_item_position(layer)
    count = len(image.get_layers())
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="a magenta balloon", provider=provider,
                         endpoint=endpoint(provider), feather=8.0)
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status, layers))
    check(len(layers) == 1, "one new layer, got %d" % len(layers))
    new = layers[0]
    check(len(image.get_layers()) == count + 1, "one layer added")
    check(image.get_item_position(new) == position, "new layer directly above the source")
    check(image.get_item_position(layer) == position + 1, "source just below")
    ok, x, y = new.get_offsets()
    w, h = new.get_width(), new.get_height()
    check(x <= 400 and y <= 300 and x + w >= 700 and y + h >= 500, "covers the selection: %s" % ((x, y, w, h),))
    check(w < image.get_width() or h < image.get_height(), "only the region, not the whole picture")
    check(new.get_mask() is not None, "masked to the selection")
    # The source layer is bit-identical.
    check(pixels(layer, 0, 0, layer.get_width(), layer.get_height()) == before_layer, "source layer changed")
    # On screen: outside the selection exactly as before; deep inside the fake's colour.
    after = composite(image)
    W = image.get_width()
    outside_diff = inside = inside_ok = 0
    for yy in range(y, y + h):
        for xx in range(x, x + w):
            s = sel[yy * W + xx]
            i = (yy * W + xx) * 4
            if s == 0:
                if after[i:i + 4] != before_view[i:i + 4]:
                    outside_diff += 1
            elif ((xx - 550) / 130.0) ** 2 + ((yy - 400) / 80.0) ** 2 <= 1.0:  # 20 px inside the edge
                inside += 1
                if tuple(after[i:i + 4]) == MAGENTA:
                    inside_ok += 1
    check(outside_diff == 0, "%d pixels outside the selection changed" % outside_diff)
    check(inside > 10000 and inside_ok == inside, "inside: %d of %d are the model's" % (inside_ok, inside))
    reqs = fake("/_fake/requests")
    check(len(reqs) == 1 and reqs[0]["has_key"] and not reqs[0]["key_in_query"], "one request with the key header")
    image.delete()
    return reqs[0], new


@test
def selection_fill_gemini():
    req, _ = masked_fill("gemini")
    # Streamed (the catalog says the model streams): its two draft pictures came first and the
    # layer holds only the finished one (masked_fill checked every pixel is the model's).
    check(req["path"].endswith(":streamGenerateContent") and req["stream"], req["path"])
    check(req["image_count"] == 2, "the region and the mask picture")


@test
def selection_fill_openai():
    req, _ = masked_fill("openai")
    check(req["path"] == "/v1/images/edits", req["path"])
    check(req["mask_size"] == req["image_sizes"][0], "mask has the image's size: %s" % req)
    # gpt-image-2 (the default) takes free sizes: sides multiples of 16, 655,360 to 3,686,400 pixels,
    # no side over three times the other; here the shape of the region sent.
    check(req["model"] == "gpt-image-2", req["model"])
    w, h = (int(v) for v in req["size"].split("x"))
    check(w % 16 == 0 and h % 16 == 0 and 655360 <= w * h <= 3686400 and max(w, h) <= 3 * min(w, h), req["size"])
    sent_w, sent_h = req["image_sizes"][0]
    check(abs(w / h - sent_w / sent_h) < 0.05, "%s for an upload of %dx%d" % (req["size"], sent_w, sent_h))


@test
def whole_layer_without_selection():
    image, layer = open_photo()
    Gimp.Selection.none(image)
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="make it magenta", provider="openai",
                         endpoint=endpoint("openai"))
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    new = layers[0]
    check((new.get_width(), new.get_height()) == (layer.get_width(), layer.get_height()), "drawable's size")
    check(new.get_offsets()[1:] == layer.get_offsets()[1:], "drawable's offsets")
    check(new.get_mask() is None, "no mask without a selection")
    px = pixels(new, 0, 0, new.get_width(), new.get_height())
    check(bytes(px[0:4]) == bytes(MAGENTA) and bytes(px[-4:]) == bytes(MAGENTA), "the model's pixels")
    image.delete()


@test
def variations_make_a_group():
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="three balloons", provider="gemini",
                         endpoint=endpoint("gemini"), variations=3, seed=7)
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check(len(layers) == 3, "three layers")
    group = layers[0].get_parent()
    check(group is not None and group.is_group(), "inside a group")
    check(group.get_name().startswith("three balloons"), group.get_name())
    check([l.get_visible() for l in layers] == [True, False, False], "first visible, rest hidden")
    check(image.get_item_position(group) == image.get_item_position(layer) - 1, "group above the source")
    reqs = fake("/_fake/requests")
    check(len(reqs) == 3, "Gemini: one request per variation")
    image.delete()


@test
def generate_layer_in_the_selection_box():
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 50, 60, 100, 80)
    status, layers = run("plug-in-genfill-generate", image, [layer], prompt="a small boat", provider="openai",
                         endpoint=endpoint("openai"))
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    new = layers[0]
    check((new.get_width(), new.get_height()) == (100, 80), "selection box size")
    check(new.get_offsets()[1:] == (50, 60), "at the selection box")
    check(fake("/_fake/requests")[0]["path"] == "/v1/images/generations", "a generation")
    image.delete()


@test
def generate_with_a_transparent_background():
    proc = Gimp.get_pdb().lookup_procedure("plug-in-genfill-generate")
    names = [a.name for a in proc.get_arguments()]
    # Arguments added since the first release come last, in the order they came.
    check(names[:3] == ["run-mode", "image", "drawables"] and names[3:] == [
        "prompt", "provider", "model", "endpoint", "variations", "seed", "references", "transparent", "quality",
        "image-size"], "earlier order kept: %s" % names)
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 40, 50, 240, 160)
    status, layers = run("plug-in-genfill-generate", image, [layer], prompt="a fox sticker", provider="openai",
                         endpoint=endpoint("openai"), transparent=True)
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status, layers))
    new = layers[0]
    check(new.has_alpha(), "the layer has an alpha channel")
    check((new.get_width(), new.get_height()) == (240, 160), "selection box size")
    data = pixels(new, 0, 0, 240, 160)
    alphas = data[3::4]
    clear = sum(1 for a in alphas if a == 0)
    opaque = sum(1 for a in alphas if a == 255)
    check(clear > len(alphas) // 10 and opaque > len(alphas) // 10,
          "real transparency: %d clear, %d opaque of %d" % (clear, opaque, len(alphas)))
    req = fake("/_fake/requests")[0]
    check(req["background"] == "transparent" and req["output_format"] == "png", req)
    # Gemini cannot: a clear error, nothing added, nothing sent.
    fake("/_fake/reset", {})
    count = len(image.get_layers())
    status, message = run("plug-in-genfill-generate", image, [layer], prompt="a fox sticker", provider="gemini",
                          endpoint=endpoint("gemini"), transparent=True)
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % status)
    check("transparent" in (message or ""), "message: %r" % message)
    check(len(image.get_layers()) == count, "nothing added")
    check(fake("/_fake/requests") == [], "nothing sent")
    image.delete()


@test
def new_image_from_prompt():
    status, image = run("plug-in-genfill-new-image", prompt="a lighthouse", provider="gemini",
                        endpoint=endpoint("gemini"), aspect="16:9")
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check((image.get_width(), image.get_height()) == (1376, 768), "the model's 16:9 size")
    check(len(image.get_layers()) == 1, "one layer")
    check(fake("/_fake/requests")[0]["aspect"] == "16:9", "asked for 16:9")
    image.delete()


@test
def imagen_generates_and_refuses_edits():
    """Imagen (legacy :predict) makes a layer from the prompt; an edit with it stops before sending."""
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 50, 60, 100, 80)
    # Every Imagen model is retired, so there is no default: the model is named (the fake, like
    # relays and old endpoints, still serves it).
    status, layers = run("plug-in-genfill-generate", image, [layer], prompt="a small boat", provider="imagen",
                         model="imagen-4.0-generate-001", endpoint=endpoint("imagen"))
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check((layers[0].get_width(), layers[0].get_height()) == (100, 80), "selection box size")
    req = fake("/_fake/requests")[0]
    check(req["path"].endswith("/imagen-4.0-generate-001:predict"), req["path"])
    check(req["has_key"] and not req["key_in_query"], "the key in its header")
    fake("/_fake/reset", {})
    before = pixels(layer, 0, 0, layer.get_width(), layer.get_height())
    count = len(image.get_layers())
    status, message = run("plug-in-genfill-edit", image, [layer], prompt="make it red", provider="imagen",
                          model="imagen-4.0-generate-001", endpoint=endpoint("imagen"))
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % status)
    check("only creates new pictures" in (message or ""), "message: %r" % message)
    check(len(image.get_layers()) == count, "nothing added")
    check(pixels(layer, 0, 0, layer.get_width(), layer.get_height()) == before, "source unchanged")
    check(fake("/_fake/requests") == [], "nothing was sent")
    image.delete()


def expect_failure(reply, provider, words, **args):
    """An edit that fails (with `reply` scripted, unless None): a clear message, and the image
    exactly as it was. `args` go to the edit as well (a model, say)."""
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    before = pixels(layer, 0, 0, layer.get_width(), layer.get_height())
    count = len(image.get_layers())
    image.clean_all()
    first_id = new_item_id(image)
    if reply is not None:
        fake("/_fake/enqueue", reply)
    status, message = run("plug-in-genfill-edit", image, [layer], prompt="x", provider=provider,
                          endpoint=endpoint(provider), **args)
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % status)
    check(any(w in (message or "") for w in words), "message: %r" % message)
    check(KEY not in (message or ""), "the key is not in the message")
    check(len(image.get_layers()) == count, "nothing added")
    check(pixels(layer, 0, 0, layer.get_width(), layer.get_height()) == before, "source unchanged")
    check(not image.is_dirty(), "no undo step, nothing to save")
    # The layers prepared while the service worked were deleted, not left outside the image.
    left = [i for i in range(first_id + 1, new_item_id(image)) if Gimp.Item.id_is_valid(i)]
    check(not left, "items the run made are gone: %s" % left)
    image.delete()
    return message


def new_item_id(image):
    """The id GIMP gives the next item (made and deleted here)."""
    probe = Gimp.Layer.new(image, "probe", 1, 1, Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
    pid = probe.get_id()
    probe.delete()
    return pid


@test
def server_error_adds_nothing():
    expect_failure({"status": 500, "fixture": "gemini/error_500_internal.json", "count": 3}, "gemini", ["Gemini"])
    check(len(fake("/_fake/requests")) == 3, "tried three times")


@test
def bad_key_is_explained():
    expect_failure({"status": 401, "fixture": "openai/error_401_invalid_api_key.json"}, "openai", ["API key"])


@test
def refusal_is_explained():
    expect_failure({"status": 400, "fixture": "openai/error_400_moderation_blocked.json"}, "openai", ["refused"])


@test
def text_only_answer_is_shown():
    expect_failure({"text_only": True}, "gemini", ["will not draw it"])


@test
def timeout_adds_nothing():
    # GENFILL_TIMEOUT is 3 s for this run: a stalled answer ends the run without a trace.
    expect_failure({"delay_ms": 8000, "count": 3}, "gemini", ["did not answer"])


FAULTS = [  # (reply, provider, words the user must see)
    ({"status": 403, "fixture": "gemini/error_403_permission_denied_consumer_suspended.json"}, "gemini", ["suspended"]),
    ({"status": 404, "fixture": "openai/error_404_model_not_found.json"}, "openai", ["model"]),
    ({"status": 429, "fixture": "openai/error_429_insufficient_quota.json"}, "openai", ["credit"]),
    ({"status": 429, "fixture": "gemini/error_429_resource_exhausted_minimal.json", "count": 3}, "gemini",
     ["too many requests"]),
    ({"status": 502, "body": "<html>Bad gateway</html>", "count": 3}, "openai", ["error 502"]),
    ({"status": 503, "fixture": "gemini/error_503_unavailable.json", "count": 3}, "gemini", ["overloaded"]),
    ({"reset": True, "count": 3}, "gemini", ["Could not reach"]),
    ({"truncate_at": 50}, "openai", ["does not understand"]),
    ({"picture": "bad_base64"}, "gemini", ["damaged"]),
    ({"picture": "corrupt"}, "openai", ["cannot read"]),
    ({"picture": "tiny"}, "gemini", ["too small"]),
    ({"picture": "huge"}, "openai", ["far larger than asked for"]),
    ({"picture": "bomb"}, "gemini", ["far larger than asked for"]),
    ({"huge_bytes": 1073741824}, "gemini", ["larger than genfill accepts"]),
    # finishReason IMAGE_SAFETY: a picture was made, then held back.
    ({"status": 200, "fixture": "gemini/response_candidate_image_safety_no_content.json"}, "gemini",
     ["safety filters blocked it"]),
]


@test
def fault_matrix_changes_nothing():
    for reply, provider, words in FAULTS:
        try:
            expect_failure(reply, provider, words)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (json.dumps(reply), e))
        fake("/_fake/reset", {})


def parent_of(pid):
    """The parent process id of pid, or None when it is gone."""
    try:
        with open("/proc/%s/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else None


def genfill_children(gimp):
    """The genfill plug-in processes GIMP (gimp) runs now."""
    pids = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")[0]
        except OSError:
            continue
        if cmd.endswith(b"gimp-plugin/genfill/genfill") and parent_of(pid) == gimp:
            pids.add(int(pid))
    return pids


def kill_plugin_after(seconds):
    """What GIMP's Cancel button does to a plug-in: SIGKILL while it waits.

    Only this GIMP's own genfill plug-in started for the run that follows is killed: this script
    runs in a plug-in of the GIMP under test, so that GIMP is our parent, and its genfill child
    is the one to kill. Other GIMP runs on the machine (another suite, another checkout) keep
    theirs, and so does a genfill process GIMP was still running before (a slow build's query
    at start-up)."""
    import signal
    import threading
    import time

    gimp = os.getppid()
    earlier = genfill_children(gimp)
    killed = []

    def killer():
        time.sleep(seconds)
        for pid in sorted(genfill_children(gimp) - earlier):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    t = threading.Thread(target=killer)
    t.start()
    t.killed = killed
    return t


@test
def cancel_while_waiting_leaves_the_image_as_it_was():
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    before = pixels(layer, 0, 0, layer.get_width(), layer.get_height())
    count = len(image.get_layers())
    fake("/_fake/enqueue", {"delay_ms": 2500})
    killer = kill_plugin_after(1.0)
    status, _ = run("plug-in-genfill-edit", image, [layer], prompt="x", provider="gemini",
                    endpoint=endpoint("gemini"))
    killer.join()
    check(len(killer.killed) == 1, "killed this GIMP's own plug-in, and only it: %s" % killer.killed)
    check(status != Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check(len(image.get_layers()) == count, "nothing added")
    check(pixels(layer, 0, 0, layer.get_width(), layer.get_height()) == before, "source unchanged")
    image.delete()


@test
def cancel_mid_answer_leaves_the_image_as_it_was():
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    before = pixels(layer, 0, 0, layer.get_width(), layer.get_height())
    count = len(image.get_layers())
    fake("/_fake/enqueue", {"stall": True, "truncate_at": 200})  # half an answer, then silence
    killer = kill_plugin_after(1.0)
    status, _ = run("plug-in-genfill-edit", image, [layer], prompt="x", provider="openai",
                    endpoint=endpoint("openai"))
    killer.join()
    check(len(killer.killed) == 1, "killed this GIMP's own plug-in, and only it: %s" % killer.killed)
    check(status != Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check(len(image.get_layers()) == count, "nothing added")
    check(pixels(layer, 0, 0, layer.get_width(), layer.get_height()) == before, "source unchanged")
    image.delete()


@test
def parasite_records_provenance_but_never_the_key():
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="a red kite", provider="gemini",
                         endpoint=endpoint("gemini"), seed=42)
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    parasite = layers[0].get_parasite("genfill")
    check(parasite is not None, "parasite attached")
    raw = bytes(parasite.get_data())
    meta = json.loads(raw.decode())
    check(meta["provider"] == "gemini" and meta["model"] == "gemini-3.1-flash-image", meta)
    check(meta["prompt"] == "a red kite" and meta["seed"] == 42 and meta["time"], meta)
    check(meta["text"] == "Here is the edited picture.", meta)
    # What the run used and cost: the service's usage by kind, priced with the catalog's prices.
    usage, cost = meta.get("usage", {}), meta.get("cost", {})
    check(usage.get("output_image_tokens", 0) > 0 and usage.get("input_image_tokens", 0) > 0, usage)
    check(cost.get("usd", 0) > 0.01 and cost.get("estimated") is False and len(cost.get("prices_as_of", "")) == 10,
          cost)
    check(KEY.encode() not in raw, "the key is not in the parasite")
    check(layers[0].get_name().startswith("a red kite"), layers[0].get_name())
    image.delete()


def meta_of(layer):
    return json.loads(bytes(layer.get_parasite("genfill").get_data()).decode())


def cache_dir():
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ["HOME"], ".cache"),
                        "genfill", "conversations")


def seen_at(image, x, y):
    px = composite(image)
    i = (y * image.get_width() + x) * 4
    return tuple(px[i:i + 4])


@test
def refine_twice_in_plain_words():
    """Select, ask, then refine twice: each step a new masked layer that continues the conversation."""
    image, layer = open_photo()
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 400, 300, 300, 200)
    steps = [("make it red", "FF0000", None), ("now make it yellow", "FFFF00", None),
             ("a little darker", "808000", (480, 340, 140, 120))]  # the third on a smaller selection
    made = []
    source = layer
    for prompt, color, rect in steps:
        if rect:
            image.select_rectangle(Gimp.ChannelOps.REPLACE, *rect)
        fake("/_fake/enqueue", {"color": color})
        status, layers = run("plug-in-genfill-edit", image, [source], prompt=prompt, provider="gemini",
                             endpoint=endpoint("gemini"))
        check(status == Gimp.PDBStatusType.SUCCESS, "%s: status %s: %s" % (prompt, status, layers))
        new = layers[0]
        check(new.get_mask() is not None, "%s: masked to the selection" % prompt)
        check(image.get_item_position(new) == image.get_item_position(source) - 1, "%s: right above" % prompt)
        made.append(new)
        source = new

    reqs = fake("/_fake/requests")
    check(len(reqs) == 3, "three requests, got %d" % len(reqs))
    check(reqs[0]["roles"] == ["user"], reqs[0]["roles"])
    check(reqs[1]["roles"] == ["user", "model", "user"], "the second request carries the first turn: %s"
          % reqs[1]["roles"])
    check(reqs[1]["history_prompts"] == ["make it red"], reqs[1]["history_prompts"])
    check(reqs[1]["history_images"] == 2, "the picture sent and the one received: %d" % reqs[1]["history_images"])
    check(len(reqs[1]["signatures"]) == 1, reqs[1]["signatures"])
    import base64
    check(base64.b64decode(reqs[1]["signatures"][0]).startswith(b"fake-signature-"), "signature returned unchanged")
    check(reqs[1]["prompt"].startswith("now make it yellow"), reqs[1]["prompt"])
    check(reqs[2]["roles"] == ["user", "model"] * 2 + ["user"], reqs[2]["roles"])
    check(reqs[2]["history_prompts"] == ["make it red", "now make it yellow"], reqs[2]["history_prompts"])
    ids = {meta_of(l)["conversation"] for l in made}
    check(len(ids) == 1 and len(ids.pop()) == 32, "one conversation through the steps")
    check(KEY.encode() not in b"".join(bytes(l.get_parasite("genfill").get_data()) for l in made), "no key")

    # Flip back through the steps: what is seen deep inside the last selection.
    check(seen_at(image, 550, 400) == (128, 128, 0, 255), "step 3 seen: %s" % (seen_at(image, 550, 400),))
    made[2].set_visible(False)
    check(seen_at(image, 550, 400) == (255, 255, 0, 255), "step 2 seen: %s" % (seen_at(image, 550, 400),))
    made[1].set_visible(False)
    check(seen_at(image, 550, 400) == (255, 0, 0, 255), "step 1 seen: %s" % (seen_at(image, 550, 400),))
    made[1].set_visible(True)
    made[2].set_visible(True)

    # Turned off: a single turn.
    fake("/_fake/reset", {})
    status, _ = run("plug-in-genfill-edit", image, [made[2]], prompt="blue", provider="gemini",
                    endpoint=endpoint("gemini"), continue_conversation=False)
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check(fake("/_fake/requests")[0]["roles"] == ["user"], "no history when turned off")

    # The cache gone (the file opened on another computer): a single turn on the layer's pixels.
    import shutil
    conv = meta_of(made[2])["conversation"]
    shutil.rmtree(os.path.join(cache_dir(), conv))
    fake("/_fake/reset", {})
    status, layers = run("plug-in-genfill-edit", image, [made[2]], prompt="green", provider="gemini",
                         endpoint=endpoint("gemini"))
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check(fake("/_fake/requests")[0]["roles"] == ["user"], "single turn without the cache")
    check(meta_of(layers[0])["conversation"] != conv, "a new conversation starts")
    image.delete()


def small_reference(w=64, h=48):
    other = Gimp.Image.new(w, h, Gimp.ImageBaseType.RGB)
    ref = Gimp.Layer.new(other, "cat", w, h, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    other.insert_layer(ref, None, 0)
    return other, ref


@test
def reference_layer_is_sent_as_a_second_picture():
    for provider in ("gemini", "openai"):
        fake("/_fake/reset", {})
        image, layer = open_photo()
        Gimp.Selection.none(image)
        other, ref = small_reference()
        status, layers = run("plug-in-genfill-edit", image, [layer], prompt="put this cat on that pillow",
                             provider=provider, endpoint=endpoint(provider), references=[ref])
        check(status == Gimp.PDBStatusType.SUCCESS, "%s: status %s: %s" % (provider, status, layers))
        req = fake("/_fake/requests")[0]
        check(req["image_count"] == 2, "%s: two pictures, got %d" % (provider, req["image_count"]))
        check(req["image_sizes"][1] == [64, 48], "%s: the reference as it is: %s" % (provider, req["image_sizes"]))
        image.delete()
        other.delete()


@test
def a_reference_three_pixels_tall_is_read_whole():
    # Pictures are read in bands of several rows; one thinner than a band is one band.
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    other, ref = small_reference(200, 3)
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="a rope like this one", provider="gemini",
                         endpoint=endpoint("gemini"), references=[ref])
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status, layers))
    req = fake("/_fake/requests")[-1]
    check(req["image_sizes"][-1] == [200, 3], "the reference as it is (last, after the mask): %s" % req["image_sizes"])
    image.delete()
    other.delete()


@test
def too_many_references_are_refused_clearly():
    # Today's Gemini models take 14 pictures, the one edited included: 13 references go, 14 are
    # refused before anything is sent. (Tiny references: the count matters, not the pixels.)
    image, layer = open_photo()
    others = [small_reference(8, 8) for _ in range(14)]
    refs = [r for _, r in others]
    count = len(image.get_layers())
    status, message = run("plug-in-genfill-edit", image, [layer], prompt="x", provider="gemini",
                          endpoint=endpoint("gemini"), references=refs)
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % status)
    check("gemini-3.1-flash-image takes at most 14 pictures" in (message or ""), "message: %r" % message)
    check(len(image.get_layers()) == count, "nothing added")
    check(fake("/_fake/requests") == [], "nothing sent")
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="x", provider="gemini",
                         endpoint=endpoint("gemini"), references=refs[:13])
    check(status == Gimp.PDBStatusType.SUCCESS, "13 references: status %s: %s" % (status, layers))
    reqs = fake("/_fake/requests")
    check(len(reqs) == 1 and reqs[0]["image_sizes"][-13:] == [[8, 8]] * 13, "the 13 references sent: %s"
          % [r["image_sizes"] for r in reqs])
    image.delete()
    for o, _ in others:
        o.delete()


@test
def an_empty_model_is_todays_default():
    for provider, model in (("gemini", "gemini-3.1-flash-image"), ("openai", "gpt-image-2")):
        fake("/_fake/reset", {})
        image, layer = open_photo()
        image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
        count = len(image.get_layers())
        status, layers = run("plug-in-genfill-edit", image, [layer], prompt="a red kite", provider=provider,
                             model="", endpoint=endpoint(provider))
        check(status == Gimp.PDBStatusType.SUCCESS, "%s: status %s: %s" % (provider, status, layers))
        check(len(image.get_layers()) == count + 1, "%s: one layer added" % provider)
        reqs = fake("/_fake/requests")
        check([r["model"] for r in reqs] == [model], "%s: sent to %s" % (provider, [r["model"] for r in reqs]))
        check(meta_of(layers[0])["model"] == model, "%s: recorded as %s" % (provider, meta_of(layers[0])["model"]))
        image.delete()


def names_model(text, model_id):
    """Whether text names model_id itself, not a longer id it begins."""
    import re
    return re.search(r"(?<![\w./-])%s(?![\w-]|\.\w)" % re.escape(model_id), text or "") is not None


@test
def a_retired_model_is_named_with_its_replacement():
    message = expect_failure(None, "gemini", ["gemini-3-pro-image-preview"], model="gemini-3-pro-image-preview")
    check(names_model(message, "gemini-3-pro-image"), "names the replacement: %r" % message)
    reqs = fake("/_fake/requests")
    check(len(reqs) == 1 and reqs[0]["model"] == "gemini-3-pro-image-preview" and reqs[0]["status"] == 404,
          "the service said no: %s" % reqs)


@test
def generate_takes_references():
    image, layer = open_photo()
    other, ref = small_reference()
    status, layers = run("plug-in-genfill-generate", image, [layer], prompt="a cat like this one",
                         provider="gemini", endpoint=endpoint("gemini"), references=[ref])
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status, layers))
    req = fake("/_fake/requests")[0]
    check(req["image_count"] == 1 and req["image_sizes"][0] == [64, 48], req)
    image.delete()
    other.delete()


if not KEY:
    # Run by the runner a second time, with no key anywhere: a clear error, never a prompt.
    @test
    def missing_key_is_a_clear_error():
        for provider, var in (("gemini", "GEMINI_API_KEY"), ("openai", "OPENAI_API_KEY")):
            image, layer = open_photo()
            image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
            count = len(image.get_layers())
            status, message = run("plug-in-genfill-edit", image, [layer], prompt="x", provider=provider,
                                  endpoint=endpoint(provider))
            check(status == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % status)
            check("No API key" in (message or "") and var in message, "message: %r" % message)
            check(len(image.get_layers()) == count, "nothing added")
            image.delete()
        check(fake("/_fake/requests") == [], "nothing was sent")



@test
def expand_grows_the_canvas_and_keeps_the_picture():
    """Expand Canvas: 100 px left and right; the canvas grows, the layer keeps its pixels and
    moves with it, one new layer above holds the border, its record says the margins."""
    image, layer = open_photo()
    w, h = image.get_width(), image.get_height()
    before = pixels(layer, 0, 0, layer.get_width(), layer.get_height())
    _, ox, oy = layer.get_offsets()
    position = image.get_item_position(layer)
    count = len(image.get_layers())
    image.clean_all()
    fake("/_fake/enqueue", {"color": "3366CC"})
    status, layers = run("plug-in-genfill-expand", image, [layer], prompt="", provider="gemini",
                         endpoint=endpoint("gemini"), left=100, right=100, feather=6.0)
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    check((image.get_width(), image.get_height()) == (w + 200, h), "canvas %dx%d" % (image.get_width(),
                                                                                      image.get_height()))
    check(layer.get_offsets()[1:] == (ox + 100, oy), "the layer moved with the canvas: %s" % (layer.get_offsets(),))
    check(pixels(layer, 0, 0, layer.get_width(), layer.get_height()) == before, "the layer keeps its pixels")
    check(len(layers) == 1 and len(image.get_layers()) == count + 1, "one new layer")
    new = layers[0]
    check(image.get_item_position(new) == position and image.get_item_position(layer) == position + 1,
          "the new layer is directly above")
    _, nx, ny = new.get_offsets()
    check(nx == 0 and new.get_width() == w + 200, "it covers both borders: %d+%d" % (nx, new.get_width()))
    check(new.get_mask() is not None, "masked to the new area")
    for x in (5, 95, w + 105, w + 195):
        px = seen_at(image, x, h // 2)
        check(px[:3] == (0x33, 0x66, 0xCC), "border at %d is the model's: %s" % (x, px))
    # The middle is the picture as it was (the layer is the only one, opaque: what it holds).
    i = ((h // 2) * layer.get_width() + w // 2) * 4
    check(seen_at(image, 100 + w // 2, h // 2) == tuple(before[i:i + 4]), "the middle is untouched")
    meta = meta_of(new)
    check(meta["margins"] == {"left": 100, "right": 100, "top": 0, "bottom": 0}, meta)
    check(meta["prompt"] == "" and meta["provider"] == "gemini", meta)
    check(image.is_dirty(), "one undo step")
    reqs = fake("/_fake/requests")
    check(len(reqs) == 1 and "#FF00FF" in reqs[0]["prompt"], "one request naming the fill")
    image.delete()


@test
def a_failed_expand_changes_nothing():
    image, layer = open_photo()
    w, h = image.get_width(), image.get_height()
    before = pixels(layer, 0, 0, layer.get_width(), layer.get_height())
    offsets = layer.get_offsets()
    count = len(image.get_layers())
    image.clean_all()
    fake("/_fake/enqueue", {"status": 500, "fixture": "gemini/error_500_internal.json", "count": 3})
    status, message = run("plug-in-genfill-expand", image, [layer], prompt="more sky", provider="gemini",
                          endpoint=endpoint("gemini"), top=80)
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % status)
    check("Gemini" in (message or ""), "message: %r" % message)
    check((image.get_width(), image.get_height()) == (w, h), "canvas unchanged")
    check(layer.get_offsets() == offsets, "layer not moved")
    check(len(image.get_layers()) == count, "nothing added")
    check(pixels(layer, 0, 0, layer.get_width(), layer.get_height()) == before, "pixels unchanged")
    check(not image.is_dirty(), "no undo step")
    # Refused before sending: no margin at all.
    status, message = run("plug-in-genfill-expand", image, [layer], prompt="", provider="gemini",
                          endpoint=endpoint("gemini"))
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR and "margin" in (message or ""), "message: %r" % message)
    check(len(fake("/_fake/requests")) == 3, "the refused run sent nothing")
    check((image.get_width(), image.get_height()) == (w, h) and not image.is_dirty(), "still unchanged")
    image.delete()


@test
def drifted_answer_is_fitted_in_place():
    """The model's answer comes back shifted, scaled and brighter: by default the new layer meets
    its surroundings (registered, colours matched, seam blended) and the parasite says what was
    done; raw=True composites the answer untouched and shows the seam."""
    drift = {"color": "3366CC", "drift": {"dx": 7, "dy": -5, "scale": 1.04, "gain": 1.12, "offset": -6}}
    rx, ry, rw, rh = 400, 300, 300, 200
    errors, metas = {}, {}
    for raw in (False, True):
        image, layer = open_photo()
        before = composite(image)
        image.select_ellipse(Gimp.ChannelOps.REPLACE, rx, ry, rw, rh)
        fake("/_fake/enqueue", drift)
        status, layers = run("plug-in-genfill-edit", image, [layer], prompt="a blue disc", provider="gemini",
                             endpoint=endpoint("gemini"), feather=4.0, raw=raw)
        check(status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status, layers))
        metas[raw] = meta_of(layers[0])["seam"]
        after = composite(image)
        W = image.get_width()
        err = n = 0
        cx, cy, ax, ay = rx + rw / 2.0, ry + rh / 2.0, rw / 2.0, rh / 2.0
        for yy in range(ry, ry + rh):
            for xx in range(rx, rx + rw):
                d = ((xx + 0.5 - cx) / ax) ** 2 + ((yy + 0.5 - cy) / ay) ** 2
                if 0.93 <= d <= 0.99:  # a ring just inside the selection's edge, outside the painted disc
                    i = (yy * W + xx) * 4
                    err += sum(abs(after[i + c] - before[i + c]) for c in range(3))
                    n += 3
        errors[raw] = err / n
        image.delete()
    fixed, raw = metas[False], metas[True]
    print("INFO edge error raw %.2f, fitted %.2f; found %s" % (errors[True], errors[False], fixed), flush=True)
    check(fixed["registered"] and fixed["colour_matched"] and fixed["blended"], fixed)
    check(abs(fixed["scale"] - 1.04) < 0.01, "scale found %s" % fixed["scale"])
    check(fixed["shift"][0] > 2 and fixed["shift"][1] < -1, "shift found %s" % fixed["shift"])
    check(not raw["registered"] and not raw["colour_matched"] and not raw["blended"], raw)
    check(errors[False] < errors[True] / 2 and errors[False] < 6,
          "edge error raw %.2f, fitted %.2f" % (errors[True], errors[False]))


def spending(**args):
    """plug-in-genfill-spending: (this month, in all, calls, budget or -1)."""
    proc = Gimp.get_pdb().lookup_procedure("plug-in-genfill-spending")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    for k, v in args.items():
        cfg.set_property(k.replace("_", "-"), v)
    res = proc.run(cfg)
    check(res.index(0) == Gimp.PDBStatusType.SUCCESS, "spending: %s" % res.index(0))
    return res.index(1), res.index(2), res.index(3), res.index(4)


@test
def quality_and_image_size_are_sent_where_the_model_takes_them():
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    status, _ = run("plug-in-genfill-edit", image, [layer], prompt="a kite", provider="openai",
                    endpoint=endpoint("openai"), quality="low")
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="a kite", provider="gemini",
                         endpoint=endpoint("gemini"), image_size="4K", quality="high")
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    reqs = fake("/_fake/requests")
    check(len(reqs) == 2, reqs)
    check(reqs[0]["quality"] == "low", reqs[0])
    check(reqs[1]["image_size"] == "4K", reqs[1])
    # Gemini takes no quality: the (greyed out) field is left out, not refused.
    check(reqs[1]["quality"] == "", reqs[1])
    meta = meta_of(layers[0])
    check(meta["cost"]["usd"] > 0.14, "a 4K answer costs more: %s" % meta["cost"])
    image.delete()


@test
def the_ledger_holds_what_was_spent_and_the_budget_refuses_before_sending():
    month0, total0, calls0, budget0 = spending(budget_action="remove")
    check(budget0 == -1, budget0)
    image, layer = open_photo()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    status, layers = run("plug-in-genfill-edit", image, [layer], prompt="a kite", provider="gemini",
                         endpoint=endpoint("gemini"), variations=2)
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
    cost = meta_of(layers[0])["cost"]["usd"]
    month1, total1, calls1, _ = spending()
    check(calls1 == calls0 + 2, "Gemini makes two calls for two variations: %s -> %s" % (calls0, calls1))
    check(abs((total1 - total0) - cost) < 1e-9, "the ledger grew by the run's cost: %s vs %s" % (total1 - total0, cost))
    check(abs((month1 - month0) - cost) < 1e-9, "and so did this month")
    # A budget below this month's spending: the next run is refused before anything is sent.
    _, _, _, budget = spending(budget_action="set", monthly_budget=round(month1 / 2, 2))
    check(abs(budget - round(month1 / 2, 2)) < 1e-9, budget)
    fake("/_fake/reset", {})
    count = len(image.get_layers())
    image.clean_all()
    status, message = run("plug-in-genfill-edit", image, [layer], prompt="a kite", provider="gemini",
                          endpoint=endpoint("gemini"))
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, "status %s" % status)
    check("budget" in (message or "") and "$" in message, message)
    check(len(fake("/_fake/requests")) == 0, "nothing was sent")
    check(len(image.get_layers()) == count and not image.is_dirty(), "nothing added")
    spending(budget_action="remove")
    image.delete()


@test
def edit_many_goes_over_every_open_image():
    # Two photos with their own selections: one prompt, one new masked layer over each, and
    # every open image is edited (earlier tests close theirs).
    first, a = open_photo()
    second, b = open_photo()
    first.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    second.select_rectangle(Gimp.ChannelOps.REPLACE, 300, 50, 120, 90)
    before = [pixels(a, 0, 0, a.get_width(), a.get_height()), pixels(b, 0, 0, b.get_width(), b.get_height())]
    open_images = len(Gimp.get_images())
    status, layers = run("plug-in-genfill-edit-many", first, [a], group=False, prompt="a red kite",
                         provider="gemini", endpoint=endpoint("gemini"))
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status, layers))
    check(len(layers) == open_images, "a layer for each open image: %d of %d" % (len(layers), open_images))
    check(len(first.get_layers()) == 2 and len(second.get_layers()) == 2, "one new layer in each")
    reqs = fake("/_fake/requests")
    check(len(reqs) == open_images and all(r["status"] == 200 for r in reqs), [r["status"] for r in reqs])
    check(all(r["prompt"].startswith("a red kite") for r in reqs), "the same prompt each time")
    # Each was planned from its own selection: the second region is the smaller one.
    new_second = second.get_layers()[0]
    check(new_second.get_width() < first.get_layers()[0].get_width(), "each image's own selection")
    check(new_second.get_mask() is not None, "masked to its selection")
    check([pixels(a, 0, 0, a.get_width(), a.get_height()), pixels(b, 0, 0, b.get_width(), b.get_height())] == before,
          "the source layers are unchanged")
    first.delete()
    second.delete()


@test
def edit_many_goes_over_a_group_and_names_what_failed():
    # A group of three layers; the service refuses the second edit: two layers are placed, the
    # failure is named, and the refused layer's image is left as it was.
    image, layer = open_photo()
    group = Gimp.GroupLayer.new(image, "products")
    image.insert_layer(group, None, 0)
    members = []
    for name in ("one", "two", "three"):
        copy = layer.copy()
        copy.set_name(name)
        image.insert_layer(copy, group, 0)
        members.append(copy)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
    fake("/_fake/enqueue", {"count": 1})
    fake("/_fake/enqueue", {"status": 400, "fixture": "gemini/error_400_api_key_invalid.json"})
    status, layers = run("plug-in-genfill-edit-many", image, [group], group=True, prompt="on white marble",
                         provider="gemini", endpoint=endpoint("gemini"))
    check(status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status, layers))
    check(len(layers) == 2, "two of three placed: %d" % len(layers))
    check(len(fake("/_fake/requests")) == 3, "each layer asked once")
    # Not a group: said before anything is sent.
    fake("/_fake/reset", {})
    status, message = run("plug-in-genfill-edit-many", image, [layer], group=True, prompt="x",
                          provider="gemini", endpoint=endpoint("gemini"))
    check(status != Gimp.PDBStatusType.SUCCESS and "group" in (message or ""), "%s %s" % (status, message))
    check(len(fake("/_fake/requests")) == 0, "nothing sent")
    image.delete()


if os.environ.get("GENFILL_EXPECT_LANG") == "es":
    @test
    def in_spanish():
        proc = Gimp.get_pdb().lookup_procedure("plug-in-genfill-edit")
        check(proc.get_menu_label() == "_Editar con instrucción…", proc.get_menu_label())
        check(any("Generativo" in p for p in proc.get_menu_paths()), proc.get_menu_paths())
        message = expect_failure({"status": 500, "fixture": "gemini/error_500_internal.json", "count": 3},
                                 "gemini", ["Gemini tuvo un problema (error 500)"])
        image, layer = open_photo()
        image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 100, 200, 150)
        status, layers = run("plug-in-genfill-edit", image, [layer], prompt="un cometa rojo", provider="gemini",
                             endpoint=endpoint("gemini"))
        check(status == Gimp.PDBStatusType.SUCCESS, "status %s" % status)
        check(layers[0].get_name().startswith("un cometa rojo"), layers[0].get_name())
        image.delete()


failed = [n for n, e in results if e]
print("%d passed, %d failed" % (len(results) - len(failed), len(failed)), flush=True)
if failed:
    raise SystemExit("failed: " + ", ".join(failed))
