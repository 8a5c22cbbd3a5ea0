// genfill — the GIMP 3 plug-in. It reads arguments and pixels, hands them to the core, and
// writes the answer as new layers in one undo step. It knows nothing of provider formats.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "core/catalog/models.hpp"
#include "core/served/served.hpp"
#include "core/edit/endpoint.hpp"
#include "core/edit/job.hpp"
#include "core/edit/services.hpp"
#include "core/image/image.hpp"
#include "core/keys/keys.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

using namespace genfill;

namespace {

constexpr const char *kEdit = "plug-in-genfill-edit";
constexpr const char *kGenerate = "plug-in-genfill-generate";
constexpr const char *kNewImage = "plug-in-genfill-new-image";
constexpr const char *kParasite = "genfill";

// ---------- small helpers ----------

std::string config_string(GimpProcedureConfig *config, const char *name) {
  gchar *v = nullptr;
  g_object_get(config, name, &v, nullptr);
  std::string s = v ? v : "";
  g_free(v);
  return s;
}

int config_int(GimpProcedureConfig *config, const char *name) {
  gint v = 0;
  g_object_get(config, name, &v, nullptr);
  return v;
}

std::string trim(std::string s) {
  const char *ws = " \t\r\n";
  size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

// "Replace the sky with a starry night over the hills" -> "Replace the sky with a starry…"
std::string short_prompt(const std::string &prompt, size_t max_chars = 40) {
  std::string p = trim(prompt);
  for (char &c : p)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (g_utf8_strlen(p.c_str(), -1) <= glong(max_chars)) return p;
  const char *end = g_utf8_offset_to_pointer(p.c_str(), glong(max_chars));
  std::string cut(p.c_str(), size_t(end - p.c_str()));
  if (size_t sp = cut.rfind(' '); sp != std::string::npos && sp > max_chars / 2) cut.resize(sp);
  return cut + "…";
}

// Whether this run may show windows: always when interactive; when repeating with the last
// values (Filters > Repeat) only if GIMP runs with a display (not in gimp-console).
bool init_ui(GimpRunMode run_mode) {
  if (run_mode == GIMP_RUN_NONINTERACTIVE) return false;
  if (run_mode == GIMP_RUN_WITH_LAST_VALS && !gimp_display_name()) return false;
  gimp_ui_init("genfill");
  return true;
}

// A failed run. With a display the user reads the reason in a GIMP message (in their words, not
// after GIMP's "Execution error for ..."); otherwise the caller gets it in the return values.
GimpValueArray *fail(GimpProcedure *procedure, bool ui, const std::string &message) {
  if (ui) {
    gimp_message(message.c_str());
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_EXECUTION_ERROR, nullptr);
  }
  return gimp_procedure_new_return_values(procedure, GIMP_PDB_EXECUTION_ERROR,
                                          g_error_new_literal(GIMP_PLUG_IN_ERROR, 0, message.c_str()));
}

GimpValueArray *fail(GimpProcedure *procedure, bool ui, const Error &e) {
  if (e.code() == ErrorCode::Cancelled) return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);
  if (!e.detail().empty()) g_debug("%s: %s", error_code_name(e.code()), e.detail().c_str());
  std::string message = e.message();
  if (!e.text().empty() && message.find(e.text().substr(0, 20)) == std::string::npos)
    message += "\n\n" + format(_("The model said: %s"), e.text().c_str());
  return fail(procedure, ui, message);
}

// ---------- pixels in and out ----------

