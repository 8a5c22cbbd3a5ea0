// genfill plug-in — pixels in and out of GIMP (see pixels.hpp).
#include "gimp-plugin/pixels.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "core/edit/record.hpp"
#include "core/util/gobj.hpp"
#include "gimp-plugin/common.hpp"

namespace genfill::plugin {

namespace {

struct ParasiteFree {
  void operator()(GimpParasite *p) const { gimp_parasite_free(p); }
};
using Parasite = std::unique_ptr<GimpParasite, ParasiteFree>;

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
  GPtr<GeglBuffer> buffer = adopt(gimp_drawable_get_buffer(drawable));
  GPtr<GeglBuffer> sel_buffer =
      adopt(selection_of ? gimp_drawable_get_buffer(GIMP_DRAWABLE(gimp_image_get_selection(selection_of))) : nullptr);
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
    read_full(buffer.get(), Rect{r.x, r.y + s0, r.w, s1 - s0}, rgba, band.pixels.data());
    Mask &sel_band = sel_bands[turn];
    if (sel_buffer) {
      sel_band.width = r.w;
      sel_band.height = s1 - s0;
      sel_band.values.resize(size_t(r.w) * size_t(s1 - s0));
      read_full(sel_buffer.get(), Rect{sr.x, sr.y + s0, r.w, s1 - s0}, gray, sel_band.values.data());
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
  std::unique_ptr<GimpLayer *, GFreeDeleter> owned(gimp_image_get_layers(image));
  GimpLayer **layers = owned.get();
  const bool sole = layers && layers[0] && !layers[1] && GIMP_DRAWABLE(layers[0]) == drawable;
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
  GPtr<GeglBuffer> owned = adopt(gimp_drawable_get_buffer(drawable));
  GeglBuffer *buffer = owned.get();
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
  gimp_drawable_update(drawable, 0, 0, where.w, where.h);
}

void write_mask(GimpLayer *layer, const Mask &mask) {
  GimpLayerMask *lm = gimp_layer_create_mask(layer, GIMP_ADD_MASK_BLACK);
  gimp_layer_add_mask(layer, lm);
  GPtr<GeglBuffer> buffer = adopt(gimp_drawable_get_buffer(GIMP_DRAWABLE(lm)));
  GeglRectangle rect{0, 0, mask.width, mask.height};
  gegl_buffer_set(buffer.get(), &rect, 0, babl_format("Y u8"), mask.values.data(), GEGL_AUTO_ROWSTRIDE);
  gegl_buffer_flush(buffer.get());
  gimp_drawable_update(GIMP_DRAWABLE(lm), 0, 0, mask.width, mask.height);
}


// Provenance on each new layer, in core's record format: never the key.
void attach_record(GimpLayer *layer, const JobResult &r, const std::string &prompt, const std::optional<int64_t> &seed,
                   int variation, const Rect &region, const std::string &conversation,
                   const std::optional<Margins> &margins) {
  const std::string text = result_record(r, prompt, seed, variation, region, conversation, margins);
  Parasite p(gimp_parasite_new(kParasite, GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE, guint32(text.size()),
                               text.c_str()));
  gimp_item_attach_parasite(GIMP_ITEM(layer), p.get());
}

}  // namespace

NewLayers::~NewLayers() {
  stop_preparing();
  for (GimpLayer *l : layers_)
    if (l) gimp_item_delete(GIMP_ITEM(l));
}

void NewLayers::prepare_while_waiting() {
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

void NewLayers::prepare() {
  stop_preparing();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  while (step(std::chrono::hours(1))) {
  }
}

std::vector<GimpLayer *> NewLayers::place(GimpDrawable *anchor, const JobResult &result, const std::string &prompt,
                                          const std::optional<int64_t> &seed, const std::string &conversation) {
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
    attach_record(layer, result, prompt, seed, int(i), where_, conversation, margins_);
    placed.push_back(layer);
  }
  gimp_image_undo_group_end(image_);
  std::erase(layers_, nullptr);
  return placed;
}

bool NewLayers::step(std::chrono::milliseconds patience) {
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

void NewLayers::stop_preparing() {
  if (idle_) g_source_remove(idle_);
  idle_ = 0;
}

GimpValueArray *layers_return(GimpProcedure *procedure, const std::vector<GimpLayer *> &layers) {
  GimpValueArray *ret = gimp_procedure_new_return_values(procedure, GIMP_PDB_SUCCESS, nullptr);
  std::vector<GObject *> arr;
  for (GimpLayer *l : layers) arr.push_back(G_OBJECT(l));
  arr.push_back(nullptr);
  GIMP_VALUES_SET_CORE_OBJECT_ARRAY(ret, 1, arr.data());
  return ret;
}

// The conversation id in the `genfill` parasite of a layer genfill made; "" otherwise.
std::string layer_conversation(GimpDrawable *drawable) {
  Parasite p(gimp_item_get_parasite(GIMP_ITEM(drawable), kParasite));
  if (!p) return {};
  guint32 size = 0;
  const char *data = static_cast<const char *>(gimp_parasite_get_data(p.get(), &size));
  return data ? conversation_of_record(std::string_view(data, size)) : std::string();
}

// The layers picked as references (from any open image), as pictures.
std::vector<Image> read_references(GimpProcedureConfig *config) {
  std::vector<Image> out;
  std::unique_ptr<GObject *, GFreeDeleter> owned(gimp_procedure_config_get_core_object_array(config, "references"));
  GObject **refs = owned.get();
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
  return out;
}

RegionPixels LayerSource::read(const Rect &region, int out_w, int out_h) {
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

RegionPixels CanvasSource::read(const Rect &region, int out_w, int out_h) {
  std::optional<RegionRead> read;
  if (sample_merged_ && !sole_plain_layer(image_, drawable_)) read = read_visible(image_, region, false, out_w, out_h);
  if (!read) {
    gint ox = 0, oy = 0;
    gimp_drawable_get_offsets(drawable_, &ox, &oy);
    read = read_region(drawable_, Rect{region.x - ox, region.y - oy, region.w, region.h}, nullptr, {}, out_w, out_h);
  }
  return RegionPixels{std::move(read->pixels), std::nullopt};
}

NewLayers &LayerSource::layers() {
  if (!layers_) throw std::logic_error("the region was never read");
  return *layers_;
}

}  // namespace genfill::plugin
