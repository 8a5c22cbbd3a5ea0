// genfill — Generative Expand (see expand.hpp): an edit of a grown canvas whose selection is the
// new area, read through a source that places the host's picture inside the flat fill.
#include "core/edit/expand.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/plan/plan.hpp"
#include "core/util/error.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

namespace {

constexpr double kMaxCanvasPixels = double(size_t(1) << 28);  // as the largest picture decoded

// The layer's mask over `region` at width x height: 255 in the new area; inside the old picture
// fading from 255 at an edge that met a margin to 0 at `feather` pixels from it.
Mask layer_mask(const Rect &region, int width, int height, const Rect &old, const Margins &m, double feather) {
  Mask out(width, height, 0);
  const double sx = double(region.w) / width, sy = double(region.h) / height;
  for (int j = 0; j < height; ++j) {
    const double y = region.y + (j + 0.5) * sy;
    for (int i = 0; i < width; ++i) {
      const double x = region.x + (i + 0.5) * sx;
      uint8_t &v = out.values[size_t(j) * size_t(width) + size_t(i)];
      if (x < old.x || x >= old.right() || y < old.y || y >= old.bottom()) {
        v = 255;
        continue;
      }
      double d = 1e30;
      if (m.left > 0) d = std::min(d, x - old.x);
      if (m.right > 0) d = std::min(d, old.right() - x);
      if (m.top > 0) d = std::min(d, y - old.y);
      if (m.bottom > 0) d = std::min(d, old.bottom() - y);
      // The pixel at the edge (d = 0.5) is fully the answer's; none is beyond `feather`.
      if (feather > 0 && d < feather + 0.5) v = uint8_t(std::lround(255.0 * std::clamp((feather + 0.5 - d) / feather, 0.0, 1.0)));
    }
  }
  return out;
}

}  // namespace

RegionPixels GrownSource::read(const Rect &region, int width, int height) {
  RegionPixels out;
  out.pixels = Image(width, height);
  for (size_t i = 0; i < out.pixels.pixels.size(); i += 4) {
    std::memcpy(&out.pixels.pixels[i], kExpandFill, 3);
    out.pixels.pixels[i + 3] = 255;
  }
  out.selection = Mask(width, height, 255);
  const int ox0 = std::max(region.x, old_.x), oy0 = std::max(region.y, old_.y);
  const int ox1 = std::min(region.right(), old_.right()), oy1 = std::min(region.bottom(), old_.bottom());
  if (ox1 <= ox0 || oy1 <= oy0) return out;
  const double sx = double(width) / region.w, sy = double(height) / region.h;
  const int x0 = int(std::lround((ox0 - region.x) * sx)), x1 = int(std::lround((ox1 - region.x) * sx));
  const int y0 = int(std::lround((oy0 - region.y) * sy)), y1 = int(std::lround((oy1 - region.y) * sy));
  if (x1 <= x0 || y1 <= y0) return out;
  const RegionPixels kept =
      picture_.read(Rect{ox0 - old_.x, oy0 - old_.y, ox1 - ox0, oy1 - oy0}, x1 - x0, y1 - y0);
  if (kept.pixels.width != x1 - x0 || kept.pixels.height != y1 - y0)
    throw Error(ErrorCode::InvalidInput, _("The picture to edit does not match the planned region."));
  for (int y = y0; y < y1; ++y) {
    std::memcpy(out.pixels.at(x0, y), kept.pixels.at(0, y - y0), size_t(x1 - x0) * 4);
    std::memset(&out.selection->values[size_t(y) * size_t(width) + size_t(x0)], 0, size_t(x1 - x0));
  }
  return out;
}

Margins margins_for_aspect(int w, int h, int aw, int ah) {
  if (w <= 0 || h <= 0 || aw <= 0 || ah <= 0 || aw > 100 * ah || ah > 100 * aw)
    throw Error(ErrorCode::InvalidInput, _("Give the aspect ratio as W:H, for example 16:9."));
  Margins m;
  const double want = double(aw) / ah;
  if (double(w) / h < want) {  // too narrow: wider
    const int grow = int(std::lround(h * want)) - w;
    m.left = std::max(0, grow / 2);
    m.right = std::max(0, grow - grow / 2);
  } else {  // too wide (or right): taller
    const int grow = int(std::lround(w / want)) - h;
    m.top = std::max(0, grow / 2);
    m.bottom = std::max(0, grow - grow / 2);
  }
  return m;
}

Margins margins_for_aspect(int w, int h, const std::string &aspect) {
  int aw = 0, ah = 0;
  char tail = 0;
  if (std::sscanf(aspect.c_str(), "%d:%d%c", &aw, &ah, &tail) != 2)
    throw Error(ErrorCode::InvalidInput, _("Give the aspect ratio as W:H, for example 16:9."));
  return margins_for_aspect(w, h, aw, ah);
}

std::string expand_prompt(const std::string &prompt, bool model_takes_mask) {
  std::string text =
      "Extend this picture beyond its edges: paint the new area so that the scene continues naturally, "
      "matching the perspective, light, colours, grain and style of the original, with no visible border.";
  if (!model_takes_mask)
    text += std::string(" The new area is the ") + kExpandFillName +
            " around the original picture: replace all of it, and leave the original picture as it is.";
  if (!prompt.empty()) text += " In the new area: " + prompt;
  return text;
}