// Reads `r` (in the buffer's coordinates) at full resolution.
void read_full(GeglBuffer *buffer, Rect r, const Babl *format, void *dst) {
  GeglRectangle rect{r.x, r.y, r.w, r.h};
  gegl_buffer_get(buffer, &rect, 1.0, format, dst, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
}

// What an edit reads: the region's pixels at the upload's size and, with a selection, the
// selection over the region at full size (for the layer mask) and at the upload's size.
struct RegionRead {
  Image pixels;
  std::optional<Mask> selection, selection_scaled;
};

// Reads `r` of `drawable` (its coordinates) and, when `selection_of` is given, the same-sized
// `sr` of that image's selection (image coordinates), band by band (about 4 MB of pixels each):
// each band is scaled on another thread while GIMP sends the next, so the region is never held
// at full size and scaling hides behind the transfer.
RegionRead read_region(GimpDrawable *drawable, Rect r, GimpImage *selection_of, Rect sr, int out_w, int out_h) {
  GeglBuffer *buffer = gimp_drawable_get_buffer(drawable);
  GeglBuffer *sel_buffer =
      selection_of ? gimp_drawable_get_buffer(GIMP_DRAWABLE(gimp_image_get_selection(selection_of))) : nullptr;
  const Babl *rgba = babl_format("R'G'B'A u8"), *gray = babl_format("Y u8");
  const double source_rows_per_row = double(r.h) / out_h;
  const int rows = std::min(out_h, std::max(8, int(double(4u << 20) / (double(r.w) * 4.0 * source_rows_per_row))));
  RegionRead out;
  out.pixels = Image(out_w, out_h);
  if (sel_buffer) {
    out.selection = Mask(r.w, r.h);
    out.selection_scaled = Mask(out_w, out_h);
  }
  // Two bands, filled by turns: one is read while the other is scaled. Made once, as fresh
  // memory costs a page fault per 4 KB on first touch.
  Image bands[2];
  Mask sel_bands[2];
  std::future<void> scaling;
  for (int first = 0, turn = 0; first < out_h; first += rows, turn ^= 1) {
    const int last = std::min(out_h, first + rows);
    const auto [s0, s1] = scale_source_rows(r.h, out_h, first, last);
    Image &band = bands[turn];
    band.width = r.w;
    band.height = s1 - s0;
    band.pixels.resize(size_t(r.w) * size_t(s1 - s0) * 4);
    read_full(buffer, Rect{r.x, r.y + s0, r.w, s1 - s0}, rgba, band.pixels.data());
    Mask &sel_band = sel_bands[turn];
    if (sel_buffer) {
      sel_band.width = r.w;
      sel_band.height = s1 - s0;
      sel_band.values.resize(size_t(r.w) * size_t(s1 - s0));
      read_full(sel_buffer, Rect{sr.x, sr.y + s0, r.w, s1 - s0}, gray, sel_band.values.data());
    }
    if (scaling.valid()) scaling.get();  // the band read next goes where this one was
    scaling = std::async(std::launch::async, [&out, &r, &band, &sel_band, s0, first, last, out_w, out_h] {
      const Image strip = scale_band(band, s0, r.h, out_w, out_h, first, last);
      std::copy(strip.pixels.begin(), strip.pixels.end(),
                out.pixels.pixels.begin() + std::ptrdiff_t(size_t(first) * size_t(out_w) * 4));
      if (sel_band.empty()) return;
      const Mask m = scale_band(sel_band, s0, r.h, out_w, out_h, first, last);
      std::copy(m.values.begin(), m.values.end(),
                out.selection_scaled->values.begin() + std::ptrdiff_t(size_t(first) * size_t(out_w)));
      std::copy(sel_band.values.begin(), sel_band.values.end(),  // overlapping rows: the same values again
                out.selection->values.begin() + std::ptrdiff_t(size_t(s0) * size_t(r.w)));
    });
  }
  scaling.get();
  g_object_unref(buffer);
  if (sel_buffer) g_object_unref(sel_buffer);
  return out;
}

// What the user sees over `r` (image coordinates), with the selection: the visible layers
// merged, read from a cropped duplicate so only the region is composited.
std::optional<RegionRead> read_visible(GimpImage *image, Rect r, bool with_selection, int out_w, int out_h) {
  GimpImage *dup = gimp_image_duplicate(image);
  if (!dup) return std::nullopt;
  gimp_image_undo_disable(dup);
  std::optional<RegionRead> out;
  if (gimp_image_crop(dup, r.w, r.h, r.x, r.y)) {
    if (GimpLayer *merged = gimp_image_merge_visible_layers(dup, GIMP_CLIP_TO_IMAGE)) {
      gint ox = 0, oy = 0;
      gimp_drawable_get_offsets(GIMP_DRAWABLE(merged), &ox, &oy);
      if (!gimp_drawable_has_alpha(GIMP_DRAWABLE(merged))) gimp_layer_add_alpha(merged);
      // The merged layer may be smaller than the crop (only where layers are): read with offsets.
      out = read_region(GIMP_DRAWABLE(merged), Rect{-ox, -oy, r.w, r.h}, with_selection ? image : nullptr, r, out_w,
                        out_h);
    }
  }
  gimp_image_delete(dup);
  return out;
}

// Whether what the user sees is exactly this layer's pixels (a photo opened as is): then it is
// read directly, without merging a copy of the image.
bool sole_plain_layer(GimpImage *image, GimpDrawable *drawable) {
  GimpLayer **layers = gimp_image_get_layers(image);
  const bool sole = layers && layers[0] && !layers[1] && GIMP_DRAWABLE(layers[0]) == drawable;
  g_free(layers);
  if (!sole) return false;
  GimpLayer *layer = GIMP_LAYER(drawable);
  return gimp_item_get_visible(GIMP_ITEM(layer)) && gimp_layer_get_opacity(layer) >= 100.0 &&
         gimp_layer_get_mode(layer) == GIMP_LAYER_MODE_NORMAL && !gimp_layer_get_mask(layer);
}

// The layer's pixels (the layer is where.w x where.h). A result at the upload's scale is scaled
// up in strips of whole tile rows, each sent to GIMP while the next is being scaled, so no
// full-size copy is ever held and scaling hides behind the transfer.
void write_rgba(GimpLayer *layer, const Image &img, Rect where) {
  GimpDrawable *drawable = GIMP_DRAWABLE(layer);
  GeglBuffer *buffer = gimp_drawable_get_buffer(drawable);
  const Babl *format = babl_format("R'G'B'A u8");
  if (img.width == where.w && img.height == where.h) {
    GeglRectangle rect{0, 0, img.width, img.height};
    gegl_buffer_set(buffer, &rect, 0, format, img.pixels.data(), GEGL_AUTO_ROWSTRIDE);
  } else {
    const int tile = std::max(1, int(gimp_tile_height()));
    const int rows = std::max(1, int((2u << 20) / (size_t(where.w) * 4)) / tile) * tile;  // about 2 MB
    auto strip_at = [&img, where, rows](int y) { return scale_rows(img, where.w, where.h, y, std::min(where.h, y + rows)); };
    std::future<Image> next = std::async(std::launch::async, strip_at, 0);
    for (int y = 0; y < where.h; y += rows) {
      Image strip = next.get();
      if (y + rows < where.h) next = std::async(std::launch::async, strip_at, y + rows);
      GeglRectangle rect{0, y, where.w, strip.height};
      gegl_buffer_set(buffer, &rect, 0, format, strip.pixels.data(), GEGL_AUTO_ROWSTRIDE);
      gegl_buffer_flush(buffer);  // to GIMP now, while the next strip is made
    }
  }
  gegl_buffer_flush(buffer);
  g_object_unref(buffer);
  gimp_drawable_update(drawable, 0, 0, where.w, where.h);
}

void write_mask(GimpLayer *layer, const Mask &mask) {
  GimpLayerMask *lm = gimp_layer_create_mask(layer, GIMP_ADD_MASK_BLACK);
  gimp_layer_add_mask(layer, lm);
  GeglBuffer *buffer = gimp_drawable_get_buffer(GIMP_DRAWABLE(lm));
  GeglRectangle rect{0, 0, mask.width, mask.height};
  gegl_buffer_set(buffer, &rect, 0, babl_format("Y u8"), mask.values.data(), GEGL_AUTO_ROWSTRIDE);
  gegl_buffer_flush(buffer);
  g_object_unref(buffer);
  gimp_drawable_update(GIMP_DRAWABLE(lm), 0, 0, mask.width, mask.height);
}

// Provenance on each new layer: never the key.
void attach_metadata(GimpLayer *layer, const JobResult &r, const std::string &prompt,
                     const std::optional<int64_t> &seed, int variation, const Rect &region,
                     const std::string &conversation) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  auto str = [&](const char *k, const std::string &v) {
    json_builder_set_member_name(b.get(), k);
    json_builder_add_string_value(b.get(), v.c_str());
  };
  str("generator", std::string("genfill ") + GENFILL_VERSION);
  str("provider", r.provider);
  str("model", r.model);
  str("prompt", prompt);
  json_builder_set_member_name(b.get(), "seed");
  if (seed) json_builder_add_int_value(b.get(), *seed + variation);
  else json_builder_add_null_value(b.get());
  GDateTime *now = g_date_time_new_now_utc();
  gchar *iso = g_date_time_format_iso8601(now);
  str("time", iso);
  g_free(iso);
  g_date_time_unref(now);
  str("text", r.text);
  json_builder_set_member_name(b.get(), "variation");
  json_builder_add_int_value(b.get(), variation + 1);
  json_builder_set_member_name(b.get(), "region");
  json_builder_begin_array(b.get());
  for (int v : {region.x, region.y, region.w, region.h}) json_builder_add_int_value(b.get(), v);
  json_builder_end_array(b.get());
  if (!conversation.empty()) str("conversation", conversation);  // the cache folder's name, nothing secret
  if (size_t(variation) < r.seam.size()) {  // what fitting the answer in place found and applied
    const seam::Report &sr = r.seam[size_t(variation)];
    json_builder_set_member_name(b.get(), "seam");
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "registered");
    json_builder_add_boolean_value(b.get(), sr.registered);
    json_builder_set_member_name(b.get(), "shift");
    json_builder_begin_array(b.get());
    json_builder_add_double_value(b.get(), sr.registered ? sr.dx : 0.0);
    json_builder_add_double_value(b.get(), sr.registered ? sr.dy : 0.0);
    json_builder_end_array(b.get());
    json_builder_set_member_name(b.get(), "scale");
    json_builder_add_double_value(b.get(), sr.registered ? sr.scale : 1.0);
    json_builder_set_member_name(b.get(), "colour-matched");
    json_builder_add_boolean_value(b.get(), sr.colour_matched);
    json_builder_set_member_name(b.get(), "gain");
    json_builder_begin_array(b.get());
    for (double g : sr.gain) json_builder_add_double_value(b.get(), g);
    json_builder_end_array(b.get());
    json_builder_set_member_name(b.get(), "offset");
    json_builder_begin_array(b.get());
    for (double o : sr.offset) json_builder_add_double_value(b.get(), o);
    json_builder_end_array(b.get());
    json_builder_set_member_name(b.get(), "blended");
    json_builder_add_boolean_value(b.get(), sr.blended);
    str("note", sr.note);
    json_builder_end_object(b.get());
  }
  json_builder_end_object(b.get());
  JsonNode *root = json_builder_get_root(b.get());
  gchar *text = json_to_string(root, FALSE);
  json_node_unref(root);
  GimpParasite *p = gimp_parasite_new(kParasite, GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                                      guint32(strlen(text)), text);
  gimp_item_attach_parasite(GIMP_ITEM(layer), p);
  gimp_parasite_free(p);
  g_free(text);
}

// The new layers of one run. They are made while the service works — sized, masked, one per
// variation asked for — but stay out of the image (so out of its undo history) until their
// pixels are in. Whatever has not been placed is deleted, so a failed or cancelled run leaves
// nothing behind.
class NewLayers {
public:
  // `mask`, when given, becomes each layer's mask (where.w x where.h) once it is ready.
  NewLayers(GimpImage *image, Rect where, int count, std::string name, std::future<Mask> mask = {})
      : image_(image), where_(where), count_(std::max(1, count)), name_(std::move(name)), mask_(std::move(mask)) {}
  NewLayers(const NewLayers &) = delete;
  NewLayers &operator=(const NewLayers &) = delete;
  ~NewLayers() {
    stop_preparing();
    for (GimpLayer *l : layers_)
      if (l) gimp_item_delete(GIMP_ITEM(l));
  }

  // Prepares from the main loop whenever it is idle, i.e. while the job waits for the service.
  void prepare_while_waiting() {
    idle_ = g_idle_add(+[](gpointer self) -> gboolean {
      auto *me = static_cast<NewLayers *>(self);
      try {
        if (me->step(std::chrono::milliseconds(2))) return G_SOURCE_CONTINUE;
      } catch (...) {
        me->error_ = std::current_exception();  // raised again by prepare(), on the run's own stack
      }
      me->idle_ = 0;
      return G_SOURCE_REMOVE;
    }, this);
  }

  // Whatever is left to prepare, now.
  void prepare() {
    stop_preparing();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    while (step(std::chrono::hours(1))) {
    }
  }

