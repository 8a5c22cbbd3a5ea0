// genfill — Generative Expand: the canvas grows by margins and the model paints the new border.
// The host supplies the old picture (a RegionSource over it); the core plans the region (the
// new border plus context from the old picture, not the whole photo for a thin strip), fills the
// new area with one flat colour, sends it as an edit whose selection is exactly the new area,
// fits the answer on the kept context (core/seam) and says where everything goes. Nothing of the
// host's picture changes until its host places the answer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/edit/job.hpp"

namespace genfill {

struct Margins {
  int left = 0, right = 0, top = 0, bottom = 0;  // pixels, >= 0
  bool empty() const { return left <= 0 && right <= 0 && top <= 0 && bottom <= 0; }
};

// The margins that bring a w x h picture to the aspect aw:ah, centred (the odd pixel goes right
// or down); none when it already has it. Error{InvalidInput} for a nonsense aspect.
Margins margins_for_aspect(int w, int h, int aw, int ah);
// "16:9" -> margins_for_aspect(w, h, 16, 9); Error{InvalidInput} when it is not W:H.
Margins margins_for_aspect(int w, int h, const std::string &aspect);

// The colour the new area is filled with in the picture sent, and its name in the instruction.
inline constexpr uint8_t kExpandFill[3] = {255, 0, 255};
inline constexpr const char *kExpandFillName = "flat magenta (#FF00FF)";

// The grown canvas as an edit reads it: the host's picture at `old`, the flat fill around it, and
// exactly the new area selected (255; the old picture 0). Reads the host's picture only where
// the region asked for overlaps it, once, at the matching size.
class GrownSource : public RegionSource {
public:
  GrownSource(RegionSource &picture, Rect old, int canvas_w, int canvas_h, Rect new_area)
      : picture_(picture), old_(old), w_(canvas_w), h_(canvas_h), new_area_(new_area) {}
  int width() const override { return w_; }
  int height() const override { return h_; }
  Rect selection() const override { return new_area_; }
  RegionPixels read(const Rect &region, int width, int height) override;

private:
  RegionSource &picture_;
  Rect old_;
  int w_, h_;
  Rect new_area_;
};

struct ExpandInput {
  Margins margins;
  double context = 0.25;          // old picture sent beside the new area, as a fraction of its size
  double feather_px = 8;          // how far the new layer's mask reaches into the old picture
  std::vector<Image> references;
};

struct ExpandResult : EditResult {
  Margins margins;                 // as asked
  double feather_px = 0;
  int canvas_w = 0, canvas_h = 0;  // the grown canvas
  Rect old;                        // where the old picture lies in it
  // The mask of each result over plan.region (the results' size): the new area fully, fading
  // out over feather_px into the old picture. Results and mask are at the region's size, or at
  // the upload's with results_at_upload_scale.
  Mask layer_mask;
};

// The instruction sent: the user's prompt (may be empty: the scene continues) inside genfill's
// words for an expansion, naming the fill colour for models that take no real mask.
std::string expand_prompt(const std::string &prompt, bool model_takes_mask);

// Grows `picture` (its whole width() x height(); its selection is ignored) by the margins: plans,
// reads and sends the region, and returns the answers fitted in place. Throws Error; before
// anything is sent when the margins are empty or negative, the grown canvas too large, or the new
// area too long and thin for the model's shapes in one call.
ExpandResult run_expand(const PreparedJob &job, const ExpandInput &input, RegionSource &picture,
                        GCancellable *cancel = nullptr, const ProgressSink &progress = {});

// What run_expand would cost for a width x height picture (see estimate_edit): checked as it
// checks, nothing read or sent.
Cost estimate_expand(const PreparedJob &job, const ExpandInput &input, int width, int height);

// The layer mask over plan.region at width x height (e.g. the region's full size, for a host
// that scales the results itself).
Mask expand_layer_mask(const ExpandResult &result, int width, int height);

// The grown picture with one answer: the old picture at its offset, the answer over the region
// through the layer mask; elsewhere (outside the region) transparent.
Image composite_expand(const Image &original, const ExpandResult &result, size_t index);

}  // namespace genfill
