// Registration (FFTW phase correlation over a scale sweep, then Gauss-Newton on a pyramid),
// colour matching (per-channel least squares) and a membrane (Poisson) seam blend.
#include "core/seam/seam.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <mutex>
#include <vector>

#include <fftw3.h>

namespace genfill::seam {

namespace {

struct Plane {
  int w = 0, h = 0;
  std::vector<float> v;
  Plane() = default;
  Plane(int w_, int h_, float fill = 0) : w(w_), h(h_), v(size_t(w_) * h_, fill) {}
  float &at(int x, int y) { return v[size_t(y) * w + x]; }
  float at(int x, int y) const { return v[size_t(y) * w + x]; }
  float sample(double x, double y) const {  // bilinear, clamped
    x = std::clamp(x, 0.0, double(w - 1));
    y = std::clamp(y, 0.0, double(h - 1));
    int x0 = std::min(int(x), w - 2 < 0 ? 0 : w - 2), y0 = std::min(int(y), h - 2 < 0 ? 0 : h - 2);
    int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
    float fx = float(x - x0), fy = float(y - y0);
    float a = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
    float b = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
    return a + (b - a) * fy;
  }
};

Plane luma(const Image &img) {
  Plane p(img.width, img.height);
  for (size_t i = 0; i < p.v.size(); ++i) {
    const uint8_t *px = &img.pixels[i * 4];
    p.v[i] = 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
  }
  return p;
}

Plane half(const Plane &p, bool all_of) {
  Plane o(std::max(1, p.w / 2), std::max(1, p.h / 2));
  for (int y = 0; y < o.h; ++y)
    for (int x = 0; x < o.w; ++x) {
      int x0 = std::min(2 * x, p.w - 1), x1 = std::min(2 * x + 1, p.w - 1);
      int y0 = std::min(2 * y, p.h - 1), y1 = std::min(2 * y + 1, p.h - 1);
      float a = p.at(x0, y0), b = p.at(x1, y0), c = p.at(x0, y1), d = p.at(x1, y1);
      o.at(x, y) = all_of ? std::min({a, b, c, d}) : (a + b + c + d) * 0.25f;
    }
  return o;
}

struct Level {
  Plane s, a, ax, ay, k;
};

void gradients(Level &l) {
  const Plane &a = l.a;
  l.ax = Plane(a.w, a.h);
  l.ay = Plane(a.w, a.h);
  for (int y = 0; y < a.h; ++y)
    for (int x = 0; x < a.w; ++x) {
      l.ax.at(x, y) = 0.5f * (a.at(std::min(x + 1, a.w - 1), y) - a.at(std::max(x - 1, 0), y));
      l.ay.at(x, y) = 0.5f * (a.at(x, std::min(y + 1, a.h - 1)) - a.at(x, std::max(y - 1, 0)));
    }
}

// FFTW's planner is not thread-safe; plans are made under a lock (execution is).
std::mutex fftw_lock;

struct Peak {
  double x = 0, y = 0, strength = 0;
};

// Phase correlation of two planes weighted by k (Hann-windowed); returns the shift x such
// that a(q) ~= s(q + x).
Peak phase_correlate(const Plane &s, const Plane &a, const Plane &k) {
  const int w = s.w, h = s.h, cw = w / 2 + 1;
  std::vector<float> bs(size_t(w) * h), ba(size_t(w) * h);
  double ws = 0, ms = 0, ma = 0;
  for (size_t i = 0; i < bs.size(); ++i) {
    ws += k.v[i];
    ms += k.v[i] * s.v[i];
    ma += k.v[i] * a.v[i];
  }
  if (ws <= 0) return {};
  ms /= ws;
  ma /= ws;
  for (int y = 0; y < h; ++y) {
    // A Tukey window (only the outer 12 % tapered): the kept context often lies near the
    // region's border, which a full Hann window would erase.
    auto tukey = [](double t) {
      const double a = 0.12;
      double e = std::min(t, 1 - t);
      return e >= a ? 1.0 : 0.5 - 0.5 * std::cos(M_PI * e / a);
    };
    double wy = tukey((y + 0.5) / h);
    for (int x = 0; x < w; ++x) {
      double win = wy * tukey((x + 0.5) / w);
      size_t i = size_t(y) * w + x;
      // Only the sent side is masked: masking both would correlate the hole with itself.
      bs[i] = float((s.v[i] - ms) * win * k.at(x, y));
      ba[i] = float((a.v[i] - ma) * win);
    }
  }
  fftwf_complex *fs = fftwf_alloc_complex(size_t(cw) * h), *fa = fftwf_alloc_complex(size_t(cw) * h);
  std::vector<float> corr(size_t(w) * h);
  fftwf_plan p1, p2, p3;
  {
    std::lock_guard<std::mutex> g(fftw_lock);
    p1 = fftwf_plan_dft_r2c_2d(h, w, bs.data(), fs, FFTW_ESTIMATE);
    p2 = fftwf_plan_dft_r2c_2d(h, w, ba.data(), fa, FFTW_ESTIMATE);
    p3 = fftwf_plan_dft_c2r_2d(h, w, fs, corr.data(), FFTW_ESTIMATE);
  }
  fftwf_execute(p1);
  fftwf_execute(p2);
  for (size_t i = 0; i < size_t(cw) * h; ++i) {
    std::complex<float> c = std::complex<float>(fs[i][0], fs[i][1]) * std::conj(std::complex<float>(fa[i][0], fa[i][1]));
    float m = std::abs(c);
    c = m > 1e-6f ? c / m : std::complex<float>(0, 0);
    fs[i][0] = c.real();
    fs[i][1] = c.imag();
  }
  fftwf_execute(p3);
  {
    std::lock_guard<std::mutex> g(fftw_lock);
    fftwf_destroy_plan(p1);
    fftwf_destroy_plan(p2);
    fftwf_destroy_plan(p3);
  }
  fftwf_free(fs);
  fftwf_free(fa);
  size_t best = 0;
  for (size_t i = 1; i < corr.size(); ++i)
    if (corr[i] > corr[best]) best = i;
  int bx = int(best % w), by = int(best / w);
  auto v = [&](int x, int y) { return corr[size_t((y + h) % h) * w + (x + w) % w]; };
  auto sub = [](double l, double c, double r) {
    double d = l - 2 * c + r;
    return std::abs(d) > 1e-12 ? std::clamp(0.5 * (l - r) / d, -0.5, 0.5) : 0.0;
  };
  Peak p;
  p.x = bx + sub(v(bx - 1, by), v(bx, by), v(bx + 1, by));
  p.y = by + sub(v(bx, by - 1), v(bx, by), v(bx, by + 1));
  if (p.x > w / 2.0) p.x -= w;
  if (p.y > h / 2.0) p.y -= h;
  p.strength = corr[best] / double(size_t(w) * h);
  return p;
}

Plane scaled_about_centre(const Plane &a, double s) {
  Plane o(a.w, a.h);
  double cx = (a.w - 1) / 2.0, cy = (a.h - 1) / 2.0;
  for (int y = 0; y < a.h; ++y)
    for (int x = 0; x < a.w; ++x) o.at(x, y) = a.sample(cx + s * (x - cx), cy + s * (y - cy));
  return o;
}

struct Params {
  double tx = 0, ty = 0, s = 1, g = 1, b = 0;
};

bool solve5(double H[5][5], double r[5], double out[5]) {
  double M[5][6];
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) M[i][j] = H[i][j];
    M[i][5] = r[i];
  }
  for (int c = 0; c < 5; ++c) {
    int piv = c;
    for (int i = c + 1; i < 5; ++i)
      if (std::abs(M[i][c]) > std::abs(M[piv][c])) piv = i;
    if (std::abs(M[piv][c]) < 1e-12) return false;
    std::swap(M[c], M[piv]);
    for (int i = 0; i < 5; ++i) {
      if (i == c) continue;
      double f = M[i][c] / M[c][c];
      for (int j = c; j < 6; ++j) M[i][j] -= f * M[c][j];
    }
  }
  for (int i = 0; i < 5; ++i) out[i] = M[i][5] / M[i][i];
  return true;
}

