// Which part of the picture to send, and at what size.
#include "core/util/i18n.hpp"
#include "core/plan/plan.hpp"

#include <algorithm>
#include <cmath>

#include "core/util/error.hpp"

namespace genfill {

namespace {

int iround(double v) { return int(std::lround(v)); }

const Aspect &nearest_aspect(const ModelInfo &model, double ratio) {
  if (model.aspects.empty())
    throw Error(ErrorCode::InvalidInput, format(_("The model %s lists no picture sizes."), model.id.c_str()));
  const Aspect *best = &model.aspects.front();
  double best_d = 1e9;
  for (const Aspect &a : model.aspects) {
    double d = std::fabs(std::log(double(a.w) / a.h) - std::log(ratio));
    if (d < best_d - 1e-12) {
      best_d = d;
      best = &a;
    }
  }
  return *best;
}

// Grows [lo, lo+len) to `want` (<= limit) around its centre, shifted to stay in [0, limit).
void grow_axis(int &lo, int &len, int want, int limit) {
  if (want <= len) return;
  want = std::min(want, limit);
  int start = lo - (want - len) / 2;
  start = std::clamp(start, 0, limit - want);
  lo = start;
  len = want;
}

}  // namespace

Plan plan_region(int image_w, int image_h, Rect selection, const ModelInfo &model, const PlanOptions &opts) {
  if (image_w <= 0 || image_h <= 0) throw Error(ErrorCode::InvalidInput, _("The picture is empty."));
  Plan plan;
  Rect box{0, 0, image_w, image_h};
  if (!selection.empty()) {
    int x0 = std::max(0, selection.x), y0 = std::max(0, selection.y);
    int x1 = std::min(image_w, selection.right()), y1 = std::min(image_h, selection.bottom());
    if (x1 <= x0 || y1 <= y0)
      throw Error(ErrorCode::InvalidInput, _("The selection lies outside the picture."));
    // Context around the selection: a share of its size, at least min_context pixels.
    int mx = std::max(opts.min_context, int(std::ceil(opts.context * (x1 - x0))));
    int my = std::max(opts.min_context, int(std::ceil(opts.context * (y1 - y0))));
    box = Rect{std::max(0, x0 - mx), std::max(0, y0 - my), 0, 0};
    box.w = std::min(image_w, x1 + mx) - box.x;
    box.h = std::min(image_h, y1 + my) - box.y;
  }

  // Grow to the model's nearest aspect where the picture has room.
  plan.aspect = nearest_aspect(model, double(box.w) / box.h);
  const double ratio = double(plan.aspect.w) / plan.aspect.h;
  if (double(box.w) / box.h < ratio)
    grow_axis(box.x, box.w, iround(box.h * ratio), image_w);
  else
    grow_axis(box.y, box.h, iround(box.w / ratio), image_h);
  plan.region = box;

  // The upload frame has the aspect exactly; where the region could not reach it the rest is padding.
  double fw = std::max<double>(box.w, box.h * ratio);
  double fh = std::max<double>(box.h, box.w / ratio);
  double s = std::min({1.0, plan.aspect.out_w / fw, plan.aspect.out_h / fh});
  plan.canvas_w = std::max(1, iround(fw * s));
  plan.canvas_h = std::max(1, iround(fh * s));
  int cw = std::clamp(iround(box.w * s), 1, plan.canvas_w);
  int ch = std::clamp(iround(box.h * s), 1, plan.canvas_h);
  plan.content = Rect{(plan.canvas_w - cw) / 2, (plan.canvas_h - ch) / 2, cw, ch};
  return plan;
}

Image to_canvas(const Image &region, const Plan &plan) {
  Image content = scale(region, plan.content.w, plan.content.h);
  if (plan.content == Rect{0, 0, plan.canvas_w, plan.canvas_h}) return content;
  Image canvas(plan.canvas_w, plan.canvas_h);
  for (int y = 0; y < canvas.height; ++y) {
    int sy = std::clamp(y - plan.content.y, 0, content.height - 1);
    for (int x = 0; x < canvas.width; ++x) {
      int sx = std::clamp(x - plan.content.x, 0, content.width - 1);
      std::copy_n(content.at(sx, sy), 4, canvas.at(x, y));
    }
  }
  return canvas;
}

Mask to_canvas(const Mask &region_mask, const Plan &plan) {
  Mask content = scale(region_mask, plan.content.w, plan.content.h);
  if (plan.content == Rect{0, 0, plan.canvas_w, plan.canvas_h}) return content;
  Mask canvas(plan.canvas_w, plan.canvas_h, 0);
  for (int y = 0; y < content.height; ++y)
    std::copy_n(&content.at(0, y), content.width, &canvas.at(plan.content.x, plan.content.y + y));
  return canvas;
}

Image from_canvas(const Image &answer, const Plan &plan) {
  if (answer.empty()) throw Error(ErrorCode::BadResponse, _("The service sent an empty picture."));
  const double fx = double(answer.width) / plan.canvas_w, fy = double(answer.height) / plan.canvas_h;
  int x0 = std::clamp(iround(plan.content.x * fx), 0, answer.width - 1);
  int y0 = std::clamp(iround(plan.content.y * fy), 0, answer.height - 1);
  int x1 = std::clamp(iround(plan.content.right() * fx), x0 + 1, answer.width);
  int y1 = std::clamp(iround(plan.content.bottom() * fy), y0 + 1, answer.height);
  Image content = (x0 == 0 && y0 == 0 && x1 == answer.width && y1 == answer.height)
                      ? answer
                      : crop(answer, Rect{x0, y0, x1 - x0, y1 - y0});
  return scale(content, plan.region.w, plan.region.h);
}

}  // namespace genfill
