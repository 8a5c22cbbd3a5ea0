// Which part of the picture to send, and at what size.
#include "core/util/i18n.hpp"
#include "core/plan/plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/util/error.hpp"

namespace genfill {

namespace {

int iround(double v) { return int(std::lround(v)); }

double log_ratio(double w, double h) { return std::log(w / h); }

// The shape a model answers in at an aspect: its output size, which for some models is a few
// percent off the nominal ratio (Gemini 2.5 answers 4:3 with 1184x864, 1.37).
double shape_of(const Aspect &a) { return double(a.out_w) / a.out_h; }

// The offered aspect whose shape is nearest to w:h on a log scale (so 2:1 and 1:2 are equally
// far from 1:1); the first one listed wins a tie.
const Aspect &nearest_aspect(const ModelInfo &model, double w, double h) {
  const Aspect *best = nullptr;
  double best_d = 0;
  for (const Aspect &a : model.aspects) {
    if (a.w <= 0 || a.h <= 0 || a.out_w <= 0 || a.out_h <= 0) continue;
    const double d = std::fabs(std::log(shape_of(a)) - log_ratio(w, h));
    if (!best || d < best_d - 1e-12) {
      best = &a;
      best_d = d;
    }
  }
  if (!best) throw Error(ErrorCode::InvalidInput, format(_("The model %s lists no picture sizes."), model.id.c_str()));
  return *best;
}

// Where the picture cannot hold the aspect exactly, a region this close to it (in log ratio,
// about 3 %) is sent as it is rather than padded: a model stretches that little without harm,
// while padding wastes part of the upload on a strip of repeated pixels. 3 % covers the gap
// between Gemini's nominal ratios and its output sizes, so a 5:4 photo and a picture Gemini
// made at 1152x896 both go up unpadded.
constexpr double kShapeTolerance = 0.03;

// Grows [lo, lo + len) to `want` around its centre, shifted to stay inside [0, limit); never
// beyond the limit. Returns whether it reached `want`.
bool grow_axis(int &lo, int &len, int want, int limit) {
  if (want <= len) return true;
  const bool reached = want <= limit;
  want = std::min(want, limit);
  lo = std::clamp(lo - (want - len) / 2, 0, limit - want);
  len = want;
  return reached;
}

}  // namespace

Plan plan_region(int image_w, int image_h, Rect selection, const ModelInfo &model, const PlanOptions &opts) {
  if (image_w <= 0 || image_h <= 0) throw Error(ErrorCode::InvalidInput, _("The picture is empty."));
  Plan plan;
  Rect box{0, 0, image_w, image_h};
  if (!selection.empty()) {
    // The selection, clipped to the picture.
    const int64_t sx1 = int64_t(selection.x) + selection.w, sy1 = int64_t(selection.y) + selection.h;
    const int x0 = std::max(0, selection.x), y0 = std::max(0, selection.y);
    const int x1 = int(std::min<int64_t>(image_w, sx1)), y1 = int(std::min<int64_t>(image_h, sy1));
    if (x1 <= x0 || y1 <= y0) throw Error(ErrorCode::InvalidInput, _("The selection lies outside the picture."));
    // Context around it on each axis: a share of its size there, at least min_context pixels.
    const double context = std::isfinite(opts.context) ? std::clamp(opts.context, 0.0, 100.0) : 0.0;
    const int min_context = std::max(0, opts.min_context);
    const int mx = std::max(min_context, int(std::min(1e9, std::ceil(context * (x1 - x0)))));
    const int my = std::max(min_context, int(std::min(1e9, std::ceil(context * (y1 - y0)))));
    box.x = std::max(0, x0 - mx);
    box.y = std::max(0, y0 - my);
    box.w = int(std::min<int64_t>(image_w, int64_t(x1) + mx)) - box.x;
    box.h = int(std::min<int64_t>(image_h, int64_t(y1) + my)) - box.y;
  }

  // Grow the short side to the shape of the model's nearest aspect, as far as the picture allows.
  plan.aspect = nearest_aspect(model, box.w, box.h);
  const double ratio = shape_of(plan.aspect);
  const bool reached = double(box.w) / box.h < ratio ? grow_axis(box.x, box.w, iround(box.h * ratio), image_w)
                                                     : grow_axis(box.y, box.h, iround(box.w / ratio), image_h);
  plan.region = box;
  const bool as_is = reached || std::fabs(log_ratio(box.w, box.h) - std::log(ratio)) <= kShapeTolerance;

  // The upload frame: the region itself, or the region plus padding up to the aspect's shape.
  // Scaled down to fit the aspect's output size; never scaled up.
  const double fw = as_is ? box.w : std::max<double>(box.w, box.h * ratio);
  const double fh = as_is ? box.h : std::max<double>(box.h, box.w / ratio);
  const double s = std::min({1.0, plan.aspect.out_w / fw, plan.aspect.out_h / fh});
  plan.canvas_w = std::clamp(iround(fw * s), 1, plan.aspect.out_w);
  plan.canvas_h = std::clamp(iround(fh * s), 1, plan.aspect.out_h);
  if (as_is) {
    plan.content = Rect{0, 0, plan.canvas_w, plan.canvas_h};
  } else {
    const int cw = std::clamp(iround(box.w * s), 1, plan.canvas_w);
    const int ch = std::clamp(iround(box.h * s), 1, plan.canvas_h);
    plan.content = Rect{(plan.canvas_w - cw) / 2, (plan.canvas_h - ch) / 2, cw, ch};
  }
  return plan;
}

Image to_canvas(const Image &region, const Plan &plan) {
  Image content = scale(region, plan.content.w, plan.content.h);
  if (plan.content == Rect{0, 0, plan.canvas_w, plan.canvas_h}) return content;
  // Padding repeats the nearest edge pixel of the content.
  Image canvas(plan.canvas_w, plan.canvas_h);
  for (int y = 0; y < canvas.height; ++y) {
    const uint8_t *src = content.at(0, std::clamp(y - plan.content.y, 0, content.height - 1));
    uint8_t *dst = canvas.at(0, y);
    for (int x = 0; x < canvas.width; ++x) {
      const int sx = std::clamp(x - plan.content.x, 0, content.width - 1);
      std::copy_n(src + size_t(sx) * 4, 4, dst + size_t(x) * 4);
    }
  }
  return canvas;
}

Mask to_canvas(const Mask &region_mask, const Plan &plan) {
  Mask content = scale(region_mask, plan.content.w, plan.content.h);
  if (plan.content == Rect{0, 0, plan.canvas_w, plan.canvas_h}) return content;
  Mask canvas(plan.canvas_w, plan.canvas_h, 0);  // padding: keep
  for (int y = 0; y < content.height; ++y)
    std::copy_n(&content.at(0, y), content.width, &canvas.at(plan.content.x, plan.content.y + y));
  return canvas;
}

Image from_canvas(const Image &answer, const Plan &plan, int width, int height) {
  if (width <= 0 || height <= 0) {
    width = plan.region.w;
    height = plan.region.h;
  }
  if (answer.empty()) throw Error(ErrorCode::BadResponse, _("The service sent an empty picture."));
  // The content rect, in the answer's own pixels (the answer may come at another size).
  const double fx = double(answer.width) / plan.canvas_w, fy = double(answer.height) / plan.canvas_h;
  const int x0 = std::clamp(iround(plan.content.x * fx), 0, answer.width - 1);
  const int y0 = std::clamp(iround(plan.content.y * fy), 0, answer.height - 1);
  const int x1 = std::clamp(iround(plan.content.right() * fx), x0 + 1, answer.width);
  const int y1 = std::clamp(iround(plan.content.bottom() * fy), y0 + 1, answer.height);
  if (x0 == 0 && y0 == 0 && x1 == answer.width && y1 == answer.height)
    return scale(answer, width, height);
  return scale(crop(answer, Rect{x0, y0, x1 - x0, y1 - y0}), width, height);
}

}  // namespace genfill