constexpr double kSigma = 12.0;  // robust scale of the residual, in levels

// One Gauss-Newton step (or only the cost when step is false). Returns the robust cost per sample.
double gauss_newton(const Level &l, Params &p, int stride, bool step, double *texture = nullptr) {
  double H[5][5] = {}, gr[5] = {}, cost = 0, n = 0, tex = 0;
  const double cx = (l.s.w - 1) / 2.0, cy = (l.s.h - 1) / 2.0;
  for (int y = 0; y < l.s.h; y += stride)
    for (int x = 0; x < l.s.w; x += stride) {
      float k = l.k.at(x, y);
      if (k <= 0) continue;
      double X = cx + p.s * (x - cx) + p.tx, Y = cy + p.s * (y - cy) + p.ty;
      if (X < 0 || Y < 0 || X > l.s.w - 1 || Y > l.s.h - 1) continue;
      double A = l.a.sample(X, Y), Ax = l.ax.sample(X, Y), Ay = l.ay.sample(X, Y);
      double r = p.g * A + p.b - l.s.at(x, y);
      double u = r / kSigma, w = k / (1 + u * u);
      cost += k * std::log1p(u * u);
      n += k;
      tex += k * (Ax * Ax + Ay * Ay);
      if (!step) continue;
      double J[5] = {p.g * Ax, p.g * Ay, p.g * (Ax * (x - cx) + Ay * (y - cy)), A, 1};
      for (int i = 0; i < 5; ++i) {
        gr[i] += w * J[i] * r;
        for (int j = 0; j <= i; ++j) H[i][j] += w * J[i] * J[j];
      }
    }
  if (texture) *texture = n > 0 ? tex / n : 0;
  if (n <= 0) return INFINITY;
  if (step) {
    for (int i = 0; i < 5; ++i)
      for (int j = i + 1; j < 5; ++j) H[i][j] = H[j][i];
    for (int i = 0; i < 5; ++i) H[i][i] *= 1.0001;
    double d[5], neg[5];
    for (int i = 0; i < 5; ++i) neg[i] = -gr[i];
    if (solve5(H, neg, d)) {
      p.tx += std::clamp(d[0], -4.0, 4.0);
      p.ty += std::clamp(d[1], -4.0, 4.0);
      p.s += std::clamp(d[2], -0.05, 0.05);
      p.g += std::clamp(d[3], -0.3, 0.3);
      p.b += std::clamp(d[4], -40.0, 40.0);
    }
  }
  return cost / n;
}