  // Writes the results' pixels, then puts the layers in the image above `anchor` (same parent),
  // or at the top when there is none, in one undo step: one layer, or a group named after the
  // prompt holding one layer per variation (the first visible). The image owns them from then.
  std::vector<GimpLayer *> place(GimpDrawable *anchor, const JobResult &result, const std::string &prompt,
                                 const std::optional<int64_t> &seed, const std::string &conversation = {}) {
    prepare();
    const size_t n = std::min(result.images.size(), layers_.size());
    for (size_t i = 0; i < n; ++i) {
      std::string layer_name = n > 1 ? name_ + " (" + std::to_string(i + 1) + ")" : name_;
      gimp_item_set_name(GIMP_ITEM(layers_[i]), layer_name.c_str());
      // Hidden variations are hidden before they are in the group, so GIMP does not redraw for each.
      gimp_item_set_visible(GIMP_ITEM(layers_[i]), i == 0);
      write_rgba(layers_[i], result.images[i], where_);
    }
    GimpLayer *parent = nullptr;
    gint position = 0;
    if (anchor) {
      parent = GIMP_LAYER(gimp_item_get_parent(GIMP_ITEM(anchor)));
      position = gimp_image_get_item_position(image_, GIMP_ITEM(anchor));
    }
    std::vector<GimpLayer *> placed;
    gimp_image_undo_group_start(image_);
    if (n > 1) {
      GimpGroupLayer *group = gimp_group_layer_new(image_, name_.c_str());
      gimp_image_insert_layer(image_, GIMP_LAYER(group), parent, position);
      parent = GIMP_LAYER(group);
      position = 0;
    }
    for (size_t i = 0; i < n; ++i) {
      GimpLayer *layer = layers_[i];
      layers_[i] = nullptr;  // the image's from here
      // Below the previous variation, so (1) stays on top of the group.
      gimp_image_insert_layer(image_, layer, parent, position + int(i));
      gimp_layer_set_offsets(layer, where_.x, where_.y);
      attach_metadata(layer, result, prompt, seed, int(i), where_, conversation);
      placed.push_back(layer);
    }
    gimp_image_undo_group_end(image_);
    std::erase(layers_, nullptr);
    return placed;
  }

private:
  // One piece of the preparation; false once all is done. Waits at most `patience` for the mask.
  template <typename Duration>
  bool step(Duration patience) {
    if (layers_.empty()) {
      GimpImageType type = gimp_image_get_base_type(image_) == GIMP_GRAY ? GIMP_GRAYA_IMAGE : GIMP_RGBA_IMAGE;
      layers_.push_back(gimp_layer_new(image_, name_.c_str(), where_.w, where_.h, type, 100.0, GIMP_LAYER_MODE_NORMAL));
      if (!layers_.back()) throw std::runtime_error("GIMP made no new layer");
      return true;
    }
    if (mask_.valid()) {
      if (mask_.wait_for(patience) != std::future_status::ready) return true;
      write_mask(layers_.front(), mask_.get());
      return true;
    }
    if (int(layers_.size()) < count_) {
      // Further variations copy the first layer inside GIMP: its mask comes along with no transfer.
      layers_.push_back(gimp_layer_copy(layers_.front()));
      if (!layers_.back()) throw std::runtime_error("GIMP made no new layer");
      return true;
    }
    return false;
  }

  void stop_preparing() {
    if (idle_) g_source_remove(idle_);
    idle_ = 0;
  }

  GimpImage *image_;
  Rect where_;
  int count_;
  std::string name_;
  std::future<Mask> mask_;
  std::vector<GimpLayer *> layers_;
  guint idle_ = 0;
  std::exception_ptr error_;
};

GimpValueArray *layers_return(GimpProcedure *procedure, const std::vector<GimpLayer *> &layers) {
  GimpValueArray *ret = gimp_procedure_new_return_values(procedure, GIMP_PDB_SUCCESS, nullptr);
  std::vector<GObject *> arr;
  for (GimpLayer *l : layers) arr.push_back(G_OBJECT(l));
  arr.push_back(nullptr);
  GIMP_VALUES_SET_CORE_OBJECT_ARRAY(ret, 1, arr.data());
  return ret;
}

// ---------- conversations and references ----------

// The conversation id in the `genfill` parasite of a layer genfill made; "" otherwise.
std::string layer_conversation(GimpDrawable *drawable) {
  GimpParasite *p = gimp_item_get_parasite(GIMP_ITEM(drawable), kParasite);
  if (!p) return {};
  guint32 size = 0;
  const char *data = static_cast<const char *>(gimp_parasite_get_data(p, &size));
  std::string id = data ? conversation_of_record(std::string_view(data, size)) : std::string();
  gimp_parasite_free(p);
  return id;
}

// The layers picked as references (from any open image), as pictures.
std::vector<Image> read_references(GimpProcedureConfig *config) {
  std::vector<Image> out;
  GObject **refs = gimp_procedure_config_get_core_object_array(config, "references");
  for (gsize i = 0; refs && refs[i]; ++i) {
    if (!GIMP_IS_DRAWABLE(refs[i])) continue;
    GimpDrawable *d = GIMP_DRAWABLE(refs[i]);
    if (!gimp_item_is_valid(GIMP_ITEM(d))) continue;
    // Read at about the size the models work at (1.5 MP at most): a 24 MP reference would only
    // be scaled down by the service after a long upload.
    const int w = gimp_drawable_get_width(d), h = gimp_drawable_get_height(d);
    const double s = std::min(1.0, std::sqrt(1.5e6 / (double(w) * h)));
    out.push_back(
        read_region(d, Rect{0, 0, w, h}, nullptr, {}, std::max(1, int(w * s + 0.5)), std::max(1, int(h * s + 0.5)))
            .pixels);
  }
  g_free(refs);
  return out;
}

void add_references_argument(GimpProcedure *p) {
  gimp_procedure_add_core_object_array_argument(
      p, "references", _("_References"),
      _("Other layers, from this or another open image, sent as extra pictures to guide the model"),
      // Not set is fine (GIMP 3.0 would refuse an unset array); references are for one run, not
      // remembered with the last values (they may belong to images long closed).
      GIMP_TYPE_DRAWABLE, GParamFlags(G_PARAM_READWRITE | GIMP_PARAM_NO_VALIDATE | GIMP_PARAM_DONT_SERIALIZE));
}

// ---------- waiting: progress, pulse, cancel ----------

// Shows GIMP's progress while the job runs; in interactive mode also a small window with a
// Cancel button wired to the job's GCancellable (the status bar's stop button kills the
// plug-in outright, which is safe too: nothing is written before the answer is in memory).
class Waiting {
public:
  Waiting(bool interactive, const std::string &title) : cancel_(g_cancellable_new()) {
    gimp_progress_init(title.c_str());
    pulse_ = g_timeout_add(100, +[](gpointer self) -> gboolean {
      auto *w = static_cast<Waiting *>(self);
      if (w->fraction_ < 0) gimp_progress_pulse();
      if (w->bar_) gtk_progress_bar_pulse(GTK_PROGRESS_BAR(w->bar_));
      return G_SOURCE_CONTINUE;
    }, this);
    if (!interactive) return;
    window_ = gtk_dialog_new_with_buttons(_("Generative Fill"), nullptr, GtkDialogFlags(0), _("_Cancel"),
                                          GTK_RESPONSE_CANCEL, nullptr);
    gimp_window_set_transient(GTK_WINDOW(window_));
    GtkWidget *box = gtk_dialog_get_content_area(GTK_DIALOG(window_));
    gtk_container_set_border_width(GTK_CONTAINER(box), 12);
    gtk_box_set_spacing(GTK_BOX(box), 8);
    label_ = gtk_label_new(title.c_str());
    gtk_label_set_xalign(GTK_LABEL(label_), 0);
    bar_ = gtk_progress_bar_new();
    gtk_widget_set_size_request(bar_, 320, -1);
    gtk_box_pack_start(GTK_BOX(box), label_, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(box), bar_, FALSE, FALSE, 0);
    g_signal_connect(window_, "response", G_CALLBACK(+[](GtkDialog *, gint, gpointer c) {
                       g_cancellable_cancel(G_CANCELLABLE(c));
                     }), cancel_);
    g_signal_connect(window_, "delete-event", G_CALLBACK(+[](GtkWidget *, GdkEvent *, gpointer c) -> gboolean {
                       g_cancellable_cancel(G_CANCELLABLE(c));
                       return TRUE;
                     }), cancel_);
    gtk_widget_show_all(window_);
  }
  ~Waiting() {
    g_source_remove(pulse_);
    if (window_) gtk_widget_destroy(window_);
    gimp_progress_end();
    g_object_unref(cancel_);
  }
  GCancellable *cancellable() const { return cancel_; }
  void update(const Progress &p) {
    if (p.stage != stage_) {
      stage_ = p.stage;
      gimp_progress_set_text((p.stage + "…").c_str());
      if (label_) gtk_label_set_text(GTK_LABEL(label_), (p.stage + "…").c_str());
    }
    fraction_ = p.fraction;
    if (p.fraction >= 0) gimp_progress_update(p.fraction);
  }

private:
  GCancellable *cancel_;
  guint pulse_ = 0;
  GtkWidget *window_ = nullptr, *label_ = nullptr, *bar_ = nullptr;
  std::string stage_;
  double fraction_ = -1;
};

// ---------- the API key ----------

