// Pixel operations: crop, resampling, feathering, compositing.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <thread>

#include <glib.h>

#include "core/util/i18n.hpp"
#include "core/image/image.hpp"
#include "core/util/error.hpp"

namespace genfill {

namespace {

void check_inside(int w, int h, Rect r) {
  if (r.empty() || r.x < 0 || r.y < 0 || r.right() > w || r.bottom() > h)
    throw Error(ErrorCode::InvalidInput, _("Internal error: a region lies outside the picture."),
                "rect " + std::to_string(r.x) + "," + std::to_string(r.y) + " " + std::to_string(r.w) + "x" +
                    std::to_string(r.h) + " in " + std::to_string(w) + "x" + std::to_string(h));
}

inline uint8_t to_u8(float v) { return uint8_t(std::clamp(v + 0.5f, 0.f, 255.f)); }

// Runs fn(begin, end) over [0, n), split across the cores this process may use; small jobs
// (work = n * work_per_item below about a million operations) stay on the calling thread.
// fn must not throw.
template <typename Fn>
void parallel_for(int n, size_t work_per_item, Fn &&fn) {
  const int cores = std::clamp(int(g_get_num_processors()), 1, 8);
  const int parts = std::min(cores, n);
  if (parts <= 1 || size_t(n) * work_per_item < (size_t(1) << 20)) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> threads;
  const int chunk = (n + parts - 1) / parts;
  for (int begin = chunk; begin < n; begin += chunk)
    threads.emplace_back([&fn, begin, end = std::min(n, begin + chunk)] { fn(begin, end); });
  fn(0, std::min(n, chunk));
  for (std::thread &t : threads) t.join();
}

// ---------------------------------------------------------------------------------------------
// Resampling.
//
// One kernel for both directions: the Catmull-Rom cubic (B = 0, C = 0.5), which interpolates
// (a picture scaled to its own size is unchanged) and rings less than Lanczos-3. On downscale
// the kernel is stretched by the scale factor, so every source pixel contributes with a smooth
// weight: an averaging filter over about 4 source pixels per output pixel along each axis,
// which keeps the mean and does not alias. Samples outside the picture repeat the edge.
//
// The work is streamed: each output row needs a few horizontally filtered source rows, kept
// in a small ring, so memory stays at a few rows whatever the picture size. Colour is
// premultiplied by alpha while filtering, so transparent pixels carry no colour.
//
// Measured on one core (x86-64, -O2): 6000x4000 -> 1024x683 in 0.12 s, 1920x1080 -> 4000x3000
// in 0.15 s; memory beyond the output is a few rows.
// ---------------------------------------------------------------------------------------------

float catmull_rom(double x) {
  x = std::fabs(x);
  if (x < 1.0) return float((1.5 * x - 2.5) * x * x + 1.0);
  if (x < 2.0) return float(((-0.5 * x + 2.5) * x - 4.0) * x + 2.0);
  return 0.f;
}

// For output sample i: source samples start[i] .. start[i] + count[i] - 1 with weights
// weights[i * stride + k] (summing to 1). start and start + count never decrease with i.
struct Taps {
  std::vector<int> start, count;
  std::vector<float> weights;
  int stride = 1;
  bool identity = false;
};

Taps make_taps(int in, int out) {
  Taps t;
  t.start.resize(size_t(out));
  t.count.resize(size_t(out));
  if (in == out) {
    t.identity = true;
    t.weights.assign(size_t(out), 1.f);
    for (int i = 0; i < out; ++i) t.start[size_t(i)] = i, t.count[size_t(i)] = 1;
    return t;
  }
  const double scale = double(out) / in;
  const double stretch = scale < 1.0 ? 1.0 / scale : 1.0;  // kernel width in source pixels / 2
  const double support = 2.0 * stretch;
  t.stride = int(std::ceil(2.0 * support)) + 2;
  t.weights.assign(size_t(out) * size_t(t.stride), 0.f);
  std::vector<double> w(size_t(t.stride));
  for (int i = 0; i < out; ++i) {
    // Sample centres: source pixel j sits at j + 0.5, output pixel i at (i + 0.5) / scale.
    const double center = (i + 0.5) / scale;
    const int j0 = int(std::floor(center - support - 0.5)) + 1;
    const int j1 = int(std::ceil(center + support - 0.5)) - 1;
    const int lo = std::clamp(j0, 0, in - 1), hi = std::clamp(j1, 0, in - 1);
    std::fill(w.begin(), w.end(), 0.0);
    double sum = 0;
    for (int j = j0; j <= j1; ++j) {
      const double v = catmull_rom((j + 0.5 - center) / stretch);
      w[size_t(std::clamp(j, 0, in - 1) - lo)] += v;  // outside: the edge pixel again
      sum += v;
    }
    float *dst = &t.weights[size_t(i) * size_t(t.stride)];
    if (std::fabs(sum) < 1e-9) {  // cannot happen with this kernel; nearest neighbour if it did
      t.start[size_t(i)] = std::clamp(int(center), 0, in - 1);
      t.count[size_t(i)] = 1;
      dst[0] = 1.f;
      continue;
    }
    t.start[size_t(i)] = lo;
    t.count[size_t(i)] = hi - lo + 1;
    for (int k = 0; k <= hi - lo; ++k) dst[k] = float(w[size_t(k)] / sum);
  }
  return t;
}

// Filters one row of C-channel samples horizontally.
template <int C>
void filter_row(const float *in, float *out, int out_w, const Taps &t) {
  const float *weights = t.weights.data();  // plain pointers: no per-pixel checks in checked builds
  const int *start = t.start.data(), *count = t.count.data();
  for (int x = 0; x < out_w; ++x) {
    const float *wt = weights + size_t(x) * size_t(t.stride);
    const float *p = in + size_t(start[x]) * C;
    float acc[C] = {};
    const int n = count[x];
    for (int k = 0; k < n; ++k, p += C)
      for (int c = 0; c < C; ++c) acc[c] += wt[k] * p[c];
    for (int c = 0; c < C; ++c) out[size_t(x) * C + size_t(c)] = acc[c];
  }
}

// Separable resampling of C interleaved channels from w x h to ow x oh.
// load(y, row): source row y as w * C floats. store(y, row): output row y, ow * C floats.
// Only output rows [first, last) are made (a strip of a larger result); store(y, ...) gets y
// relative to `first`.
template <int C, typename Load, typename Store>
void resample(int w, int h, int ow, int oh, Load &&load, Store &&store, int first = 0, int last = -1) {
  if (last < 0) last = oh;
  const Taps tx = make_taps(w, ow), ty = make_taps(h, oh);
  const size_t out_len = size_t(ow) * C;
  const size_t work = out_len * size_t(ty.stride) + size_t(w) * C * size_t(std::max(1, h / oh));
  parallel_for(last - first, work, [&](int r0, int r1) {
    const int y0 = first + r0, y1 = first + r1;
    std::vector<float> src(size_t(w) * C), ring(size_t(ty.stride) * out_len), acc(out_len);
    std::vector<int> held(size_t(ty.stride), -1);  // which source row each ring slot holds
    for (int y = y0; y < y1; ++y) {
      std::fill(acc.begin(), acc.end(), 0.f);
      const float *wt = &ty.weights[size_t(y) * size_t(ty.stride)];
      for (int k = 0; k < ty.count[size_t(y)]; ++k) {
        const int j = ty.start[size_t(y)] + k;
        const size_t slot = size_t(j % ty.stride);
        float *row = &ring[slot * out_len];
        if (held[slot] != j) {
          if (tx.identity) {
            load(j, row);
          } else {
            load(j, src.data());
            filter_row<C>(src.data(), row, ow, tx);
          }
          held[slot] = j;
        }
        const float f = wt[k];
        float *a = acc.data();
        for (size_t i = 0; i < out_len; ++i) a[i] += f * row[i];
      }
      store(y - first, acc.data());
    }
  });
}

}  // namespace

Image crop(const Image &img, Rect r) {
  check_inside(img.width, img.height, r);
  Image out(r.w, r.h);
  for (int y = 0; y < r.h; ++y) std::memcpy(out.at(0, y), img.at(r.x, r.y + y), size_t(r.w) * 4);
  return out;
}

Mask crop(const Mask &mask, Rect r) {
  check_inside(mask.width, mask.height, r);
  Mask out(r.w, r.h);
  for (int y = 0; y < r.h; ++y)
    std::memcpy(&out.values[size_t(y) * size_t(r.w)],
                &mask.values[size_t(r.y + y) * size_t(mask.width) + size_t(r.x)], size_t(r.w));
  return out;
}

Image scale(const Image &img, int width, int height) { return scale_rows(img, width, height, 0, height); }

Image scale_rows(const Image &img, int width, int height, int first, int last) {
  return scale_band(img, 0, img.height, width, height, first, last);
}

std::pair<int, int> scale_source_rows(int src_h, int height, int first, int last) {
  if (src_h <= 0 || height <= 0 || first < 0 || last > height || first >= last)
    throw Error(ErrorCode::InvalidInput, _("Internal error: cannot scale an empty picture."));
  const Taps ty = make_taps(src_h, height);
  const size_t a = size_t(first), b = size_t(last - 1);
  return {ty.start[a], ty.start[b] + ty.count[b]};
}

Image scale_band(const Image &band, int band_y, int src_h, int width, int height, int first, int last) {
  const int src_w = band.width;
  if (band.empty() || width <= 0 || height <= 0 || band.pixels.size() != size_t(band.width) * size_t(band.height) * 4 ||
      first < 0 || last > height || first >= last)
    throw Error(ErrorCode::InvalidInput, _("Internal error: cannot scale an empty picture."));
  const auto [need0, need1] = scale_source_rows(src_h, height, first, last);
  if (band_y > need0 || band_y + band.height < need1)
    throw Error(ErrorCode::InvalidInput, _("Internal error: a region lies outside the picture."));
  if (width == src_w && height == src_h) return crop(band, Rect{0, first - band_y, width, last - first});
  Image out(width, last - first);
  constexpr float kInv255 = 1.f / 255.f;
  resample<4>(
      src_w, src_h, width, height,
      [&](int y, float *row) {  // premultiplied
        const uint8_t *p = band.at(0, y - band_y);
        for (int x = 0; x < src_w; ++x, p += 4, row += 4) {
          const float a = p[3], f = a * kInv255;
          row[0] = p[0] * f;
          row[1] = p[1] * f;
          row[2] = p[2] * f;
          row[3] = a;
        }
      },
      [&](int y, const float *row) {
        uint8_t *p = out.at(0, y);
        for (int x = 0; x < width; ++x, p += 4, row += 4) {
          const float a = std::clamp(row[3], 0.f, 255.f);
          p[3] = to_u8(a);
          if (p[3] == 0) {  // fully transparent: no colour
            p[0] = p[1] = p[2] = 0;
            continue;
          }
          const float inv = 255.f / a;
          p[0] = to_u8(row[0] * inv);
          p[1] = to_u8(row[1] * inv);
          p[2] = to_u8(row[2] * inv);
        }
      },
      first, last);
  return out;
}

Mask scale(const Mask &mask, int width, int height) {
  if (mask.empty() || width <= 0 || height <= 0 || mask.values.size() != size_t(mask.width) * size_t(mask.height))
    throw Error(ErrorCode::InvalidInput, _("Internal error: cannot scale an empty mask."));
  if (width == mask.width && height == mask.height) return mask;
  return scale_band(mask, 0, mask.height, width, height, 0, height);
}

Mask scale_band(const Mask &band, int band_y, int src_h, int width, int height, int first, int last) {
  const int src_w = band.width;
  if (band.empty() || width <= 0 || height <= 0 || band.values.size() != size_t(band.width) * size_t(band.height) ||
      first < 0 || last > height || first >= last)
    throw Error(ErrorCode::InvalidInput, _("Internal error: cannot scale an empty mask."));
  const auto [need0, need1] = scale_source_rows(src_h, height, first, last);
  if (band_y > need0 || band_y + band.height < need1)
    throw Error(ErrorCode::InvalidInput, _("Internal error: a region lies outside the picture."));
  if (width == src_w && height == src_h) return crop(band, Rect{0, first - band_y, width, last - first});
  Mask out(width, last - first);
  resample<1>(
      src_w, src_h, width, height,
      [&](int y, float *row) {
        const uint8_t *p = &band.values[size_t(y - band_y) * size_t(src_w)];
        for (int x = 0; x < src_w; ++x) row[x] = p[x];
      },
      [&](int y, const float *row) {
        uint8_t *p = &out.values[size_t(y) * size_t(width)];
        for (int x = 0; x < width; ++x) p[x] = to_u8(row[x]);
      },
      first, last);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Feathering: a Gaussian of sigma = radius / 2 as three passes of an extended box filter per
// axis (Gwosdek et al., "Theoretical foundations of Gaussian convolution by extended box
// filtering", 2011). A box of 2r + 1 ones plus a fractional weight alpha at both ends has
// exactly the variance asked for, so the three passes together have exactly sigma^2 at any
// radius (plain boxes only reach a few widths), and each pass costs O(1) per pixel via a
// running sum. Three passes give a piecewise quadratic kernel close to the Gaussian.
// Outside the mask the edge value repeats.
// Measured on one core: a 6000x4000 mask in 0.4 s, whatever the radius.
// ---------------------------------------------------------------------------------------------

namespace {

struct BoxPass {
  int r = 0;          // half-width of the run of ones
  double alpha = 0;   // weight of the two end taps at distance r + 1
  double norm = 1;    // 2r + 1 + 2 alpha
};

BoxPass box_for_variance(double v) {
  BoxPass p;
  p.r = std::max(0, int(std::floor(0.5 * std::sqrt(12.0 * v + 1.0) - 0.5)));
  const double r = p.r;
  // Variance of the extended box: ((2r+1) r(r+1)/3 + 2 alpha (r+1)^2) / (2r+1+2 alpha) = v.
  p.alpha = (2 * r + 1) * (r * (r + 1) / 3.0 - v) / (2.0 * (v - (r + 1) * (r + 1)));
  p.alpha = std::clamp(p.alpha, 0.0, 1.0);
  p.norm = 2 * r + 1 + 2 * p.alpha;
  return p;
}

// The three passes along one line of n samples, in place; pad is scratch of n + 2 * (r + 1).
void blur_line(float *line, int n, const std::array<BoxPass, 3> &passes, std::vector<double> &pad) {
  for (const BoxPass &p : passes) {
    const int e = p.r + 1;
    pad.resize(size_t(n) + 2 * size_t(e));
    for (int i = 0; i < e; ++i) {
      pad[size_t(i)] = line[0];
      pad[size_t(n + e + i)] = line[n - 1];
    }
    for (int i = 0; i < n; ++i) pad[size_t(e + i)] = line[i];
    const double *q = pad.data() + e;  // q[-e .. n - 1 + e]
    double sum = 0;
    for (int i = -p.r; i <= p.r; ++i) sum += q[i];
    const double inv = 1.0 / p.norm;
    for (int i = 0; i < n; ++i) {
      line[i] = float((sum + p.alpha * (q[i - e] + q[i + e])) * inv);
      sum += q[i + e] - q[i - p.r];
    }
  }
}

}  // namespace

Mask feather(const Mask &mask, double radius) {
  if (!(radius > 0) || mask.empty()) return mask;
  const int w = mask.width, h = mask.height;
  if (std::all_of(mask.values.begin(), mask.values.end(), [&](uint8_t v) { return v == mask.values[0]; }))
    return mask;  // nothing to soften
  const double sigma = radius / 2.0;
  const BoxPass pass = box_for_variance(sigma * sigma / 3.0);
  const std::array<BoxPass, 3> passes{pass, pass, pass};

  // Rows into a float buffer, then strips of columns from it into the result.
  std::vector<float> rows(size_t(w) * size_t(h));
  parallel_for(h, size_t(w) * 12, [&](int y0, int y1) {
    std::vector<double> pad;
    for (int y = y0; y < y1; ++y) {
      float *line = &rows[size_t(y) * size_t(w)];
      const uint8_t *src = &mask.values[size_t(y) * size_t(w)];
      for (int x = 0; x < w; ++x) line[x] = src[x];
      blur_line(line, w, passes, pad);
    }
  });
  Mask out(w, h);
  constexpr int kStrip = 32;
  const int strips = (w + kStrip - 1) / kStrip;
  parallel_for(strips, size_t(h) * kStrip * 12, [&](int s0, int s1) {
    std::vector<float> col(size_t(h) * kStrip);
    std::vector<double> pad;
    for (int s = s0; s < s1; ++s) {
      const int x0 = s * kStrip, n = std::min(kStrip, w - x0);
      // Transpose the strip so each column is contiguous.
      for (int y = 0; y < h; ++y)
        for (int i = 0; i < n; ++i) col[size_t(i) * size_t(h) + size_t(y)] = rows[size_t(y) * size_t(w) + size_t(x0 + i)];
      for (int i = 0; i < n; ++i) blur_line(&col[size_t(i) * size_t(h)], h, passes, pad);
      for (int y = 0; y < h; ++y)
        for (int i = 0; i < n; ++i) out.values[size_t(y) * size_t(w) + size_t(x0 + i)] = to_u8(col[size_t(i) * size_t(h) + size_t(y)]);
    }
  });
  return out;
}

Mask feather_inside(const Mask &mask, double radius) {
  if (!(radius > 0) || mask.empty()) return mask;
  Mask soft = feather(mask, radius);
  for (size_t i = 0; i < soft.values.size(); ++i)
    soft.values[i] = uint8_t((unsigned(mask.values[i]) * soft.values[i] + 127) / 255);
  return soft;
}

Rect mask_bounds(const Mask &mask) {
  int x0 = mask.width, y0 = -1, x1 = -1, y1 = -1;
  for (int y = 0; y < mask.height; ++y) {
    const uint8_t *row = &mask.values[size_t(y) * size_t(mask.width)];
    int first = 0;
    while (first < mask.width && !row[first]) ++first;
    if (first == mask.width) continue;
    int last = mask.width - 1;
    while (!row[last]) --last;
    x0 = std::min(x0, first);
    x1 = std::max(x1, last);
    if (y0 < 0) y0 = y;
    y1 = y;
  }
  if (y0 < 0) return Rect{};
  return Rect{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

void composite(Image &dst, const Image &src, const Mask &mask, Rect region) {
  check_inside(dst.width, dst.height, region);
  if (src.width != region.w || src.height != region.h || mask.width != region.w || mask.height != region.h ||
      src.pixels.size() != size_t(region.w) * size_t(region.h) * 4 ||
      mask.values.size() != size_t(region.w) * size_t(region.h))
    throw Error(ErrorCode::InvalidInput, _("Internal error: the result does not fit its region."));
  for (int y = 0; y < region.h; ++y) {
    uint8_t *d = dst.at(region.x, region.y + y);
    const uint8_t *s = src.at(0, y);
    const uint8_t *m = &mask.values[size_t(y) * size_t(region.w)];
    for (int x = 0; x < region.w; ++x, d += 4, s += 4) {
      const int a = m[x];
      if (a == 0) continue;
      if (a == 255) {
        std::memcpy(d, s, 4);
        continue;
      }
      // d + (s - d) * a / 255, rounded to nearest: (255 d + (s - d) a + 127) / 255, never negative.
      for (int c = 0; c < 4; ++c) d[c] = uint8_t((d[c] * 255 + (s[c] - d[c]) * a + 127) / 255);
    }
  }
}

}  // namespace genfill