uint8_t to_u8(double v) { return uint8_t(std::clamp(v + 0.5, 0.0, 255.0)); }

struct Tap {
  int i[4];
  float w[4];
};

std::vector<Tap> taps_for(int n, double t, double s) {
  std::vector<Tap> out(static_cast<size_t>(n));
  const double c = (n - 1) / 2.0;
  auto cr = [](double x) {
    x = std::abs(x);
    if (x < 1) return 1.5 * x * x * x - 2.5 * x * x + 1;
    if (x < 2) return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
    return 0.0;
  };
  for (int q = 0; q < n; ++q) {
    double X = std::clamp(c + s * (q - c) + t, 0.0, double(n - 1));
    int x0 = int(std::floor(X));
    double f = X - x0;
    for (int j = 0; j < 4; ++j) {
      out[size_t(q)].i[j] = std::clamp(x0 - 1 + j, 0, n - 1);
      out[size_t(q)].w[j] = float(cr(f - (j - 1)));
    }
  }
  return out;
}

}  // namespace

Image warp(const Image &answer, double dx, double dy, double scale) {
  const int w = answer.width, h = answer.height;
  auto tx = taps_for(w, dx, scale), ty = taps_for(h, dy, scale);
  std::vector<float> tmp(size_t(w) * h * 4);
  for (int y = 0; y < h; ++y) {
    const uint8_t *row = &answer.pixels[size_t(y) * w * 4];
    float *o = &tmp[size_t(y) * w * 4];
    for (int x = 0; x < w; ++x) {
      const Tap &t = tx[size_t(x)];
      for (int c = 0; c < 4; ++c)
        o[x * 4 + c] = t.w[0] * row[t.i[0] * 4 + c] + t.w[1] * row[t.i[1] * 4 + c] +
                       t.w[2] * row[t.i[2] * 4 + c] + t.w[3] * row[t.i[3] * 4 + c];
    }
  }
  Image out(w, h);
  for (int y = 0; y < h; ++y) {
    const Tap &t = ty[size_t(y)];
    const float *r0 = &tmp[size_t(t.i[0]) * w * 4], *r1 = &tmp[size_t(t.i[1]) * w * 4],
                *r2 = &tmp[size_t(t.i[2]) * w * 4], *r3 = &tmp[size_t(t.i[3]) * w * 4];
    uint8_t *o = out.at(0, y);
    for (int i = 0; i < w * 4; ++i) o[i] = to_u8(t.w[0] * r0[i] + t.w[1] * r1[i] + t.w[2] * r2[i] + t.w[3] * r3[i]);
  }
  return out;
}