// Asks for a key when none is set up (interactive only). Returns "" when the user cancels.
std::string ask_for_key(const ServiceInfo &service) {
  std::string title = format(_("API key for %s"), service.display_name.c_str());
  GtkWidget *dlg = gimp_dialog_new(title.c_str(), "genfill-key", nullptr, GtkDialogFlags(0), nullptr, nullptr,
                                   _("_Cancel"), GTK_RESPONSE_CANCEL, _("_OK"), GTK_RESPONSE_OK, nullptr);
  GtkWidget *box = gtk_dialog_get_content_area(GTK_DIALOG(dlg));
  gtk_container_set_border_width(GTK_CONTAINER(box), 12);
  gtk_box_set_spacing(GTK_BOX(box), 8);
  GtkWidget *label = gtk_label_new(format(_("genfill needs an API key for %s. Paste it here, or set %s before "
                                           "starting GIMP."),
                                         service.display_name.c_str(), key_variables_text(service).c_str())
                                      .c_str());
  gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
  gtk_label_set_xalign(GTK_LABEL(label), 0);
  GtkWidget *entry = gtk_entry_new();
  gtk_entry_set_visibility(GTK_ENTRY(entry), FALSE);
  gtk_entry_set_activates_default(GTK_ENTRY(entry), TRUE);
  GtkWidget *store = gtk_check_button_new_with_mnemonic(_("_Remember it in the desktop keyring"));
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(store), TRUE);
  gtk_box_pack_start(GTK_BOX(box), label, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), entry, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), store, FALSE, FALSE, 0);
  gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_OK);
  gimp_window_set_transient(GTK_WINDOW(dlg));
  gtk_widget_show_all(dlg);
  std::string key;
  if (gimp_dialog_run(GIMP_DIALOG(dlg)) == GTK_RESPONSE_OK) {
    key = trim(gtk_entry_get_text(GTK_ENTRY(entry)));
    if (!key.empty() && gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(store))) {
      try {
        keyring_store(service.name, key);
      } catch (const Error &e) {
        gimp_message(e.message());  // the key is still used for this run
      }
    }
  }
  gtk_widget_destroy(dlg);
  return key;
}

// Provider, model and key resolved before any pixel is read; asks for a missing key when it can.
PreparedJob prepare_with_key(JobSettings &settings, bool ui, Task task) {
  try {
    return prepare(settings, task);
  } catch (const Error &e) {
    if (e.code() != ErrorCode::MissingKey || !ui) throw;
    const ServiceInfo *service = find_service(settings.provider);
    std::string key = service ? ask_for_key(*service) : "";
    if (key.empty()) throw Error(ErrorCode::Cancelled, _("Cancelled."));
    settings.api_key = key;
    return prepare(settings, task);
  }
}

JobSettings settings_from(GimpProcedureConfig *config, bool with_variations = true) {
  JobSettings s;
  s.provider = config_string(config, "provider");
  s.model = trim(config_string(config, "model"));
  s.endpoint = trim(config_string(config, "endpoint"));
  s.prompt = trim(config_string(config, "prompt"));
  s.variations = with_variations ? config_int(config, "variations") : 1;
  int seed = config_int(config, "seed");
  if (seed >= 0) s.seed = seed;
  // At least a second; what is no time at all (0, "nan", "inf", words) is left for the core to
  // refuse with a clear message (std::max would turn "nan" into a second).
  if (const char *t = g_getenv("GENFILL_TIMEOUT")) {
    const double v = g_ascii_strtod(t, nullptr);
    s.transport.timeout_s = v > 0 ? std::max(1.0, v) : v;
  }
  return s;
}

// The service rejected the key kept in the keyring: offer to forget it, so that the next run
// asks for a new one instead of failing the same way.
void offer_to_forget_key(const PreparedJob &job) {
  GtkWidget *dlg = gtk_message_dialog_new(nullptr, GtkDialogFlags(0), GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE, "%s",
                                          format(_("%s rejected the API key stored in your desktop keyring."),
                                                 job.service.c_str())
                                              .c_str());
  gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(dlg), "%s",
                                           _("Forget it, and genfill will ask for a new key next time."));
  gtk_dialog_add_buttons(GTK_DIALOG(dlg), _("_Keep"), GTK_RESPONSE_CANCEL, _("_Forget the key"), GTK_RESPONSE_OK,
                         nullptr);
  gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_CANCEL);
  gtk_window_set_title(GTK_WINDOW(dlg), format(_("API key for %s"), job.service.c_str()).c_str());
  gimp_window_set_transient(GTK_WINDOW(dlg));
  const bool forget = gtk_dialog_run(GTK_DIALOG(dlg)) == GTK_RESPONSE_OK;
  gtk_widget_destroy(dlg);
  if (!forget) return;
  try {
    keyring_delete(job.settings.provider);
  } catch (const Error &e) {
    gimp_message(e.message());
  }
}

// Runs a job while showing progress (and, interactively, a Cancel button).
template <typename Job>
auto while_waiting(bool ui, const PreparedJob &job, Job &&run) {
  std::optional<Error> rejected;
  {
    Waiting waiting(ui, format(_("Waiting for %s…"), job.short_service.c_str()));
    try {
      return run(waiting.cancellable(), [&](const Progress &p) { waiting.update(p); });
    } catch (const Error &e) {
      if (!ui || e.code() != ErrorCode::BadKey || job.key_source != "keyring") throw;
      rejected = e;
    }
  }  // the progress window is gone before the question comes
  offer_to_forget_key(job);
  throw *rejected;
}

// Turns whatever a procedure body throws into return values; nothing escapes to GIMP.
template <typename Body>
GimpValueArray *guarded(GimpProcedure *procedure, bool ui, Body &&body) {
  try {
    return body();
  } catch (const Error &e) {
    return fail(procedure, ui, e);
  } catch (const std::exception &e) {
    return fail(procedure, ui, format(_("genfill failed unexpectedly: %s"), e.what()));
  }
}

// ---------- dialogs ----------

constexpr int kReferenceChoosers = 3;

// The Model field: a combo box listing the models the chosen service serves today (id, and its
// name beside it), with an entry for ids no list knows yet. It edits the same "model" string
// argument as before; an empty value still means the service's default. The list comes from
// the service's cached list (or genfill's catalog) at once, then from the service itself in
// the background when its list is older than a day and a key is at hand. Retired models are
// left out.
struct ModelField {
  GimpProcedureConfig *config;
  GtkListStore *store;
  GtkWidget *combo;
  GCancellable *asking = nullptr;  // the background request for the service's list, if any
};

void show_models(ModelField *f, const ModelListing &listing) {
  gtk_list_store_clear(f->store);
  std::string default_id;
  for (const ListedModel &m : listing.models)
    if (m.is_default) default_id = m.id;
  GtkTreeIter it;
  gtk_list_store_append(f->store, &it);
  gtk_list_store_set(f->store, &it, 0, "", 1,
                     default_id.empty() ? _("the service's default")
                                        : format(_("the service's default (%s)"), default_id.c_str()).c_str(),
                     -1);
  for (const ListedModel &m : listing.models) {
    if (!m.usable()) continue;
    const std::string label = m.status == ModelStatus::New ? format(_("%s (new)"), m.name.c_str())
                              : !m.shutdown.empty()        ? format(_("%s (shuts down on %s)"), m.name.c_str(),
                                                                    m.shutdown.c_str())
                                                           : m.name;
    gtk_list_store_append(f->store, &it);
    gtk_list_store_set(f->store, &it, 0, m.id.c_str(), 1, label.c_str(), -1);
  }
  gtk_widget_set_tooltip_text(f->combo, listing.note.empty() ? _("Model id; empty = the service's default")
                                                             : listing.note.c_str());
}

ListOptions list_options(ModelField *f) {
  ListOptions o;
  o.provider = config_string(f->config, "provider");
  o.endpoint = trim(config_string(f->config, "endpoint"));
  return o;
}

// The service's own list, asked for on a worker thread (its own main context, so GIMP's stays
// free); shown when it arrives if the dialog still asks for the same service.
void ask_service_for_models(ModelField *f) {
  if (f->asking) g_cancellable_cancel(f->asking);
  g_clear_object(&f->asking);
  f->asking = g_cancellable_new();
  struct Ask {
    ListOptions opts;
    std::optional<ModelListing> listing;
  };
  auto *ask = new Ask{list_options(f), std::nullopt};
  GTask *task = g_task_new(f->combo, f->asking, +[](GObject *combo, GAsyncResult *res, gpointer) {
    auto *a = static_cast<Ask *>(g_task_get_task_data(G_TASK(res)));
    // Cancelled: the dialog closed (its widgets are gone) or another service was chosen.
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(res))) || !a->listing) return;
    auto *field = static_cast<ModelField *>(g_object_get_data(combo, "genfill-model-field"));
    if (!field) return;
    const ListOptions now = list_options(field);
    if (now.provider == a->opts.provider && now.endpoint == a->opts.endpoint) show_models(field, *a->listing);
  }, nullptr);
  g_task_set_task_data(task, ask, [](gpointer p) { delete static_cast<Ask *>(p); });
  g_task_run_in_thread(task, +[](GTask *t, gpointer, gpointer data, GCancellable *cancel) {
    auto *a = static_cast<Ask *>(data);
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    try {
      a->listing = list_models(a->opts, cancel);
    } catch (...) {
      // an unknown service or a bad endpoint: the run itself says so
    }
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    g_task_return_boolean(t, TRUE);
  });
  g_object_unref(task);
}

