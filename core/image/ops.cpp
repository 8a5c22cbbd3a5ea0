// Pixel operations: crop, resampling, feathering, compositing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

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

// Runs fn(begin, end) over [0, n) split across the machine's cores (small jobs stay on one).
template <typename Fn>
void parallel_rows(int n, size_t work_per_row, Fn &&fn) {
  unsigned cores = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  if (cores == 1 || size_t(n) * work_per_row < (size_t(1) << 18)) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> threads;
  int chunk = (n + int(cores) - 1) / int(cores);
  for (int begin = chunk; begin < n; begin += chunk)
    threads.emplace_back([&fn, begin, end = std::min(n, begin + chunk)] { fn(begin, end); });
  fn(0, std::min(n, chunk));
  for (std::thread &t : threads) t.join();
}


// Catmull-Rom cubic (B=0, C=0.5): sharp without Lanczos' ringing.
float cubic(float x) {
  x = std::fabs(x);
  if (x < 1.f) return 1.5f * x * x * x - 2.5f * x * x + 1.f;
  if (x < 2.f) return -0.5f * x * x * x + 2.5f * x * x - 4.f * x + 2.f;
  return 0.f;
}

// For each output sample: the first input index and normalised weights. On downscale the
// kernel is widened by the scale factor so every input pixel contributes (no aliasing).
struct Taps {
  std::vector<int> start;
  std::vector<int> count;
  std::vector<float> weights;  // count[i] weights for output i, packed; max_taps stride
  int stride = 0;
};

Taps make_taps(int in, int out) {
  Taps t;
  const double scale = double(out) / in;
  const double support = scale < 1.0 ? 2.0 / scale : 2.0;
  const double fscale = scale < 1.0 ? scale : 1.0;
  t.stride = int(std::ceil(support)) * 2 + 1;
  t.start.resize(size_t(out));
  t.count.resize(size_t(out));
  t.weights.assign(size_t(out) * size_t(t.stride), 0.f);
  for (int i = 0; i < out; ++i) {
    const double center = (i + 0.5) / scale;
    int lo = std::max(0, int(std::floor(center - support)));
    int hi = std::min(in - 1, int(std::ceil(center + support)));
    if (hi - lo + 1 > t.stride) hi = lo + t.stride - 1;
    float *w = &t.weights[size_t(i) * size_t(t.stride)];
    double sum = 0;
    for (int j = lo; j <= hi; ++j) {
      double v = cubic(float((j + 0.5 - center) * fscale));
      w[j - lo] = float(v);
      sum += v;
    }
    if (sum == 0) {  // degenerate: nearest
      std::fill(w, w + t.stride, 0.f);
      lo = std::clamp(int(center), 0, in - 1);
      hi = lo;
      w[0] = 1.f;
      sum = 1;
    }
    for (int j = 0; j <= hi - lo; ++j) w[j] = float(w[j] / sum);
    t.start[size_t(i)] = lo;
    t.count[size_t(i)] = hi - lo + 1;
  }
  return t;
}

// Separable resampling of C interleaved float channels.
template <int C>
std::vector<float> resample(const std::vector<float> &src, int w, int h, int ow, int oh) {
  std::vector<float> mid(size_t(ow) * size_t(h) * C);
  if (ow == w) {
    mid = src;
  } else {
    Taps tx = make_taps(w, ow);
    parallel_rows(h, size_t(ow) * size_t(tx.stride) * C, [&](int y0, int y1) {
      for (int y = y0; y < y1; ++y) {
        const float *row = &src[size_t(y) * size_t(w) * C];
        float *orow = &mid[size_t(y) * size_t(ow) * C];
        for (int x = 0; x < ow; ++x) {
          const float *wt = &tx.weights[size_t(x) * size_t(tx.stride)];
          const float *p = row + size_t(tx.start[size_t(x)]) * C;
          float acc[C] = {};
          for (int k = 0; k < tx.count[size_t(x)]; ++k, p += C)
            for (int c = 0; c < C; ++c) acc[c] += wt[k] * p[c];
          for (int c = 0; c < C; ++c) orow[size_t(x) * C + size_t(c)] = acc[c];
        }
      }
    });
  }
  if (oh == h) return mid;
  std::vector<float> out(size_t(ow) * size_t(oh) * C);
  Taps ty = make_taps(h, oh);
  const size_t rowlen = size_t(ow) * C;
  parallel_rows(oh, rowlen * size_t(ty.stride), [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      float *orow = &out[size_t(y) * rowlen];
      const float *wt = &ty.weights[size_t(y) * size_t(ty.stride)];
      for (int k = 0; k < ty.count[size_t(y)]; ++k) {
        const float *irow = &mid[size_t(ty.start[size_t(y)] + k) * rowlen];
        const float f = wt[k];
        for (size_t i = 0; i < rowlen; ++i) orow[i] += f * irow[i];
      }
    }
  });
  return out;
}

}  // namespace

Image crop(const Image &img, Rect r) {
  check_inside(img.width, img.height, r);
  Image out(r.w, r.h);
  for (int y = 0; y < r.h; ++y)
    std::memcpy(out.at(0, y), img.at(r.x, r.y + y), size_t(r.w) * 4);
  return out;
}

Mask crop(const Mask &mask, Rect r) {
  check_inside(mask.width, mask.height, r);
  Mask out(r.w, r.h);
  for (int y = 0; y < r.h; ++y)
    std::memcpy(&out.values[size_t(y) * size_t(r.w)], &mask.values[size_t(r.y + y) * size_t(mask.width) + size_t(r.x)], size_t(r.w));
  return out;
}