namespace {

// The grown canvas, where the old picture lies in it, the new area's bounds and the plan, checked:
// before anything is read or sent.
struct Grown {
  int canvas_w = 0, canvas_h = 0;
  Rect old, new_area;
  Plan plan;
};

Grown grow(const PreparedJob &job, const ExpandInput &input, int w, int h) {
  const Margins &m = input.margins;
  if (m.left < 0 || m.right < 0 || m.top < 0 || m.bottom < 0)
    throw Error(ErrorCode::InvalidInput, _("Margins to expand by cannot be negative."));
  if (m.empty()) throw Error(ErrorCode::InvalidInput, _("Give at least one margin to expand the canvas by."));
  const double grown_w = double(w) + m.left + m.right, grown_h = double(h) + m.top + m.bottom;
  if (grown_w * grown_h > kMaxCanvasPixels || grown_w > 524288 || grown_h > 524288)
    throw Error(ErrorCode::InvalidInput, format(_("The grown canvas would be %.0f x %.0f pixels: too large."), grown_w,
                                                grown_h));
  Grown out;
  out.canvas_w = int(grown_w);
  out.canvas_h = int(grown_h);
  out.old = Rect{m.left, m.top, w, h};
  // The new area's bounding box: the margins' strips together.
  Rect &new_area = out.new_area;
  auto add = [&new_area](Rect r) {
    if (r.empty()) return;
    if (new_area.empty()) {
      new_area = r;
      return;
    }
    const int x0 = std::min(new_area.x, r.x), y0 = std::min(new_area.y, r.y);
    const int x1 = std::max(new_area.right(), r.right()), y1 = std::max(new_area.bottom(), r.bottom());
    new_area = Rect{x0, y0, x1 - x0, y1 - y0};
  };
  add(Rect{0, 0, m.left, out.canvas_h});
  add(Rect{out.old.right(), 0, m.right, out.canvas_h});
  add(Rect{0, 0, out.canvas_w, m.top});
  add(Rect{0, out.old.bottom(), out.canvas_w, m.bottom});

  // A canvas too long and thin for any of the model's shapes would be sent mostly as padding:
  // refused (not split into tiles) before anything is read or sent.
  out.plan = plan_region(out.canvas_w, out.canvas_h, new_area, job.model,
                         PlanOptions{input.context, 32, job.settings.image_size});
  if (out.plan.content.w * 2 < out.plan.canvas_w || out.plan.content.h * 2 < out.plan.canvas_h)
    throw Error(ErrorCode::InvalidInput,
                format(_("The new area is too long and thin for %s to paint in one go. Expand in steps (one side "
                         "at a time, or by less), or choose a model that takes wider shapes."),
                       job.model.display_name.c_str()));
  return out;
}

// The job as an expansion sends it: genfill's instruction around the prompt.
PreparedJob expansion_job(const PreparedJob &job) {
  PreparedJob asked = job;
  asked.settings.prompt = expand_prompt(job.settings.prompt, job.can.mask);
  if (asked.settings.operation.empty()) asked.settings.operation = "expand";
  return asked;
}

}  // namespace

Cost estimate_expand(const PreparedJob &job, const ExpandInput &input, int width, int height) {
  const Grown g = grow(job, input, width, height);
  EditInput edit;
  edit.references = input.references;
  edit.context = input.context;
  return estimate_edit(expansion_job(job), edit, g.canvas_w, g.canvas_h, g.new_area);
}

ExpandResult run_expand(const PreparedJob &job, const ExpandInput &input, RegionSource &picture,
                        GCancellable *cancel, const ProgressSink &progress) {
  const Margins &m = input.margins;
  const Grown g = grow(job, input, picture.width(), picture.height());
  ExpandResult out;
  out.canvas_w = g.canvas_w;
  out.canvas_h = g.canvas_h;
  out.old = g.old;
  const Rect &new_area = g.new_area;

  const PreparedJob asked = expansion_job(job);
  EditInput edit;
  edit.references = input.references;
  edit.context = input.context;
  GrownSource grown(picture, out.old, out.canvas_w, out.canvas_h, new_area);
  static_cast<EditResult &>(out) = run_edit(asked, edit, grown, cancel, progress);
  out.margins = m;
  out.feather_px = std::max(0.0, input.feather_px);
  const int rw = out.images.empty() ? out.plan.region.w : out.images.front().width;
  const int rh = out.images.empty() ? out.plan.region.h : out.images.front().height;
  out.layer_mask = expand_layer_mask(out, rw, rh);
  return out;
}

Mask expand_layer_mask(const ExpandResult &r, int width, int height) {
  return layer_mask(r.plan.region, width, height, r.old, r.margins, r.feather_px);
}

Image composite_expand(const Image &original, const ExpandResult &result, size_t index) {
  Image out(result.canvas_w, result.canvas_h);  // transparent
  for (int y = 0; y < original.height; ++y)
    std::memcpy(out.at(result.old.x, result.old.y + y), original.at(0, y), size_t(original.width) * 4);
  composite(out, result.images.at(index), result.layer_mask, result.plan.region);
  return out;
}

}  // namespace genfill