void fill_models(ModelField *f) {
  const ListOptions quick = [&] {
    ListOptions o = list_options(f);
    o.cache_only = true;  // never waits on the network
    return o;
  }();
  ModelListing listing;
  try {
    listing = list_models(quick);
  } catch (const Error &e) {  // a broken model list or endpoint: the run itself reports it too
    gtk_list_store_clear(f->store);
    gtk_widget_set_tooltip_text(f->combo, e.message());
    return;
  }
  show_models(f, listing);
  // A model of another service makes no sense here: back to the default.
  const std::string current = trim(config_string(f->config, "model"));
  if (!current.empty() && std::none_of(listing.models.begin(), listing.models.end(),
                                       [&](const ListedModel &m) { return m.id == current; }))
    for (const ModelInfo &m : known_models())  // loaded above without error
      if (m.id == current && m.provider != quick.provider) {
        g_object_set(f->config, "model", "", nullptr);
        break;
      }
  const bool fresh = listing.source == ListSource::Cache &&
                     g_get_real_time() / G_USEC_PER_SEC - listing.fetched < kModelListMaxAgeSeconds;
  if (!fresh) ask_service_for_models(f);
}

void add_model_list(GimpProcedureDialog *d, GimpProcedureConfig *config) {
  GtkWidget *labeled = gimp_procedure_dialog_get_widget(d, "model", G_TYPE_NONE);
  if (!GIMP_IS_LABEL_ENTRY(labeled)) return;  // keep GIMP's own entry
  GtkWidget *entry = gimp_label_entry_get_entry(GIMP_LABEL_ENTRY(labeled));
  auto *f = new ModelField{config, gtk_list_store_new(2, G_TYPE_STRING, G_TYPE_STRING), nullptr};
  f->combo = gtk_combo_box_new_with_model_and_entry(GTK_TREE_MODEL(f->store));
  g_object_unref(f->store);  // the combo box holds it
  gtk_combo_box_set_entry_text_column(GTK_COMBO_BOX(f->combo), 0);
  GtkCellRenderer *name = gtk_cell_renderer_text_new();
  g_object_set(name, "xpad", 12, nullptr);
  gtk_cell_layout_pack_start(GTK_CELL_LAYOUT(f->combo), name, TRUE);
  gtk_cell_layout_add_attribute(GTK_CELL_LAYOUT(f->combo), name, "text", 1);
  gtk_widget_set_hexpand(f->combo, TRUE);
  // The combo box's entry and GIMP's (now hidden) entry both edit the argument.
  g_object_bind_property(config, "model", gtk_bin_get_child(GTK_BIN(f->combo)), "text",
                         GBindingFlags(G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE));
  gtk_widget_set_no_show_all(entry, TRUE);
  gtk_widget_hide(entry);
  gtk_grid_attach_next_to(GTK_GRID(labeled), f->combo, entry, GTK_POS_RIGHT, 1, 1);
  gtk_label_set_mnemonic_widget(GTK_LABEL(gimp_labeled_get_label(GIMP_LABELED(labeled))), f->combo);
  g_object_set_data_full(G_OBJECT(f->combo), "genfill-model-field", f, [](gpointer p) {
    auto *field = static_cast<ModelField *>(p);
    if (field->asking) g_cancellable_cancel(field->asking);  // the answer is no longer wanted
    g_clear_object(&field->asking);
    delete field;
  });
  g_signal_connect(f->combo, "destroy", G_CALLBACK(+[](GtkWidget *combo, gpointer) {
                     auto *field = static_cast<ModelField *>(g_object_get_data(G_OBJECT(combo), "genfill-model-field"));
                     if (field && field->asking) g_cancellable_cancel(field->asking);
                   }), nullptr);
  fill_models(f);
  // Refilled when the service changes; disconnected with the combo box.
  g_signal_connect_object(config, "notify::provider", G_CALLBACK(+[](GObject *, GParamSpec *, gpointer combo) {
                            fill_models(static_cast<ModelField *>(g_object_get_data(G_OBJECT(combo), "genfill-model-field")));
                          }), f->combo, GConnectFlags(0));
  gtk_widget_show(f->combo);
}

// Which host gets the key, shown while the endpoint (kept from an earlier run, or folded away
// under More options) is not the service's own.
void show_key_destination(GtkWidget *label, GimpProcedureConfig *config) {
  const auto where = key_goes_elsewhere(config_string(config, "provider"), trim(config_string(config, "endpoint")));
  if (!where) {
    gtk_widget_hide(label);
    return;
  }
  gtk_label_set_text(GTK_LABEL(label),
                     format(_("Your %s key will be sent to %s, the endpoint under More options, not to %s itself."),
                            where->service.c_str(), where->host.c_str(), where->service.c_str())
                         .c_str());
  gtk_widget_show(label);
}

void add_key_destination(GtkWidget *dlg, GimpProcedureConfig *config) {
  GtkWidget *label = gtk_label_new(nullptr);
  gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
  gtk_label_set_xalign(GTK_LABEL(label), 0);
  gtk_widget_set_no_show_all(label, TRUE);
  gtk_widget_set_name(label, "genfill-key-destination");
  gtk_widget_set_margin_start(label, 12);
  gtk_widget_set_margin_end(label, 12);
  gtk_box_pack_end(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(dlg))), label, FALSE, FALSE, 0);
  for (const char *signal : {"notify::provider", "notify::endpoint"})
    g_signal_connect_object(config, signal, G_CALLBACK(+[](GimpProcedureConfig *c, GParamSpec *, gpointer l) {
                              show_key_destination(GTK_WIDGET(l), c);
                            }), label, GConnectFlags(0));
  show_key_destination(label, config);
}

bool run_dialog(GimpProcedure *procedure, GimpProcedureConfig *config, const char *title, bool edit) {
  GtkWidget *dlg = gimp_procedure_dialog_new(procedure, config, title);
  GimpProcedureDialog *d = GIMP_PROCEDURE_DIALOG(dlg);
  GtkWidget *tv = gimp_procedure_dialog_get_widget(d, "prompt", GTK_TYPE_TEXT_VIEW);
  gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(tv), GTK_WRAP_WORD_CHAR);
  GtkWidget *sw = gimp_procedure_dialog_fill_scrolled_window(d, "prompt-sw", "prompt");
  gtk_widget_set_size_request(sw, 420, 110);
  gimp_procedure_dialog_get_label(d, "prompt-label", _("Describe the change"), FALSE, FALSE);
  gimp_procedure_dialog_fill_box(d, "prompt-box", "prompt-label", "prompt-sw", nullptr);

  const bool has_aspect = gimp_procedure_find_argument(procedure, "aspect") != nullptr;
  if (edit)
    gimp_procedure_dialog_fill_box(d, "more-box", "endpoint", "seed", "sample-merged", "context", "feather", "register",
                                   "match-colours", "blend-seam", "raw", nullptr);
  else
    gimp_procedure_dialog_fill_box(d, "more-box", "endpoint", "seed", nullptr);
  gimp_procedure_dialog_get_label(d, "more-label", _("More options"), FALSE, FALSE);
  gimp_procedure_dialog_fill_expander(d, "more", "more-label", FALSE, "more-box");
  if (edit)
    gimp_procedure_dialog_fill(d, "prompt-box", "continue-conversation", "provider", "model", "variations", "more",
                               nullptr);
  else if (gimp_procedure_find_argument(procedure, "transparent"))
    gimp_procedure_dialog_fill(d, "prompt-box", "provider", "model", has_aspect ? "aspect" : "variations",
                               "transparent", "more", nullptr);
  else
    gimp_procedure_dialog_fill(d, "prompt-box", "provider", "model", has_aspect ? "aspect" : "variations", "more",
                               nullptr);
  gimp_procedure_dialog_set_ok_label(d, edit ? _("_Edit") : _("_Generate"));
  add_model_list(d, config);
  add_key_destination(dlg, config);

  // References: GimpProcedureDialog makes no widget for a drawable array, so a few drawable
  // choosers (each lists the layers of every open image) stand for it.
  std::vector<GtkWidget *> choosers;
  if (gimp_procedure_find_argument(procedure, "references")) {
    GObject **refs = gimp_procedure_config_get_core_object_array(config, "references");
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
    GtkWidget *label =
        gtk_label_new(_("Other layers, from this or another open image, sent as extra pictures to guide the model"));
    gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_box_pack_start(GTK_BOX(box), label, FALSE, FALSE, 0);
    gsize have = refs ? gimp_core_object_array_get_length(refs) : 0;
    for (int i = 0; i < kReferenceChoosers; ++i) {
      GimpDrawable *initial = gsize(i) < have && GIMP_IS_DRAWABLE(refs[i]) ? GIMP_DRAWABLE(refs[i]) : nullptr;
      const std::string name = format(_("Reference %d"), i + 1);
      GtkWidget *chooser = gimp_drawable_chooser_new(name.c_str(), name.c_str(), GIMP_TYPE_DRAWABLE, initial);
      gtk_box_pack_start(GTK_BOX(box), chooser, FALSE, FALSE, 0);
      choosers.push_back(chooser);
    }
    g_free(refs);
    // Folded away like "More options" unless references are already set.
    GtkWidget *expander = gtk_expander_new_with_mnemonic(_("_Reference layers"));
    gtk_expander_set_expanded(GTK_EXPANDER(expander), have > 0);
    gtk_container_add(GTK_CONTAINER(expander), box);
    gtk_container_set_border_width(GTK_CONTAINER(expander), 12);
    gtk_box_pack_end(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(dlg))), expander, FALSE, FALSE, 0);
    gtk_widget_show_all(expander);
  }

  gboolean ok = gimp_procedure_dialog_run(d);
  if (ok && !choosers.empty()) {
    std::vector<GObject *> picked;
    for (GtkWidget *c : choosers)
      if (GimpDrawable *dr = gimp_drawable_chooser_get_drawable(GIMP_DRAWABLE_CHOOSER(c))) picked.push_back(G_OBJECT(dr));
    gimp_procedure_config_set_core_object_array(config, "references", picked.data(), picked.size());
  }
  gtk_widget_destroy(dlg);
  return ok;
}