Image scale(const Image &img, int width, int height) {
  if (img.empty() || width <= 0 || height <= 0)
    throw Error(ErrorCode::InvalidInput, _("Internal error: cannot scale an empty picture."));
  if (width == img.width && height == img.height) return img;
  // Premultiply so transparent pixels carry no colour into their neighbours.
  std::vector<float> src(img.pixels.size());
  for (size_t i = 0; i < img.pixels.size(); i += 4) {
    float a = img.pixels[i + 3] / 255.f;
    src[i] = img.pixels[i] * a;
    src[i + 1] = img.pixels[i + 1] * a;
    src[i + 2] = img.pixels[i + 2] * a;
    src[i + 3] = img.pixels[i + 3];
  }
  std::vector<float> dst = resample<4>(src, img.width, img.height, width, height);
  Image out(width, height);
  for (size_t i = 0; i < out.pixels.size(); i += 4) {
    float a = std::clamp(dst[i + 3], 0.f, 255.f);
    out.pixels[i + 3] = to_u8(a);
    if (a < 0.5f) continue;  // fully transparent: colour undefined, keep black
    float inv = 255.f / a;
    out.pixels[i] = to_u8(dst[i] * inv);
    out.pixels[i + 1] = to_u8(dst[i + 1] * inv);
    out.pixels[i + 2] = to_u8(dst[i + 2] * inv);
  }
  return out;
}

Mask scale(const Mask &mask, int width, int height) {
  if (mask.empty() || width <= 0 || height <= 0)
    throw Error(ErrorCode::InvalidInput, _("Internal error: cannot scale an empty mask."));
  if (width == mask.width && height == mask.height) return mask;
  std::vector<float> src(mask.values.begin(), mask.values.end());
  std::vector<float> dst = resample<1>(src, mask.width, mask.height, width, height);
  Mask out(width, height);
  for (size_t i = 0; i < dst.size(); ++i) out.values[i] = to_u8(dst[i]);
  return out;
}

namespace {

// One box blur of half-width r along rows (stride 1) or columns (stride w), edges repeated.
void box_pass(const std::vector<float> &in, std::vector<float> &out, int w, int h, int r, bool rows) {
  const int len = rows ? w : h, lines = rows ? h : w;
  const size_t step = rows ? 1 : size_t(w);
  const float inv = 1.f / float(2 * r + 1);
  parallel_rows(lines, size_t(len), [&](int l0, int l1) {
    for (int l = l0; l < l1; ++l) {
      const size_t base = rows ? size_t(l) * size_t(w) : size_t(l);
      auto at = [&](int i) { return in[base + size_t(std::clamp(i, 0, len - 1)) * step]; };
      float sum = 0;
      for (int i = -r; i <= r; ++i) sum += at(i);
      for (int i = 0; i < len; ++i) {
        out[base + size_t(i) * step] = sum * inv;
        sum += at(i + r + 1) - at(i - r);
      }
    }
  });
}

}  // namespace

// A Gaussian of sigma = radius / 2 approximated by three box blurs (widths chosen so their
// combined variance matches), each O(1) per pixel whatever the radius.
Mask feather(const Mask &mask, double radius) {
  if (radius <= 0 || mask.empty()) return mask;
  const double sigma = radius / 2.0;
  const int n = 3;
  double wideal = std::sqrt(12.0 * sigma * sigma / n + 1);
  int wl = int(std::floor(wideal));
  if (wl % 2 == 0) --wl;
  const int wu = wl + 2;
  const int m = int(std::lround((12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4)));
  const int w = mask.width, h = mask.height;
  std::vector<float> a(mask.values.begin(), mask.values.end()), b(a.size());
  for (int i = 0; i < n; ++i) {
    int r = ((i < m ? wl : wu) - 1) / 2;
    if (r <= 0) continue;
    box_pass(a, b, w, h, r, true);
    box_pass(b, a, w, h, r, false);
  }
  Mask out(w, h);
  for (size_t i = 0; i < a.size(); ++i) out.values[i] = to_u8(a[i]);
  return out;
}

Mask feather_inside(const Mask &mask, double radius) {
  if (radius <= 0 || mask.empty()) return mask;
  Mask soft = feather(mask, radius);
  for (size_t i = 0; i < soft.values.size(); ++i)
    soft.values[i] = uint8_t((unsigned(mask.values[i]) * soft.values[i] + 127) / 255);
  return soft;
}

Rect mask_bounds(const Mask &mask) {
  int x0 = mask.width, y0 = mask.height, x1 = -1, y1 = -1;
  for (int y = 0; y < mask.height; ++y) {
    const uint8_t *row = &mask.values[size_t(y) * size_t(mask.width)];
    int first = -1, last = -1;
    for (int x = 0; x < mask.width; ++x)
      if (row[x]) {
        if (first < 0) first = x;
        last = x;
      }
    if (first < 0) continue;
    x0 = std::min(x0, first);
    x1 = std::max(x1, last);
    y0 = std::min(y0, y);
    y1 = y;
  }
  if (x1 < 0) return Rect{};
  return Rect{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

void composite(Image &dst, const Image &src, const Mask &mask, Rect region) {
  check_inside(dst.width, dst.height, region);
  if (src.width != region.w || src.height != region.h || mask.width != region.w || mask.height != region.h)
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
      for (int c = 0; c < 4; ++c) {
        int v = d[c] * 255 + (s[c] - d[c]) * a;
        d[c] = uint8_t((v + 127) / 255);
      }
    }
  }
}

}  // namespace genfill
