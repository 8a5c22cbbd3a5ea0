// genfill plug-in — pixels in and out of GIMP: the region an edit reads (in bands, scaled on
// the way), references, and the new layers the answer lands in (made while the service works,
// placed in one undo step, each with its record).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <libgimp/gimp.h>

#include "core/edit/expand.hpp"
#include "core/edit/job.hpp"
#include "core/image/image.hpp"
#include "gimp-plugin/timings.hpp"

namespace genfill::plugin {

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
  ~NewLayers();

  // Prepares from the main loop whenever it is idle, i.e. while the job waits for the service.
  void prepare_while_waiting();
  // Whatever is left to prepare, now.
  void prepare();

  // Writes the results' pixels, then puts the layers in the image above `anchor` (same parent),
  // or at the top when there is none, in one undo step: one layer, or a group named after the
  // prompt holding one layer per variation (the first visible). The image owns them from then.
  std::vector<GimpLayer *> place(GimpDrawable *anchor, const JobResult &result, const std::string &prompt,
                                 const std::optional<int64_t> &seed, const std::string &conversation = {});
  // An expansion's layers record its margins too.
  void set_margins(const Margins &margins) { margins_ = margins; }

private:
  // One piece of the preparation; false once all is done. Waits at most `patience` for the mask.
  bool step(std::chrono::milliseconds patience);
  void stop_preparing();

  GimpImage *image_;
  Rect where_;
  int count_;
  std::string name_;
  std::future<Mask> mask_;
  std::vector<GimpLayer *> layers_;
  guint idle_ = 0;
  std::exception_ptr error_;
  std::optional<Margins> margins_;
};

// The procedure's return values: success and the new layers.
GimpValueArray *layers_return(GimpProcedure *procedure, const std::vector<GimpLayer *> &layers);

// The conversation id in the `genfill` record of a layer genfill made; "" otherwise.
std::string layer_conversation(GimpDrawable *drawable);

// The layers picked as references (from any open image), as pictures.
std::vector<Image> read_references(GimpProcedureConfig *config);

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
  RegionPixels read(const Rect &region, int out_w, int out_h) override;

  // Where the results go (image coordinates), and their layers; both once the region was read.
  Rect where() const { return where_; }
  NewLayers &layers();
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

// The whole canvas as an expansion reads it: what the user sees (sample_merged) or the layer's
// own pixels (transparent where it does not reach), only the rectangles asked for.
class CanvasSource : public RegionSource {
public:
  CanvasSource(GimpImage *image, GimpDrawable *drawable, bool sample_merged)
      : image_(image), drawable_(drawable), sample_merged_(sample_merged) {}
  int width() const override { return gimp_image_get_width(image_); }
  int height() const override { return gimp_image_get_height(image_); }
  Rect selection() const override { return {}; }
  RegionPixels read(const Rect &region, int out_w, int out_h) override;

private:
  GimpImage *image_;
  GimpDrawable *drawable_;
  bool sample_merged_;
};

}  // namespace genfill::plugin