// ---------- timings for bench/ ----------

// With GENFILL_TIMINGS=FILE set, each edit appends one JSON line: seconds per stage, bytes sent,
// the upload's PNG size, and the plug-in's peak memory. Nothing is written otherwise.
// The process's own peak resident memory (VmHWM). getrusage's ru_maxrss would be wrong here:
// Linux keeps it across exec, so a plug-in started by a large GIMP inherits GIMP's figure.
// VmRSS at the start of a run is the plug-in's own footprint (GIMP's libraries, GTK, GEGL),
// which an edit does not add to.
long status_kb(const char *field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = strlen(field);
  while (std::getline(f, line))
    if (line.compare(0, n, field) == 0) return std::atol(line.c_str() + n);
  return -1;
}

class StageClock {
public:
  StageClock() : enabled_(g_getenv("GENFILL_TIMINGS") != nullptr), start_rss_kb_(enabled_ ? status_kb("VmRSS:") : -1) {}
  void mark(const char *stage) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    stages_.emplace_back(stage, std::chrono::duration<double>(now - last_).count());
    peaks_.emplace_back(stage, status_kb("VmHWM:"));  // the peak so far: which stage raised it
    last_ = now;
  }
  void add(const std::vector<std::pair<std::string, double>> &more) {
    if (enabled_) stages_.insert(stages_.end(), more.begin(), more.end());
  }
  void write(const std::string &proc, Rect region, size_t bytes_sent, size_t upload_png, int variations) {
    if (!enabled_) return;
    std::ofstream f(g_getenv("GENFILL_TIMINGS"), std::ios::app);
    f << "{\"proc\":\"" << proc << "\",\"region\":[" << region.w << "," << region.h << "],\"variations\":" << variations
      << ",\"total\":" << std::chrono::duration<double>(last_ - start_).count()
      << ",\"bytes_sent\":" << bytes_sent << ",\"upload_png\":" << upload_png << ",\"peak_rss_kb\":" << status_kb("VmHWM:")
      << ",\"start_rss_kb\":" << start_rss_kb_
      << ",\"stages\":{";
    for (size_t i = 0; i < stages_.size(); ++i)
      f << (i ? "," : "") << "\"" << stages_[i].first << "\":" << stages_[i].second;
    f << "},\"peak_kb_after\":{";
    for (size_t i = 0; i < peaks_.size(); ++i)
      f << (i ? "," : "") << "\"" << peaks_[i].first << "\":" << peaks_[i].second;
    f << "}}\n";
  }
  bool enabled() const { return enabled_; }

private:
  bool enabled_;
  long start_rss_kb_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
  std::vector<std::pair<std::string, double>> stages_;
  std::vector<std::pair<std::string, long>> peaks_;
};

// ---------- the edit's pixels: what the core asks for ----------

// The layer's pixels (or what the user sees over it) within `bounds` (image coordinates), and the
// selection: the core plans the region and asks for it once, at the size it is uploaded. Once
// it is read, the new layers and their mask (the selection softened inwards, so nothing outside
// it changes, made on another thread) are prepared while the service works.
class LayerSource : public RegionSource {
public:
  using MakeLayers = std::function<std::unique_ptr<NewLayers>(Rect where, std::future<Mask> layer_mask)>;
  LayerSource(GimpImage *image, GimpDrawable *drawable, Rect bounds, Rect selection, bool sample_merged,
              StageClock &clock, MakeLayers make_layers, double feather_px)
      : image_(image), drawable_(drawable), bounds_(bounds), selection_(selection), sample_merged_(sample_merged),
        clock_(clock), make_layers_(std::move(make_layers)), feather_px_(feather_px) {}

  int width() const override { return bounds_.w; }
  int height() const override { return bounds_.h; }
  Rect selection() const override { return selection_; }

  RegionPixels read(const Rect &region, int out_w, int out_h) override {
    clock_.mark("plan");
    where_ = Rect{bounds_.x + region.x, bounds_.y + region.y, region.w, region.h};
    const bool selected = !selection_.empty();
    gint ox = 0, oy = 0;
    gimp_drawable_get_offsets(drawable_, &ox, &oy);
    std::optional<RegionRead> read;
    if (sample_merged_ && !sole_plain_layer(image_, drawable_)) read = read_visible(image_, where_, selected, out_w, out_h);
    if (!read)
      read = read_region(drawable_, Rect{where_.x - ox, where_.y - oy, where_.w, where_.h}, selected ? image_ : nullptr,
                         where_, out_w, out_h);
    RegionPixels out{std::move(read->pixels), std::move(read->selection_scaled)};
    selection_mask_ = std::move(read->selection);
    read.reset();
    clock_.mark("read");

    std::future<Mask> layer_mask;
    if (selection_mask_)
      layer_mask = std::async(std::launch::async, [mask = &*selection_mask_, feather = feather_px_] {
        return feather_inside(*mask, feather);
      });
    layers_ = make_layers_(where_, std::move(layer_mask));
    layers_->prepare_while_waiting();
    return out;
  }

  // Where the results go (image coordinates), and their layers; both once the region was read.
  Rect where() const { return where_; }
  NewLayers &layers() {
    if (!layers_) throw std::logic_error("the region was never read");
    return *layers_;
  }
  void drop_selection() { selection_mask_.reset(); }

private:
  GimpImage *image_;
  GimpDrawable *drawable_;
  Rect bounds_, selection_, where_;
  bool sample_merged_;
  StageClock &clock_;
  MakeLayers make_layers_;
  double feather_px_;
  std::optional<Mask> selection_mask_;  // the selection over the region at full size, for the layers' mask
  std::unique_ptr<NewLayers> layers_;   // after selection_mask_: gone first, its feathering awaited
};

// ---------- procedures ----------