Drift estimate_drift(const Image &sent, const Image &answer, const Mask &keep) {
  Drift d;
  if (sent.width < 16 || sent.height < 16) {
    d.note = "region too small";
    return d;
  }
  std::vector<Level> levels(1);
  levels[0].s = luma(sent);
  levels[0].a = luma(answer);
  levels[0].k = Plane(keep.width, keep.height);
  size_t kept = 0;
  for (size_t i = 0; i < keep.values.size(); ++i) {
    levels[0].k.v[i] = keep.values[i] ? 1.f : 0.f;
    kept += keep.values[i] ? 1 : 0;
  }
  if (kept < keep.values.size() / 20 || kept < 400) {
    d.note = "too little kept context";
    return d;
  }
  while (std::max(levels.back().s.w, levels.back().s.h) > 160) {
    Level n;
    n.s = half(levels.back().s, false);
    n.a = half(levels.back().a, false);
    n.k = half(levels.back().k, true);
    levels.push_back(std::move(n));
  }
  for (Level &l : levels) gradients(l);
  // Coarse: sweep the scale; phase correlation gives each scale's shift, a few Gauss-Newton
  // steps polish it, and the lowest robust cost wins (the correlation peak alone judges scale poorly).
  Level &top = levels.back();
  Params p;
  double best_cost = INFINITY, best_strength = 0;
  for (int i = -6; i <= 6; ++i) {
    double s = 1 + 0.02 * i;
    Peak pk = phase_correlate(top.s, scaled_about_centre(top.a, s), top.k);
    best_strength = std::max(best_strength, pk.strength);
    for (int start = 0; start < 2; ++start) {  // from the correlation's shift, and from none
      Params c;
      c.s = s;
      c.tx = start == 0 ? -s * pk.x : 0;
      c.ty = start == 0 ? -s * pk.y : 0;
      for (int it = 0; it < 4; ++it) gauss_newton(top, c, 2, true);
      double cost = gauss_newton(top, c, 2, false);
      if (cost < best_cost) {
        best_cost = cost;
        p = c;
      }
    }
  }
  if (best_strength < 0.04) {
    d.note = "no reliable match (low texture)";
    return d;
  }
  double texture = 0;
  // Refine down the pyramid; level 0 is sampled every other pixel (enough for 0.1 px).
  for (size_t li = levels.size() - 1; li >= 1; --li) {
    if (li != levels.size() - 1) {
      p.tx *= 2;
      p.ty *= 2;
    }
    int iters = li == levels.size() - 1 ? 8 : 4;
    for (int it = 0; it < iters; ++it) gauss_newton(levels[li], p, 1, true);
  }
  Level &l1 = levels.size() > 1 ? levels[1] : levels[0];
  Params identity;
  double c_found = gauss_newton(l1, p, 1, false, &texture);
  Params id2 = identity;
  for (int it = 0; it < 3; ++it) gauss_newton(l1, id2, 1, true);  // gain/bias only would be fairer; close enough
  identity.g = id2.g;
  identity.b = id2.b;
  double c_id = gauss_newton(l1, identity, 1, false);
  // Full resolution, every other pixel.
  if (levels.size() > 1) {
    p.tx *= 2;
    p.ty *= 2;
  }
  for (int it = 0; it < 3; ++it) gauss_newton(levels[0], p, 2, true);
  const double maxshift = 0.12 * std::max(sent.width, sent.height);
  if (texture < 1.0) {
    d.note = "low texture";
    return d;
  }
  if (!std::isfinite(p.tx) || !std::isfinite(p.ty) || std::abs(p.tx) > maxshift || std::abs(p.ty) > maxshift ||
      p.s < 0.85 || p.s > 1.15) {
    d.note = "implausible drift";
    return d;
  }
  if (!(c_found <= c_id * 1.001)) {
    d.note = "correction does not improve the match";
    return d;
  }
  d.found = true;
  d.dx = p.tx;
  d.dy = p.ty;
  d.scale = p.s;
  return d;
}

