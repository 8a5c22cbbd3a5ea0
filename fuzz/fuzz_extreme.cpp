// libFuzzer target: answers of any size, extreme ones included (1 px, 1 x 4096, far larger or
// smaller than asked for, another aspect), through what an edit does with them: planning the
// region for a picture and selection of any shape, fitting the answer back to the region,
// seam correction (registration, colours, membrane blend) with and without a mask, and
// compositing into the picture with any feather.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/catalog/models.hpp"
#include "core/edit/job.hpp"
#include "core/image/image.hpp"
#include "core/plan/plan.hpp"
#include "core/seam/seam.hpp"
#include "core/util/error.hpp"

namespace {

struct Bytes {
  const uint8_t *p;
  size_t n, i = 0;
  unsigned u8() { return i < n ? p[i++] : 0; }
  unsigned u16() { return u8() << 8 | u8(); }
};

// Pixels from the input: its remaining bytes repeated (shifted by `salt`), so a short input
// still gives texture.
void fill(genfill::Image &img, const Bytes &b, size_t salt) {
  const uint8_t *src = b.p + b.i;
  const size_t n = b.n - b.i;
  if (n == 0) return;
  for (size_t k = 0; k < img.pixels.size();) {
    const size_t from = (k + salt) % n, len = std::min(n - from, img.pixels.size() - k);
    std::memcpy(img.pixels.data() + k, src + from, len);
    k += len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace genfill;
  static const ModelInfo *model = find_model("gemini", default_model_id("gemini"));
  if (!model || size < 16) return 0;
  Bytes b{data, size};
  const int W = 1 + int(b.u16() % 320), H = 1 + int(b.u16() % 320);
  Rect sel{int(b.u16() % W), int(b.u16() % H), 0, 0};
  sel.w = 1 + int(b.u16() % (W - sel.x));
  sel.h = 1 + int(b.u16() % (H - sel.y));
  // The answer: any size up to a quarter megapixel (a fuzzer needs many runs a second, and the
  // code takes no other path for larger ones), including a single row or column of 8192.
  int aw = 1 + int(b.u16() % 8192), ah = 1 + int(b.u16() % 8192);
  while (size_t(aw) * size_t(ah) > (size_t(1) << 18)) (aw > ah ? aw : ah) /= 2;
  const unsigned flags = b.u8();
  const double feather_px = double(b.u8() % 80);
  try {
    const Plan plan = plan_region(W, H, sel, *model);
    if (plan.region.empty() || plan.region.x < 0 || plan.region.y < 0 || plan.region.right() > W ||
        plan.region.bottom() > H)
      std::abort();  // the plan must lie inside the picture
    Image original(W, H);
    fill(original, b, 1);
    const Image region = crop(original, plan.region);
    std::optional<Mask> mask;
    if (flags & 1) {
      mask = Mask(plan.region.w, plan.region.h);
      for (int y = 0; y < mask->height; ++y)
        for (int x = 0; x < mask->width; ++x) {
          const int gx = plan.region.x + x, gy = plan.region.y + y;
          const bool in = gx >= sel.x && gx < sel.right() && gy >= sel.y && gy < sel.bottom();
          mask->at(x, y) = in ? ((flags & 2) ? uint8_t(255 - (x * y) % 97) : 255) : 0;
        }
    }
    Image answer(aw, ah);
    fill(answer, b, 2);
    Image result = from_canvas(answer, plan, plan.region.w, plan.region.h);
    if (result.width != plan.region.w || result.height != plan.region.h) std::abort();
    seam::Options opts;
    opts.register_answer = flags & 4;
    opts.match_colours = flags & 8;
    opts.blend_seam = flags & 16;
    seam::Report rep;
    result = seam::correct(region, result, mask ? &*mask : nullptr, opts, &rep);
    if (result.width != plan.region.w || result.height != plan.region.h) std::abort();
    const Image out = composite_result(original, result, plan, mask, feather_px);
    if (out.width != W || out.height != H) std::abort();
    // Outside the selection, with a mask, the picture stays exactly as it was.
    if (mask)
      for (int y = 0; y < H; y += std::max(1, H / 16))
        for (int x = 0; x < W; x += std::max(1, W / 16))
          if (!(x >= sel.x && x < sel.right() && y >= sel.y && y < sel.bottom()))
            for (int c = 0; c < 4; ++c)
              if (out.at(x, y)[c] != original.at(x, y)[c]) std::abort();
  } catch (const Error &) {
  }
  return 0;
}
