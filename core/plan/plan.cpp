// Which part of the picture to send, and at what size.
#include "core/util/i18n.hpp"
#include "core/plan/plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

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
// The most pixels ever uploaded: every 2K answer's size (2752x1536 = 4.2 MP at 16:9) stays below
// it. A 4K answer (about 17 MP) is not matched by the upload: a photo region that large is
// 25 MB and more as PNG, beyond what Gemini takes inline (20 MB a request), and slow to encode.
// The answer still comes at 4K; the region is uploaded at this size.
constexpr double kMaxUploadPixels = 4.3e6;

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

Aspect free_aspect(const FreeSize &f, double ratio, double pixels) {
  const double max_ratio = std::max(1.0, f.max_ratio);
  if (!std::isfinite(ratio) || ratio <= 0) ratio = 1;
  ratio = std::clamp(ratio, 1 / max_ratio, max_ratio);
  if (!std::isfinite(pixels) || pixels <= 0) pixels = double(std::max<int64_t>(1, f.default_pixels));
  if (f.max_pixels > 0) pixels = std::min(pixels, double(f.max_pixels));
  if (f.min_pixels > 0) pixels = std::max(pixels, double(f.min_pixels));
  const int step = std::max(1, f.multiple);
  const int max_side = f.max_side > 0 ? f.max_side : 16384;
  // Every allowed height, with the widths on either side of the ratio: the ratio matters most
  // (the region is grown to the answer's shape), the pixel count second (1 % of ratio weighs as
  // much as 20 % of pixels).
  int best_w = 0, best_h = 0;
  double best = 0;
  for (int h = step; h <= max_side; h += step) {
    const double ideal = h * ratio / step;
    for (double k : {std::floor(ideal), std::ceil(ideal)}) {
      const int w = int(k) * step;
      if (w < step || w > max_side) continue;
      const double px = double(w) * h, r = double(w) / h;
      if ((f.max_pixels > 0 && px > double(f.max_pixels)) || (f.min_pixels > 0 && px < double(f.min_pixels))) continue;
      if (r > max_ratio * (1 + 1e-12) || r < (1 - 1e-12) / max_ratio) continue;
      const double score = std::fabs(std::log(r / ratio)) + 0.05 * std::fabs(std::log(px / pixels));
      if (best_w == 0 || score < best - 1e-12) {
        best_w = w;
        best_h = h;
        best = score;
      }
    }
  }
  if (best_w == 0)
    throw Error(ErrorCode::InvalidInput, _("The model's size limits in the model list allow no size at all."));
  const int g = std::gcd(best_w, best_h);
  return Aspect{best_w / g, best_h / g, best_w, best_h};
}

namespace {

int scaled(int v, double s) { return std::max(1, iround(v * s)); }

}  // namespace

const ImageSize *image_size_for(const ModelInfo &model, const Aspect &aspect, int w, int h) {
  const ImageSize *fit = nullptr, *largest = nullptr;
  for (const ImageSize &s : model.image_sizes) {
    if (!largest || s.scale > largest->scale) largest = &s;
    if (scaled(aspect.out_w, s.scale) >= w && scaled(aspect.out_h, s.scale) >= h && (!fit || s.scale < fit->scale))
      fit = &s;
  }
  return fit ? fit : largest;
}

const ImageSize *named_image_size(const ModelInfo &model, const std::string &name) {
  for (const ImageSize &s : model.image_sizes)
    if (s.name == name) return &s;
  return nullptr;
}

const ImageSize *default_image_size(const ModelInfo &model) {
  for (const ImageSize &s : model.image_sizes)
    if (s.name == model.default_image_size) return &s;
  return model.image_sizes.empty() ? nullptr : &model.image_sizes.front();
}

OutputChoice choose_output(const ModelInfo &model, double ratio, int w, int h, const std::string &image_size) {
  if (!std::isfinite(ratio) || ratio <= 0) ratio = 1;
  OutputChoice out;
  if (model.free_size) {
    out.aspect = free_aspect(*model.free_size, ratio, w > 0 && h > 0 ? double(w) * h : -1);
    out.out_w = out.aspect.out_w;
    out.out_h = out.aspect.out_h;
    return out;
  }
  // The offered ratio nearest to the wanted one (as named: "4:3" is 4:3 whatever the pixels).
  const Aspect *best = nullptr;
  for (const Aspect &a : model.aspects)
    if (!best || std::abs(std::log(double(a.w) / a.h) - std::log(ratio)) <
                     std::abs(std::log(double(best->w) / best->h) - std::log(ratio)))
      best = &a;
  if (!best) throw Error(ErrorCode::InvalidInput, format(_("The model %s lists no picture sizes."), model.id.c_str()));
  out.aspect = *best;
  out.out_w = best->out_w;
  out.out_h = best->out_h;
  const ImageSize *s = !image_size.empty()   ? named_image_size(model, image_size)
                       : w > 0 && h > 0      ? image_size_for(model, *best, w, h)
                                             : default_image_size(model);
  if (s) {
    out.image_size = s->name;
    out.out_w = scaled(best->out_w, s->scale);
    out.out_h = scaled(best->out_h, s->scale);
  }
  return out;
}

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

  if (model.free_size) {
    // The region's own shape (within the model's limits), at about the region's pixel count.
    const double max_ratio = std::max(1.0, model.free_size->max_ratio);
    const double r = std::clamp(double(box.w) / box.h, 1 / max_ratio, max_ratio);
    const double gw = std::max<double>(box.w, box.h * r), gh = std::max<double>(box.h, box.w / r);
    plan.aspect = free_aspect(*model.free_size, r, gw * gh);
  } else {
    // Grow the short side to the shape of the model's nearest aspect, as far as the picture allows.
    plan.aspect = nearest_aspect(model, box.w, box.h);
  }
  const double ratio = shape_of(plan.aspect);
  const bool reached = double(box.w) / box.h < ratio ? grow_axis(box.x, box.w, iround(box.h * ratio), image_w)
                                                     : grow_axis(box.y, box.h, iround(box.w / ratio), image_h);
  plan.region = box;
  const bool as_is = reached || std::fabs(log_ratio(box.w, box.h) - std::log(ratio)) <= kShapeTolerance;

  // The upload frame: the region itself, or the region plus padding up to the aspect's shape.
  const double fw = as_is ? box.w : std::max<double>(box.w, box.h * ratio);
  const double fh = as_is ? box.h : std::max<double>(box.h, box.w / ratio);
  // The answer's size: the aspect's, at the smallest image size that covers the frame.
  plan.out_w = plan.aspect.out_w;
  plan.out_h = plan.aspect.out_h;
  const ImageSize *size = !opts.image_size.empty()
                              ? named_image_size(model, opts.image_size)
                              : image_size_for(model, plan.aspect, int(std::ceil(fw - 1e-9)), int(std::ceil(fh - 1e-9)));
  if (size) {
    plan.image_size = size->name;
    plan.out_w = scaled(plan.aspect.out_w, size->scale);
    plan.out_h = scaled(plan.aspect.out_h, size->scale);
  }
  // Scaled down to fit the answer's size and the upload limit; never scaled up.
  const double s = std::min({1.0, plan.out_w / fw, plan.out_h / fh, std::sqrt(kMaxUploadPixels / (fw * fh))});
  plan.canvas_w = std::clamp(iround(fw * s), 1, plan.out_w);
  plan.canvas_h = std::clamp(iround(fh * s), 1, plan.out_h);
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