ColourFit estimate_colour(const Image &sent, const Image &answer, const Mask &keep) {
  ColourFit fit;
  for (int c = 0; c < 3; ++c) {
    double g = 1, o = 0, limit = INFINITY;
    for (int pass = 0; pass < 2; ++pass) {
      double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
      for (int y = 0; y < sent.height; y += 2)
        for (int x = 0; x < sent.width; x += 2) {
          if (!keep.at(x, y)) continue;
          double a = answer.at(x, y)[c], s = sent.at(x, y)[c];
          if (std::abs(g * a + o - s) > limit) continue;
          n += 1;
          sx += a;
          sy += s;
          sxx += a * a;
          sxy += a * s;
          syy += s * s;
        }
      if (n < 200) return fit;
      double mx = sx / n, my = sy / n, vx = sxx / n - mx * mx, cxy = sxy / n - mx * my;
      g = vx > 4 ? std::clamp(cxy / vx, 0.5, 2.0) : 1.0;
      o = my - g * mx;
      double rms = std::sqrt(std::max(0.0, syy / n - 2 * g * sxy / n - 2 * o * my + g * g * sxx / n +
                                                 2 * g * o * mx + o * o));
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
  for (size_t i = 0; i < img.pixels.size(); i += 4)
    for (int c = 0; c < 3; ++c) img.pixels[i + size_t(c)] = lut[c][img.pixels[i + size_t(c)]];
}

namespace {

// Harmonic fill of the unknown values (known == 0) of three planes, coarse to fine.
void membrane(std::array<Plane, 3> &d, Plane &known) {
  const int w = known.w, h = known.h;
  if (w > 24 && h > 24) {
    std::array<Plane, 3> cd;
    Plane ck(w / 2, h / 2);
    for (auto &p : cd) p = Plane(w / 2, h / 2);
    for (int y = 0; y < h / 2; ++y)
      for (int x = 0; x < w / 2; ++x) {
        double n = 0, s[3] = {};
        for (int j = 0; j < 2; ++j)
          for (int i = 0; i < 2; ++i)
            if (known.at(2 * x + i, 2 * y + j) > 0) {
              n += 1;
              for (int c = 0; c < 3; ++c) s[c] += d[size_t(c)].at(2 * x + i, 2 * y + j);
            }
        ck.at(x, y) = n > 0 ? 1.f : 0.f;
        for (int c = 0; c < 3; ++c) cd[size_t(c)].at(x, y) = n > 0 ? float(s[c] / n) : 0.f;
      }
    membrane(cd, ck);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (known.at(x, y) <= 0)
          for (int c = 0; c < 3; ++c)
            d[size_t(c)].at(x, y) = cd[size_t(c)].sample((x - 0.5) / 2.0, (y - 0.5) / 2.0);
  }
  const int iters = (w > 24 && h > 24) ? 5 : 300;  // the coarser level already did the far-reaching work
  for (int it = 0; it < iters; ++it)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (known.at(x, y) > 0) continue;
        for (auto &p : d) {
          float s = 0;
          int n = 0;
          if (x > 0) s += p.at(x - 1, y), ++n;
          if (x < w - 1) s += p.at(x + 1, y), ++n;
          if (y > 0) s += p.at(x, y - 1), ++n;
          if (y < h - 1) s += p.at(x, y + 1), ++n;
          float v = s / float(n);
          p.at(x, y) += 1.6f * (v - p.at(x, y));  // over-relaxed Gauss-Seidel
        }
      }
}

}  // namespace

void blend_membrane(const Image &sent, Image &answer, const Mask &mask) {
  Rect b = mask_bounds(mask);
  if (b.empty()) return;
  b.x = std::max(0, b.x - 1);
  b.y = std::max(0, b.y - 1);
  b.w = std::min(mask.width, b.right() + 1) - b.x;
  b.h = std::min(mask.height, b.bottom() + 1) - b.y;
  std::array<Plane, 3> d;
  for (auto &p : d) p = Plane(b.w, b.h);
  Plane known(b.w, b.h);
  bool any_known = false;
  for (int y = 0; y < b.h; ++y)
    for (int x = 0; x < b.w; ++x) {
      bool k = mask.at(b.x + x, b.y + y) == 0;
      known.at(x, y) = k ? 1.f : 0.f;
      any_known |= k;
      if (k)
        for (int c = 0; c < 3; ++c)
          d[size_t(c)].at(x, y) = float(sent.at(b.x + x, b.y + y)[c]) - float(answer.at(b.x + x, b.y + y)[c]);
    }
  if (!any_known) return;  // the selection covers the whole region: no edge to match
  membrane(d, known);
  for (int y = 0; y < b.h; ++y)
    for (int x = 0; x < b.w; ++x) {
      if (known.at(x, y) > 0) continue;
      uint8_t *px = answer.at(b.x + x, b.y + y);
      for (int c = 0; c < 3; ++c) px[c] = to_u8(px[c] + d[size_t(c)].at(x, y));
    }
}

Image apply_drift(const Image &in, double dx, double dy, double scale, const double gain[3],
                  const double offset[3]) {
  Image out = warp(in, -dx / scale, -dy / scale, 1.0 / scale);
  ColourFit f;
  for (int c = 0; c < 3; ++c) {
    f.gain[c] = gain[c];
    f.offset[c] = offset[c];
  }
  apply_colour(out, f);
  return out;
}

std::string Report::summary() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "shift=%.2f,%.2f scale=%.4f gain=%.3f,%.3f,%.3f offset=%.1f,%.1f,%.1f blend=%d", registered ? dx : 0.0,
                registered ? dy : 0.0, registered ? scale : 1.0, gain[0], gain[1], gain[2], offset[0], offset[1],
                offset[2], blended ? 1 : 0);
  std::string s = buf;
  if (!note.empty()) s += " note=" + note;
  return s;
}

