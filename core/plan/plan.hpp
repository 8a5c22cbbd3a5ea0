// genfill — deciding which part of an image to send, and at what size.
#pragma once

#include "core/catalog/models.hpp"
#include "core/image/image.hpp"

namespace genfill {

struct PlanOptions {
  double context = 0.25;   // margin around the selection box, as a fraction of the box size
  int min_context = 32;    // ...but at least this many pixels on each side
};

struct Plan {
  Rect region;             // part of the image to send (image coordinates)
  Aspect aspect;           // the model's aspect chosen for it
  int canvas_w = 0, canvas_h = 0;  // upload size (exactly the aspect when the model needs exact sizes)
  Rect content;            // where the region lands inside the canvas (the rest is padding)
  // The canvas has the aspect (within rounding) and is never larger than the aspect's output
  // size; a small region uploads at its own size.
};

// selection: the selection's bounding box, empty = whole image.
Plan plan_region(int image_w, int image_h, Rect selection, const ModelInfo &model,
                 const PlanOptions &opts = {});

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
