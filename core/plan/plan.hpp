// genfill — deciding which part of an image to send, and at what size.
#pragma once

#include "core/catalog/models.hpp"
#include "core/image/image.hpp"

namespace genfill {

struct PlanOptions {
  double context = 0.25;   // margin around the selection box, as a fraction of the box size
  int min_context = 32;    // ...but at least this many pixels on each side
  std::string image_size;  // the model's named size to ask for ("2K"; one of its image_sizes), "" = chosen
};

struct Plan {
  Rect region;             // part of the image to send (image coordinates)
  Aspect aspect;           // the model's aspect chosen for it (for free sizes: the size itself)
  std::string image_size;  // the model's named size to ask for ("2K"), "" when it has none
  int out_w = 0, out_h = 0;  // the answer's expected size: the aspect's at that image size
  int canvas_w = 0, canvas_h = 0;  // upload size
  Rect content;            // where the region lands inside the canvas (the rest is padding)
  // The canvas has the aspect (within rounding) and is never larger than the answer's expected
  // size (out_w x out_h) nor than about 4.3 MP (so a 4K answer's region uploads smaller than the
  // answer); a small region uploads at its own size.
};

// selection: the selection's bounding box, empty = whole image.
// The model's aspects (or, with free sizes, the region's own ratio within the model's limits)
// shape the region; a model with several image sizes is asked for the smallest whose answer
// covers the region's pixels, so the answer is not blurry.
Plan plan_region(int image_w, int image_h, Rect selection, const ModelInfo &model,
                 const PlanOptions &opts = {});

// --- the size logic, also used for generation ---

// The size to ask a model with free sizes for: the ratio (clamped to 1:max_ratio..max_ratio:1),
// about `pixels` pixels (clamped to the model's limits), both sides multiples of its step. The
// result's w:h is the ratio reduced, out_w x out_h the size.
Aspect free_aspect(const FreeSize &f, double ratio, double pixels);
// The smallest of the model's image sizes whose answer at `aspect` is at least w x h (the
// largest when none is); nullptr when the model has no image sizes.
const ImageSize *image_size_for(const ModelInfo &model, const Aspect &aspect, int w, int h);
// The model's named default size (nullptr when it has none).
const ImageSize *default_image_size(const ModelInfo &model);
// The model's image size named `name`; nullptr when it has none of that name.
const ImageSize *named_image_size(const ModelInfo &model, const std::string &name);

// What to ask for when generating: the model's aspect nearest to `ratio` (free sizes: the ratio
// itself) and, when w x h is given, an image size whose answer covers it (else the default).
struct OutputChoice {
  Aspect aspect;
  std::string image_size;
  int out_w = 0, out_h = 0;
};
// `image_size` (one of the model's) is asked for instead of the size chosen when given.
OutputChoice choose_output(const ModelInfo &model, double ratio, int w = 0, int h = 0,
                           const std::string &image_size = {});

// Region pixels -> upload canvas (scaled into plan.content, padding filled by edge replication).
// `region` may also come already at plan.content's size (a host that reads it scaled).
Image to_canvas(const Image &region, const Plan &plan);
// Region-size (or content-size) mask -> canvas-size mask (padding = 0, i.e. keep).
Mask to_canvas(const Mask &region_mask, const Plan &plan);
// A model's answer (any size) -> region pixels: maps the canvas' content rect back to the region,
// at the region's size, or at width x height when given (e.g. plan.content's size, for a host
// that scales the result itself).
Image from_canvas(const Image &answer, const Plan &plan, int width = 0, int height = 0);

}  // namespace genfill