GimpValueArray *run_edit_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                              GimpDrawable **drawables, GimpProcedureConfig *config, gpointer) {
  // Pixels pass through GEGL's tile cache on their way in and out; GIMP gives plug-ins its own
  // large cache size, which would keep a second copy of a whole layer here. Reading in 4 MB bands
  // and writing in 2 MB strips, each once and in order, needs little more than one band
  // (16 MB measured no faster, and 8 MB higher at the peak of a whole 24 MP layer).
  g_object_set(gegl_config(), "tile-cache-size", guint64(6) << 20, nullptr);
  const bool ui = init_ui(run_mode);
  if (gimp_core_object_array_get_length(reinterpret_cast<GObject **>(drawables)) != 1)
    return fail(procedure, ui, _("Select exactly one layer to edit."));
  GimpDrawable *drawable = drawables[0];
  if (!GIMP_IS_LAYER(drawable) || GIMP_IS_LAYER_MASK(drawable))
    return fail(procedure, ui, _("Select a layer to edit (not a mask or a channel)."));
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_dialog(procedure, config, _("Edit with Prompt"), true))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);

  StageClock clock;
  return guarded(procedure, ui, [&]() -> GimpValueArray * {
    JobSettings settings = settings_from(config);
    if (settings.prompt.empty())
      throw Error(ErrorCode::InvalidInput, _("Describe the change you want: the prompt is empty."));
    gboolean sample_merged = TRUE;
    gdouble feather_px = 8;
    g_object_get(config, "sample-merged", &sample_merged, "feather", &feather_px, nullptr);
    int context = config_int(config, "context");
    gboolean continue_conversation = TRUE;
    g_object_get(config, "continue-conversation", &continue_conversation, nullptr);
    gboolean reg = TRUE, colours = TRUE, blend = TRUE, raw = FALSE;
    g_object_get(config, "register", &reg, "match-colours", &colours, "blend-seam", &blend, "raw", &raw, nullptr);
    settings.seam = raw ? seam::Options::raw() : seam::Options{bool(reg), bool(colours), bool(blend)};
    // Only the region is read, at the size it is uploaded; GIMP scales the answer back up.
    settings.results_at_upload_scale = true;
    // A model that only generates is said so before a key is asked for.
    const PreparedJob job = prepare_with_key(settings, ui, Task::Edit);
    EditInput input;
    input.references = read_references(config);
    input.context = context / 100.0;
    // Layer by layer: a layer genfill made carries its conversation; its earlier turns go with
    // this request. Without the cache (the file came from elsewhere) it is a single turn.
    if (continue_conversation) {
      input.conversation = layer_conversation(drawable);
      input.conversation_gone = [ui] {
        const char *gone = _("The earlier steps of this layer's conversation are not on this computer: this edit "
                             "starts afresh from the layer as it is.");
        if (ui) gimp_message(gone);
        else g_message("%s", gone);
      };
    }

    // Work within the layer (and, for what the user sees, within the canvas), in image coordinates.
    gint ox = 0, oy = 0;
    gimp_drawable_get_offsets(drawable, &ox, &oy);
    Rect bounds{ox, oy, gimp_drawable_get_width(drawable), gimp_drawable_get_height(drawable)};
    if (sample_merged) {
      int x0 = std::max(bounds.x, 0), y0 = std::max(bounds.y, 0);
      int x1 = std::min(bounds.right(), gimp_image_get_width(image)),
          y1 = std::min(bounds.bottom(), gimp_image_get_height(image));
      if (x1 <= x0 || y1 <= y0) throw Error(ErrorCode::InvalidInput, _("The layer lies outside the canvas."));
      bounds = Rect{x0, y0, x1 - x0, y1 - y0};
    }
    gboolean non_empty = FALSE;
    gint sx1 = 0, sy1 = 0, sx2 = 0, sy2 = 0;
    gimp_selection_bounds(image, &non_empty, &sx1, &sy1, &sx2, &sy2);
    Rect selection;  // relative to bounds
    if (non_empty) {
      int x0 = std::max(sx1, bounds.x), y0 = std::max(sy1, bounds.y);
      int x1 = std::min(sx2, bounds.right()), y1 = std::min(sy2, bounds.bottom());
      if (x1 <= x0 || y1 <= y0)
        throw Error(ErrorCode::InvalidInput, _("The selection does not touch this layer."));
      selection = Rect{x0 - bounds.x, y0 - bounds.y, x1 - x0, y1 - y0};
    }
    LayerSource source(image, drawable, bounds, selection, sample_merged, clock,
                       [&](Rect where, std::future<Mask> layer_mask) {
                         return std::make_unique<NewLayers>(image, where, settings.variations,
                                                            short_prompt(settings.prompt), std::move(layer_mask));
                       },
                       feather_px);

    EditResult result = while_waiting(ui, job, [&](GCancellable *cancel, const ProgressSink &progress) {
      return run_edit(job, input, source, cancel, progress);
    });
    clock.mark("job");
    clock.add(result.timings);

    NewLayers &layers = source.layers();
    layers.prepare();  // what the wait did not cover (nothing, when the service takes a while)
    source.drop_selection();
    clock.mark("feather");
    std::vector<GimpLayer *> placed = layers.place(drawable, result, settings.prompt, settings.seed, result.conversation);
    if (run_mode != GIMP_RUN_NONINTERACTIVE) gimp_displays_flush();
    clock.mark("insert");
    if (clock.enabled())
      clock.write(kEdit, source.where(), result.bytes_sent, result.upload_bytes, settings.variations);
    return layers_return(procedure, placed);
  });
}

GimpValueArray *run_generate_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                                  GimpDrawable **drawables, GimpProcedureConfig *config, gpointer) {
  const bool ui = init_ui(run_mode);
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_dialog(procedure, config, _("Generate Layer"), false))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);
  return guarded(procedure, ui, [&]() -> GimpValueArray * {
    JobSettings settings = settings_from(config);
    if (settings.prompt.empty())
      throw Error(ErrorCode::InvalidInput, _("Describe the picture you want: the prompt is empty."));
    gboolean transparent = FALSE;
    g_object_get(config, "transparent", &transparent, nullptr);
    settings.transparent = transparent;
    const PreparedJob job = prepare_with_key(settings, ui, Task::Generate);
    std::vector<Image> references = read_references(config);
    gboolean non_empty = FALSE;
    gint x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    gimp_selection_bounds(image, &non_empty, &x1, &y1, &x2, &y2);
    Rect where = non_empty ? Rect{x1, y1, x2 - x1, y2 - y1}
                           : Rect{0, 0, gimp_image_get_width(image), gimp_image_get_height(image)};
    NewLayers layers(image, where, settings.variations, short_prompt(settings.prompt));
    layers.prepare_while_waiting();
    JobResult result = while_waiting(ui, job, [&](GCancellable *cancel, const ProgressSink &progress) {
      return run_generate(job, "", where.w, where.h, references, cancel, progress);
    });
    GimpDrawable *anchor = nullptr;
    if (drawables && drawables[0] && GIMP_IS_LAYER(drawables[0]) && !GIMP_IS_LAYER_MASK(drawables[0]))
      anchor = drawables[0];
    std::vector<GimpLayer *> placed = layers.place(anchor, result, settings.prompt, settings.seed);
    if (run_mode != GIMP_RUN_NONINTERACTIVE) gimp_displays_flush();
    return layers_return(procedure, placed);
  });
}

GimpValueArray *run_new_image_proc(GimpProcedure *procedure, GimpProcedureConfig *config, gpointer) {
  GimpRunMode run_mode = GIMP_RUN_NONINTERACTIVE;
  g_object_get(config, "run-mode", &run_mode, nullptr);
  const bool ui = init_ui(run_mode);
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_dialog(procedure, config, _("Image from Prompt"), false))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);
  return guarded(procedure, ui, [&]() -> GimpValueArray * {
    JobSettings settings = settings_from(config, false);
    if (settings.prompt.empty())
      throw Error(ErrorCode::InvalidInput, _("Describe the picture you want: the prompt is empty."));
    std::string aspect = config_string(config, "aspect");
    const PreparedJob job = prepare_with_key(settings, ui, Task::Generate);
    JobResult result = while_waiting(ui, job, [&](GCancellable *cancel, const ProgressSink &progress) {
      return run_generate(job, aspect, 0, 0, {}, cancel, progress);
    });
    const Image &img = result.images.front();
    GimpImage *image = gimp_image_new(img.width, img.height, GIMP_RGB);
    gimp_image_undo_disable(image);
    NewLayers(image, Rect{0, 0, img.width, img.height}, int(result.images.size()), short_prompt(settings.prompt))
        .place(nullptr, result, settings.prompt, settings.seed);
    gimp_image_undo_enable(image);
    if (ui) gimp_display_new(image);
    GimpValueArray *ret = gimp_procedure_new_return_values(procedure, GIMP_PDB_SUCCESS, nullptr);
    GIMP_VALUES_SET_IMAGE(ret, 1, image);
    return ret;
  });
}

// ---------- registration ----------

GimpChoice *provider_choice() {
  GimpChoice *choice = gimp_choice_new();
  int id = 0;
  for (const ServiceInfo &s : services())
    gimp_choice_add(choice, s.name.c_str(), id++, s.display_name.c_str(), nullptr);
  return choice;
}