Image correct(const Image &sent, const Image &answer, const Mask *mask, const Options &opts, Report *report) {
  auto t0 = std::chrono::steady_clock::now();
  Report r;
  Image out = answer;
  if (sent.width != answer.width || sent.height != answer.height || !opts.any()) {
    if (report) *report = r;
    return out;
  }
  // The kept context, away from the selection (the model may blur or restyle its surroundings).
  Mask keep(sent.width, sent.height, 255);
  if (mask) {
    double margin = std::max(4.0, 0.02 * std::max(sent.width, sent.height));
    Mask grown = feather(*mask, margin);
    for (size_t i = 0; i < keep.values.size(); ++i)
      keep.values[i] = (mask->values[i] == 0 && grown.values[i] < 2) ? 255 : 0;
  }
  for (size_t i = 0; i < keep.values.size(); ++i)
    if (sent.pixels[i * 4 + 3] < 255 || answer.pixels[i * 4 + 3] == 0) keep.values[i] = 0;
  if (opts.register_answer) {
    Drift d = estimate_drift(sent, answer, keep);
    if (d.found) {
      r.dx = d.dx;
      r.dy = d.dy;
      r.scale = d.scale;
      if (std::abs(d.dx) > 0.05 || std::abs(d.dy) > 0.05 || std::abs(d.scale - 1) > 1e-4) {
        out = warp(answer, d.dx, d.dy, d.scale);
        r.registered = true;
      }
    } else {
      r.note = d.note;
    }
  }
  // Colours and seam are fitted only when the answer kept the context (the same picture,
  // drifted); an answer that repainted everything has no drift to undo.
  bool kept_context = false;
  if (mask) {
    double n = 0, sa = 0, ss = 0, saa = 0, sss = 0, sas = 0;
    for (int y = 0; y < sent.height; y += 2)
      for (int x = 0; x < sent.width; x += 2) {
        if (!keep.at(x, y)) continue;
        const uint8_t *a = out.at(x, y), *b = sent.at(x, y);
        double la = 0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2], lb = 0.299 * b[0] + 0.587 * b[1] + 0.114 * b[2];
        n += 1;
        sa += la;
        ss += lb;
        saa += la * la;
        sss += lb * lb;
        sas += la * lb;
      }
    if (n >= 100) {
      double va = saa / n - (sa / n) * (sa / n), vs = sss / n - (ss / n) * (ss / n), cv = sas / n - (sa / n) * (ss / n);
      kept_context = va > 1 && vs > 1 && cv / std::sqrt(va * vs) > 0.5;
    }
    if (!kept_context && (opts.match_colours || opts.blend_seam))
      r.note += std::string(r.note.empty() ? "" : "; ") + "answer does not keep the context";
  }
  // Without a selection the whole region was to change: nothing was asked to be kept, so its
  // colours are the edit, not a drift.
  if (opts.match_colours && mask && kept_context) {
    ColourFit f = estimate_colour(sent, out, keep);
    if (f.found) {
      apply_colour(out, f);
      r.colour_matched = true;
      for (int c = 0; c < 3; ++c) {
        r.gain[c] = f.gain[c];
        r.offset[c] = f.offset[c];
      }
    }
  }
  if (opts.blend_seam && mask && kept_context) {
    blend_membrane(sent, out, *mask);
    r.blended = true;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (report) *report = r;
  return out;
}

}  // namespace genfill::seam
