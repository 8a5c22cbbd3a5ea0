// Colour matching: per-channel gain and offset, fitted by least squares on the kept context.
#include "core/seam/seam.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <vector>

#include "core/seam/parallel.hpp"

namespace genfill::seam {

using detail::split_in_two;
using detail::to_u8;

ColourFit estimate_colour(const Image &sent, const Image &answer, const Mask &keep) {
  ColourFit fit;
  // The kept pixels of every other row and column, gathered once as (answer, sent) bytes.
  std::vector<std::array<uint8_t, 6>> pairs;
  pairs.reserve(size_t(sent.width / 2 + 1) * size_t(sent.height / 2 + 1));
  for (int y = 0; y < sent.height; y += 2) {
    const uint8_t *k = &keep.values[size_t(y) * keep.width];
    for (int x = 0; x < sent.width; x += 2) {
      if (!k[x]) continue;
      const uint8_t *a = answer.at(x, y), *s = sent.at(x, y);
      pairs.push_back({a[0], a[1], a[2], s[0], s[1], s[2]});
    }
  }
  for (int c = 0; c < 3; ++c) {
    double g = 1, o = 0, limit = INFINITY;
    for (int pass = 0; pass < 2; ++pass) {
      // Sums of bytes and their products: exact in integers.
      uint64_t n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
      for (const auto &p : pairs) {
        const uint32_t a = p[size_t(c)], s = p[size_t(c) + 3];
        if (pass > 0 && std::abs(g * a + o - s) > limit) continue;
        n += 1;
        sx += a;
        sy += s;
        sxx += a * a;
        sxy += a * s;
        syy += s * s;
      }
      if (n < 200) return fit;
      const double N = double(n), mx = double(sx) / N, my = double(sy) / N, vx = double(sxx) / N - mx * mx,
                   cxy = double(sxy) / N - mx * my;
      g = vx > 4 ? std::clamp(cxy / vx, 0.5, 2.0) : 1.0;
      o = my - g * mx;
      double rms = std::sqrt(std::max(0.0, double(syy) / N - 2 * g * double(sxy) / N - 2 * o * my +
                                               g * g * double(sxx) / N + 2 * g * o * mx + o * o));
      limit = std::max(6.0, 2.5 * rms);
    }
    fit.gain[c] = g;
    fit.offset[c] = o;
  }
  fit.found = true;
  return fit;
}

void apply_colour(Image &img, const ColourFit &fit) {
  uint8_t lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut[c][v] = to_u8(fit.gain[c] * v + fit.offset[c]);
  const size_t row = size_t(img.width) * 4;
  split_in_two(img.height, size_t(img.width) * img.height > 100000, [&](int y0, int y1) {
    uint8_t *px = img.pixels.data() + size_t(y0) * row, *end = img.pixels.data() + size_t(y1) * row;
    for (; px < end; px += 4) {
      px[0] = lut[0][px[0]];
      px[1] = lut[1][px[1]];
      px[2] = lut[2][px[2]];
    }
  });
}

}  // namespace genfill::seam
