// Pixel operations: crop, resampling, feathering, compositing.
#include <algorithm>
#include <cmath>
#include <cstring>

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
    for (int y = 0; y < h; ++y) {
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
  }
  if (oh == h) return mid;
  std::vector<float> out(size_t(ow) * size_t(oh) * C);
  Taps ty = make_taps(h, oh);
  const size_t rowlen = size_t(ow) * C;
  for (int y = 0; y < oh; ++y) {
    float *orow = &out[size_t(y) * rowlen];
    const float *wt = &ty.weights[size_t(y) * size_t(ty.stride)];
    for (int k = 0; k < ty.count[size_t(y)]; ++k) {
      const float *irow = &mid[size_t(ty.start[size_t(y)] + k) * rowlen];
      const float f = wt[k];
      for (size_t i = 0; i < rowlen; ++i) orow[i] += f * irow[i];
    }
  }
  return out;
}

inline uint8_t to_u8(float v) { return uint8_t(std::clamp(v + 0.5f, 0.f, 255.f)); }

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

Mask feather(const Mask &mask, double radius) {
  if (radius <= 0 || mask.empty()) return mask;
  const double sigma = radius / 2.0;
  const int r = int(std::ceil(sigma * 3));
  std::vector<float> k(size_t(2 * r + 1));
  double sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[size_t(i + r)] = float(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (float &v : k) v = float(v / sum);

  const int w = mask.width, h = mask.height;
  std::vector<float> tmp(size_t(w) * size_t(h));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float acc = 0;
      for (int i = -r; i <= r; ++i) acc += k[size_t(i + r)] * mask.at(std::clamp(x + i, 0, w - 1), y);
      tmp[size_t(y) * size_t(w) + size_t(x)] = acc;
    }
  Mask out(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float acc = 0;
      for (int i = -r; i <= r; ++i) acc += k[size_t(i + r)] * tmp[size_t(std::clamp(y + i, 0, h - 1)) * size_t(w) + size_t(x)];
      out.at(x, y) = to_u8(acc);
    }
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