void add_common_arguments(GimpProcedure *p, bool variations) {
  gimp_procedure_add_string_argument(p, "prompt", _("Prompt"), _("What to do, in plain words"), "",
                                     G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument(p, "provider", _("Ser_vice"), _("The image model service"), provider_choice(),
                                     "gemini", G_PARAM_READWRITE);
  gimp_procedure_add_string_argument(p, "model", _("_Model"), _("Model id; empty = the service's default"), "",
                                     G_PARAM_READWRITE);
  gimp_procedure_add_string_argument(p, "endpoint", _("Endpoint"),
                                     _("Base URL of a compatible service or relay; empty = the service itself"), "",
                                     G_PARAM_READWRITE);
  if (variations)
    gimp_procedure_add_int_argument(p, "variations", _("_Variations"), _("How many versions to make (1-4)"), 1, 4,
                                    1, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument(p, "seed", _("See_d"), _("Seed for models that take one; -1 = none"), -1,
                                  G_MAXINT, -1, G_PARAM_READWRITE);
}

// GIMP translates its own menu names; "Generative" is ours.
std::string menu_path(const char *parent) { return std::string(parent) + "/" + _("Generative"); }

void set_common(GimpProcedure *p, const char *label, const char *blurb, const char *help) {
  gimp_procedure_set_menu_label(p, label);
  gimp_procedure_set_documentation(p, blurb, help, gimp_procedure_get_name(p));
  gimp_procedure_set_attribution(p, "genfill", "genfill", "2026");
}

GList *query_procedures(GimpPlugIn *) {
  GList *list = nullptr;
  list = g_list_append(list, g_strdup(kEdit));
  list = g_list_append(list, g_strdup(kGenerate));
  list = g_list_append(list, g_strdup(kNewImage));
  return list;
}

GimpProcedure *create_procedure(GimpPlugIn *plug_in, const gchar *name) {
  GimpProcedure *p = nullptr;
  if (g_strcmp0(name, kEdit) == 0) {
    p = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_edit_proc, nullptr, nullptr);
    gimp_procedure_set_image_types(p, "RGB*, GRAY*");
    gimp_procedure_set_sensitivity_mask(p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
    set_common(p, _("_Edit with Prompt…"), _("Change the selection (or the layer) as a prompt says"),
               _("Sends the selection with some context around it to an image model, and puts the answer "
                 "in a new layer above, masked to the selection. The layer itself is not changed."));
    gimp_procedure_add_menu_path(p, menu_path("<Image>/Filters").c_str());
    gimp_procedure_add_menu_path(p, menu_path("<Layers>").c_str());
    add_common_arguments(p, true);
    gimp_procedure_add_boolean_argument(p, "sample-merged", _("Sample _merged"),
                                        _("Send what you see (all visible layers); off: this layer's own pixels"),
                                        TRUE, G_PARAM_READWRITE);
    gimp_procedure_add_int_argument(p, "context", _("Conte_xt (%)"),
                                    _("Picture sent around the selection, in percent of its size"), 0, 200, 25,
                                    G_PARAM_READWRITE);
    gimp_procedure_add_double_argument(p, "feather", _("_Feather (px)"),
                                       _("Softens the new layer's mask inside the selection's edge"), 0, 200, 8,
                                       G_PARAM_READWRITE);
    gimp_procedure_add_boolean_argument(
        p, "continue-conversation", _("_Continue the layer's conversation"),
        _("On a layer genfill made, the model sees the earlier steps, so \"now make it yellow\" is understood"),
        TRUE, G_PARAM_READWRITE);
    add_references_argument(p);
    // Fitting the answer in place; keep these last, as one block.
    gimp_procedure_add_boolean_argument(p, "register", _("_Align the answer"),
                                        _("Undo the shift and scale the model adds to the picture"), TRUE,
                                        G_PARAM_READWRITE);
    gimp_procedure_add_boolean_argument(p, "match-colours", _("Match _colours"),
                                        _("Undo the model's change of brightness and colour"), TRUE,
                                        G_PARAM_READWRITE);
    gimp_procedure_add_boolean_argument(p, "blend-seam", _("_Blend the seam"),
                                        _("Blend the answer into its surroundings across the selection's edge"),
                                        TRUE, G_PARAM_READWRITE);
    gimp_procedure_add_boolean_argument(p, "raw", _("_Raw answer"),
                                        _("Use the model's pixels untouched (overrides the three above)"), FALSE,
                                        G_PARAM_READWRITE);
    gimp_procedure_add_core_object_array_return_value(p, "layers", _("Layers"), _("The new layers"),
                                                      GIMP_TYPE_LAYER, G_PARAM_READWRITE);
  } else if (g_strcmp0(name, kGenerate) == 0) {
    p = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_generate_proc, nullptr, nullptr);
    gimp_procedure_set_image_types(p, "RGB*, GRAY*");
    gimp_procedure_set_sensitivity_mask(p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE | GIMP_PROCEDURE_SENSITIVE_DRAWABLES |
                                               GIMP_PROCEDURE_SENSITIVE_NO_DRAWABLES);
    set_common(p, _("_Generate Layer…"), _("Make a new layer from a prompt"),
               _("Asks an image model for a picture and puts it in a new layer the size of the selection's box "
                 "(or of the image)."));
    gimp_procedure_add_menu_path(p, menu_path("<Image>/Filters").c_str());
    add_common_arguments(p, true);
    add_references_argument(p);
    // Added after the first release: keep it last so that scripts passing arguments by
    // position still work.
    gimp_procedure_add_boolean_argument(
        p, "transparent", _("_Transparent background"),
        _("Ask for a picture on a transparent background (models that can: GPT Image)"), FALSE, G_PARAM_READWRITE);
    gimp_procedure_add_core_object_array_return_value(p, "layers", _("Layers"), _("The new layers"),
                                                      GIMP_TYPE_LAYER, G_PARAM_READWRITE);
  } else if (g_strcmp0(name, kNewImage) == 0) {
    p = gimp_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_new_image_proc, nullptr, nullptr);
    set_common(p, _("Image from _Prompt…"), _("Make a new image from a prompt"),
               _("Asks an image model for a picture and opens it as a new image."));
    gimp_procedure_add_menu_path(p, "<Image>/File/Create");
    gimp_procedure_add_enum_argument(p, "run-mode", _("Run mode"), _("The run mode"), GIMP_TYPE_RUN_MODE,
                                     GIMP_RUN_INTERACTIVE, G_PARAM_READWRITE);
    add_common_arguments(p, false);
    gimp_procedure_add_choice_argument(
        p, "aspect", _("_Aspect ratio"), _("Shape of the picture"),
        gimp_choice_new_with_values("1:1", 0, _("Square (1:1)"), nullptr, "3:2", 1, _("Landscape (3:2)"), nullptr,
                                    "2:3", 2, _("Portrait (2:3)"), nullptr, "4:3", 3, _("Landscape (4:3)"), nullptr,
                                    "3:4", 4, _("Portrait (3:4)"), nullptr, "16:9", 5, _("Wide (16:9)"), nullptr,
                                    "9:16", 6, _("Tall (9:16)"), nullptr, nullptr),
        "1:1", G_PARAM_READWRITE);
    gimp_procedure_add_image_return_value(p, "image", _("Image"), _("The new image"), FALSE, G_PARAM_READWRITE);
  }
  return p;
}

// Catalogues in the plug-in's own folder (<folder>/locale, how a user install carries them)
// win; otherwise $GENFILL_LOCALEDIR or the system locale folder.
gboolean set_i18n(GimpPlugIn *, const gchar *, gchar **gettext_domain, gchar **catalog_dir) {
  if (!g_getenv("GENFILL_LOCALEDIR")) {
    GCharPtr exe(g_file_read_link("/proc/self/exe", nullptr));
    GCharPtr folder(exe ? g_path_get_dirname(exe.get()) : nullptr);
    GCharPtr own(folder ? g_build_filename(folder.get(), "locale", nullptr) : nullptr);
    if (own && g_file_test(own.get(), G_FILE_TEST_IS_DIR)) {
      *gettext_domain = g_strdup(GETTEXT_PACKAGE);
      *catalog_dir = g_strdup("locale");  // GIMP binds it, relative to the plug-in's folder
      return TRUE;
    }
  }
  init_i18n();
  return FALSE;  // bound here: GIMP only accepts folders inside the plug-in's own
}

}  // namespace

G_BEGIN_DECLS
#define GENFILL_TYPE_PLUGIN (genfill_plugin_get_type())
G_DECLARE_FINAL_TYPE(GenfillPlugin, genfill_plugin, GENFILL, PLUGIN, GimpPlugIn)
G_END_DECLS

struct _GenfillPlugin {
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE(GenfillPlugin, genfill_plugin, GIMP_TYPE_PLUG_IN)

static void genfill_plugin_class_init(GenfillPluginClass *klass) {
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS(klass);
  plug_in_class->query_procedures = query_procedures;
  plug_in_class->create_procedure = create_procedure;
  plug_in_class->set_i18n = set_i18n;
}

static void genfill_plugin_init(GenfillPlugin *) { keep_pictures_off_the_heap(); }

GIMP_MAIN(GENFILL_TYPE_PLUGIN)
