// Registration: how far the answer drifted from what was sent (shift and scale), found by FFTW
// phase correlation over a scale sweep and refined by Gauss-Newton on a pyramid, and the warp
// that undoes it.
#include "core/seam/seam.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <vector>

#include "core/seam/parallel.hpp"

#include <fftw3.h>
#include <mutex>

namespace genfill::seam {

using detail::split_in_two;
using detail::to_u8;

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

inline float luma_of(const uint8_t *px) { return 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2]; }

Plane luma(const Image &img) {
  Plane p(img.width, img.height);
  for (size_t i = 0; i < p.v.size(); ++i) p.v[i] = luma_of(&img.pixels[i * 4]);
  return p;
}

// Luma at half resolution (2x2 means), straight from the picture.
Plane luma_half(const Image &img) {
  Plane o(img.width / 2, img.height / 2);
  const size_t stride = size_t(img.width) * 4;
  for (int y = 0; y < o.h; ++y) {
    const uint8_t *r0 = &img.pixels[size_t(2 * y) * stride], *r1 = r0 + stride;
    float *out = &o.v[size_t(y) * o.w];
    for (int x = 0; x < o.w; ++x)
      out[x] = 0.25f * (luma_of(r0 + 8 * x) + luma_of(r0 + 8 * x + 4) + luma_of(r1 + 8 * x) + luma_of(r1 + 8 * x + 4));
  }
  return o;
}

// 1 where the mask is non-zero, at full or (all four of 2x2 set) half resolution.
Plane keep_plane(const Mask &m, bool halved) {
  if (!halved) {
    Plane o(m.width, m.height);
    for (size_t i = 0; i < o.v.size(); ++i) o.v[i] = m.values[i] ? 1.f : 0.f;
    return o;
  }
  Plane o(m.width / 2, m.height / 2);
  for (int y = 0; y < o.h; ++y)
    for (int x = 0; x < o.w; ++x)
      o.at(x, y) = m.at(2 * x, 2 * y) && m.at(2 * x + 1, 2 * y) && m.at(2 * x, 2 * y + 1) && m.at(2 * x + 1, 2 * y + 1)
                       ? 1.f
                       : 0.f;
  return o;
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

// The answer's luma with its central differences, side by side (one cache line per lookup).
struct Grad {
  float a, ax, ay;
};

struct Level {
  Plane s, a, k;  // sent luma, answer luma, kept (0/1)
  std::vector<Grad> g;
};

void gradients(Level &l) {
  const Plane &a = l.a;
  l.g.resize(a.v.size());
  for (int y = 0; y < a.h; ++y) {
    const float *up = &a.v[size_t(std::max(y - 1, 0)) * a.w], *row = &a.v[size_t(y) * a.w],
                *down = &a.v[size_t(std::min(y + 1, a.h - 1)) * a.w];
    Grad *o = &l.g[size_t(y) * a.w];
    for (int x = 0; x < a.w; ++x)
      o[x] = {row[x], 0.5f * (row[std::min(x + 1, a.w - 1)] - row[std::max(x - 1, 0)]), 0.5f * (down[x] - up[x])};
  }
}

// FFTW's planner is not thread-safe; plans are made and destroyed under a lock (execution is safe).
std::mutex fftw_lock;

struct Peak {
  double x = 0, y = 0, strength = 0;
};

// Phase correlation of the sent plane (weighted by k, Tukey-windowed) against answers of its
// size. The sent side's spectrum and the plans (FFTW_ESTIMATE) are made once; match() may run
// on several threads at a time.
class Correlator {
 public:
  Correlator(const Plane &s, const Plane &k) : w_(s.w), h_(s.h), cw_(s.w / 2 + 1), k_(k) {
    // A Tukey window (only the outer 12 % tapered): the kept context often lies near the
    // region's border, which a full Hann window would erase.
    auto tukey = [](double t) {
      const double a = 0.12;
      double e = std::min(t, 1 - t);
      return e >= a ? 1.0 : 0.5 - 0.5 * std::cos(M_PI * e / a);
    };
    wx_.resize(size_t(w_));
    wy_.resize(size_t(h_));
    for (int x = 0; x < w_; ++x) wx_[size_t(x)] = float(tukey((x + 0.5) / w_));
    for (int y = 0; y < h_; ++y) wy_[size_t(y)] = float(tukey((y + 0.5) / h_));
    double ms = 0;
    for (size_t i = 0; i < s.v.size(); ++i) {
      ws_ += k.v[i];
      ms += k.v[i] * s.v[i];
    }
    float *in = fftwf_alloc_real(size_t(w_) * h_);
    fs_ = fftwf_alloc_complex(size_t(cw_) * h_);
    {
      std::lock_guard<std::mutex> g(fftw_lock);
      fwd_ = fftwf_plan_dft_r2c_2d(h_, w_, in, fs_, FFTW_ESTIMATE);
      inv_ = fftwf_plan_dft_c2r_2d(h_, w_, fs_, in, FFTW_ESTIMATE);
    }
    if (ws_ > 0) {
      ms /= ws_;
      // Only the sent side is masked: masking both would correlate the hole with itself.
      for (int y = 0; y < h_; ++y)
        for (int x = 0; x < w_; ++x) {
          size_t i = size_t(y) * w_ + x;
          in[i] = float((s.v[i] - ms) * wy_[size_t(y)] * wx_[size_t(x)] * k.v[i]);
        }
      fftwf_execute_dft_r2c(fwd_, in, fs_);
    }
    fftwf_free(in);
  }
  ~Correlator() {
    {
      std::lock_guard<std::mutex> g(fftw_lock);
      fftwf_destroy_plan(fwd_);
      fftwf_destroy_plan(inv_);
    }
    fftwf_free(fs_);
  }
  Correlator(const Correlator &) = delete;
  Correlator &operator=(const Correlator &) = delete;

  // The shift x such that a(q) ~= s(q + x).
  Peak match(const Plane &a) const {
    if (ws_ <= 0) return {};
    const int w = w_, h = h_;
    double ma = 0;
    for (size_t i = 0; i < a.v.size(); ++i) ma += k_.v[i] * a.v[i];
    ma /= ws_;
    float *buf = fftwf_alloc_real(size_t(w) * h);
    fftwf_complex *fa = fftwf_alloc_complex(size_t(cw_) * h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        size_t i = size_t(y) * w + x;
        buf[i] = float((a.v[i] - ma) * wy_[size_t(y)] * wx_[size_t(x)]);
      }
    fftwf_execute_dft_r2c(fwd_, buf, fa);
    for (size_t i = 0; i < size_t(cw_) * h; ++i) {
      // Normalised cross-power spectrum: fs * conj(fa) / |fs * conj(fa)|.
      const float re = fs_[i][0] * fa[i][0] + fs_[i][1] * fa[i][1];
      const float im = fs_[i][1] * fa[i][0] - fs_[i][0] * fa[i][1];
      const float m = std::sqrt(re * re + im * im);
      fa[i][0] = m > 1e-6f ? re / m : 0.f;
      fa[i][1] = m > 1e-6f ? im / m : 0.f;
    }
    fftwf_execute_dft_c2r(inv_, fa, buf);
    const float *corr = buf;
    size_t best = 0;
    for (size_t i = 1; i < size_t(w) * h; ++i)
      if (corr[i] > corr[best]) best = i;
    int bx = int(best % w), by = int(best / w);
    auto v = [&](int x, int y) { return double(corr[size_t((y + h) % h) * w + (x + w) % w]); };
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
    fftwf_free(fa);
    fftwf_free(buf);
    return p;
  }

 private:
  int w_, h_, cw_;
  const Plane &k_;
  std::vector<float> wx_, wy_;
  double ws_ = 0;
  fftwf_complex *fs_ = nullptr;
  fftwf_plan fwd_ = nullptr, inv_ = nullptr;
};

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

enum class Pass { step, cost };

// The samples of one row of a pass: the answer's interpolated luma A with its gradient, the
// residual r = g * A(q') + b - S(q) and the sample's x offset from the centre.
struct Row {
  std::vector<float> A, Ax, Ay, dx, r;
  int m = 0;
  explicit Row(int cap) : A(size_t(cap)), Ax(size_t(cap)), Ay(size_t(cap)), dx(size_t(cap)), r(size_t(cap)) {}
  void push(float a, float ax, float ay, float x, float res) {
    A[size_t(m)] = a;
    Ax[size_t(m)] = ax;
    Ay[size_t(m)] = ay;
    dx[size_t(m)] = x;
    r[size_t(m)] = res;
    ++m;
  }
};

// The sums of one Gauss-Newton pass: the robust normal equations (step) or the robust cost
// with the texture (mean squared gradient) of the samples (cost).
struct Sums {
  double H[5][5] = {}, gr[5] = {}, cost = 0, n = 0, tex = 0;

  // Adds a row's samples (y offset dy from the centre); the row's sums are kept in local floats.
  void add(const Row &row, Pass pass, float g, float dy) {
    const int m = row.m;
    const float inv_sigma = float(1 / kSigma);
    n += m;
    if (pass == Pass::cost) {
      float c = 0, t = 0;
      for (int k = 0; k < m; ++k) {
        const float u = row.r[size_t(k)] * inv_sigma;
        c += std::log1p(u * u);
        t += row.Ax[size_t(k)] * row.Ax[size_t(k)] + row.Ay[size_t(k)] * row.Ay[size_t(k)];
      }
      cost += c;
      tex += t;
      return;
    }
    // J = (g Ax, g Ay, g (Ax dx + Ay dy), A, 1); h_ij = sum w J_i J_j, e_i = sum w J_i r.
    float h00 = 0, h10 = 0, h11 = 0, h20 = 0, h21 = 0, h22 = 0, h30 = 0, h31 = 0, h32 = 0, h33 = 0, h40 = 0, h41 = 0,
          h42 = 0, h43 = 0, h44 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0, e4 = 0;
    for (int k = 0; k < m; ++k) {
      const float r = row.r[size_t(k)], u = r * inv_sigma, w = 1 / (1 + u * u);
      const float j0 = g * row.Ax[size_t(k)], j1 = g * row.Ay[size_t(k)], j2 = j0 * row.dx[size_t(k)] + j1 * dy,
                  j3 = row.A[size_t(k)];
      const float w0 = w * j0, w1 = w * j1, w2 = w * j2, w3 = w * j3;
      h00 += w0 * j0;
      h10 += w1 * j0;
      h11 += w1 * j1;
      h20 += w2 * j0;
      h21 += w2 * j1;
      h22 += w2 * j2;
      h30 += w3 * j0;
      h31 += w3 * j1;
      h32 += w3 * j2;
      h33 += w3 * j3;
      h40 += w0;
      h41 += w1;
      h42 += w2;
      h43 += w3;
      h44 += w;
      e0 += w0 * r;
      e1 += w1 * r;
      e2 += w2 * r;
      e3 += w3 * r;
      e4 += w * r;
    }
    const float lower[15] = {h00, h10, h11, h20, h21, h22, h30, h31, h32, h33, h40, h41, h42, h43, h44};
    for (int i = 0, k = 0; i < 5; ++i)
      for (int j = 0; j <= i; ++j) H[i][j] += lower[k++];
    gr[0] += e0;
    gr[1] += e1;
    gr[2] += e2;
    gr[3] += e3;
    gr[4] += e4;
  }
  void add(const Sums &o) {
    for (int i = 0; i < 5; ++i) {
      gr[i] += o.gr[i];
      for (int j = 0; j < 5; ++j) H[i][j] += o.H[i][j];
    }
    cost += o.cost;
    n += o.n;
    tex += o.tex;
  }
  double mean_cost() const { return n > 0 ? cost / n : INFINITY; }
  double texture() const { return n > 0 ? tex / n : 0; }
};

// Solves the normal equations and moves p (each parameter's move clamped). Returns how far the
// move displaces the farthest corner, half_diagonal from the centre (0 when nothing moved).
double take_step(Sums &s, Params &p, double half_diagonal) {
  if (s.n <= 0) return 0;
  for (int i = 0; i < 5; ++i)
    for (int j = i + 1; j < 5; ++j) s.H[i][j] = s.H[j][i];
  for (int i = 0; i < 5; ++i) s.H[i][i] *= 1.0001;
  double d[5], neg[5];
  for (int i = 0; i < 5; ++i) neg[i] = -s.gr[i];
  if (!solve5(s.H, neg, d)) return 0;
  d[0] = std::clamp(d[0], -4.0, 4.0);
  d[1] = std::clamp(d[1], -4.0, 4.0);
  d[2] = std::clamp(d[2], -0.05, 0.05);
  p.tx += d[0];
  p.ty += d[1];
  p.s += d[2];
  p.g += std::clamp(d[3], -0.3, 0.3);
  p.b += std::clamp(d[4], -40.0, 40.0);
  return std::hypot(d[0], d[1]) + std::abs(d[2]) * half_diagonal;
}

// Runs body(y, row) for the rows y = 0, stride, 2 * stride... of a w x h picture, on two
// threads when there are many samples, and adds up the rows' sums.
template <typename Body>
Sums over_rows(int w, int h, int stride, Pass pass, const Params &p, Body &&body) {
  const int rows = (h + stride - 1) / stride;
  const bool big = size_t(w) * h / size_t(stride * stride) > 60000;
  const double cy = (h - 1) / 2.0;
  Sums parts[2];
  split_in_two(rows, big, [&](int r0, int r1) {
    Sums &s = parts[r0 == 0 ? 0 : 1];
    Row row(w / stride + 1);
    for (int r = r0; r < r1; ++r) {
      row.m = 0;
      body(r * stride, row);
      if (row.m > 0) s.add(row, pass, float(p.g), float(r * stride - cy));
    }
  });
  parts[0].add(parts[1]);
  return parts[0];
}

// One pass over a pyramid level, sampling every stride-th kept pixel of every stride-th row.
Sums level_pass(const Level &l, const Params &p, int stride, Pass pass) {
  const int w = l.s.w, h = l.s.h;
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  return over_rows(w, h, stride, pass, p, [&](int y, Row &row) {
    const double Y = cy + p.s * (y - cy) + p.ty;
    if (!(Y >= 0 && Y <= h - 1)) return;
    const int y0 = std::min(int(Y), h - 2);
    const float fy = float(Y - y0);
    const float *krow = &l.k.v[size_t(y) * w], *srow = &l.s.v[size_t(y) * w];
    for (int x = 0; x < w; x += stride) {
      if (krow[x] <= 0) continue;
      const double X = cx + p.s * (x - cx) + p.tx;
      if (!(X >= 0 && X <= w - 1)) continue;
      const int x0 = std::min(int(X), w - 2);
      const float fx = float(X - x0);
      const Grad *g0 = &l.g[size_t(y0) * w + x0], *g1 = g0 + w;
      auto bilinear = [&](float Grad::*m) {
        const float top = g0[0].*m + (g0[1].*m - g0[0].*m) * fx, bottom = g1[0].*m + (g1[1].*m - g1[0].*m) * fx;
        return top + (bottom - top) * fy;
      };
      const float A = bilinear(&Grad::a), Ax = bilinear(&Grad::ax), Ay = bilinear(&Grad::ay);
      row.push(A, Ax, Ay, float(x - cx), float(p.g * A + p.b) - srow[x]);
    }
  });
}

// Catmull-Rom weights of the four taps around a point at fraction f, and their derivatives.
inline void cubic_weights(float f, float w[4], float dw[4]) {
  const float f2 = f * f, f3 = f2 * f;
  w[0] = 0.5f * (-f3 + 2 * f2 - f);
  w[1] = 0.5f * (3 * f3 - 5 * f2 + 2);
  w[2] = 0.5f * (-3 * f3 + 4 * f2 + f);
  w[3] = 0.5f * (f3 - f2);
  dw[0] = 0.5f * (-3 * f2 + 4 * f - 1);
  dw[1] = 0.5f * (9 * f2 - 10 * f);
  dw[2] = 0.5f * (-9 * f2 + 8 * f + 1);
  dw[3] = 0.5f * (3 * f2 - 2 * f);
}

// One pass at full resolution over the answer's luma and the sent picture: the luma is
// interpolated with Catmull-Rom (as the warp does; bilinear would bias sub-pixel shifts towards
// whole pixels), its gradient is that interpolant's.
Sums full_pass(const Image &sent, const Plane &answer, const Mask &keep, const Params &p, int stride, Pass pass) {
  const int w = sent.width, h = sent.height;
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  return over_rows(w, h, stride, pass, p, [&](int y, Row &row) {
    const double Y = cy + p.s * (y - cy) + p.ty;
    if (!(Y >= 0 && Y <= h - 1)) return;
    const int y0 = std::min(int(Y), h - 2);
    float wy[4], dwy[4];
    cubic_weights(float(Y - y0), wy, dwy);
    const float *rows[4];
    for (int j = 0; j < 4; ++j) rows[j] = &answer.v[size_t(std::clamp(y0 - 1 + j, 0, h - 1)) * w];
    const uint8_t *krow = &keep.values[size_t(y) * w];
    for (int x = 0; x < w; x += stride) {
      if (!krow[x]) continue;
      const double X = cx + p.s * (x - cx) + p.tx;
      if (!(X >= 0 && X <= w - 1)) continue;
      const int x0 = std::min(int(X), w - 2);
      float wx[4], dwx[4];
      cubic_weights(float(X - x0), wx, dwx);
      size_t xi[4];
      for (int i = 0; i < 4; ++i) xi[i] = size_t(std::clamp(x0 - 1 + i, 0, w - 1));
      float A = 0, Ax = 0, Ay = 0;
      for (int j = 0; j < 4; ++j) {
        float v = 0, dv = 0;
        for (int i = 0; i < 4; ++i) {
          const float l = rows[j][xi[i]];
          v += wx[i] * l;
          dv += dwx[i] * l;
        }
        A += wy[j] * v;
        Ax += wy[j] * dv;
        Ay += dwy[j] * v;
      }
      row.push(A, Ax, Ay, float(x - cx), float(p.g * A + p.b) - luma_of(sent.at(x, y)));
    }
  });
}

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

namespace {

// A pixel's four channels as one SIMD value (GCC and Clang vector extension).
typedef float Px4 __attribute__((vector_size(16)));

}  // namespace

Image warp(const Image &answer, double dx, double dy, double scale) {
  const int w = answer.width, h = answer.height;
  const auto tx = taps_for(w, dx, scale), ty = taps_for(h, dy, scale);
  Image out(w, h);
  // Columns of rows: each output row blends four input rows filtered along x, which are kept
  // in a small ring (row r in slot r % 8; the four are consecutive rows, so never collide).
  split_in_two(h, size_t(w) * h > 100000, [&](int y0, int y1) {
    constexpr int kRing = 8;
    std::vector<Px4> line(static_cast<size_t>(w)), ring(static_cast<size_t>(w) * kRing);
    int held[kRing];
    std::fill(std::begin(held), std::end(held), -1);
    auto filtered = [&](int r) -> const Px4 * {
      Px4 *o = &ring[size_t(r % kRing) * w];
      if (held[r % kRing] == r) return o;
      held[r % kRing] = r;
      const uint8_t *row = &answer.pixels[size_t(r) * w * 4];
      for (int x = 0; x < w; ++x, row += 4) line[size_t(x)] = Px4{float(row[0]), float(row[1]), float(row[2]), float(row[3])};
      for (int x = 0; x < w; ++x) {
        const Tap &t = tx[size_t(x)];
        o[x] = t.w[0] * line[size_t(t.i[0])] + t.w[1] * line[size_t(t.i[1])] + t.w[2] * line[size_t(t.i[2])] +
               t.w[3] * line[size_t(t.i[3])];
      }
      return o;
    };
    const Px4 zero = {0, 0, 0, 0}, top = {255, 255, 255, 255};
    for (int y = y0; y < y1; ++y) {
      const Tap &t = ty[size_t(y)];
      const Px4 *r0 = filtered(t.i[0]), *r1 = filtered(t.i[1]), *r2 = filtered(t.i[2]), *r3 = filtered(t.i[3]);
      uint8_t *o = out.at(0, y);
      for (int x = 0; x < w; ++x, o += 4) {
        Px4 v = t.w[0] * r0[x] + t.w[1] * r1[x] + t.w[2] * r2[x] + t.w[3] * r3[x] + 0.5f;  // as to_u8
        v = v < zero ? zero : v;
        v = v > top ? top : v;
        for (int c = 0; c < 4; ++c) o[c] = uint8_t(int(v[c]));
      }
    }
  });
  return out;
}

Drift estimate_drift(const Image &sent, const Image &answer, const Mask &keep) {
  Drift d;
  if (sent.width < 16 || sent.height < 16) {
    d.note = "region too small";
    return d;
  }
  size_t kept = 0;
  for (uint8_t v : keep.values) kept += v ? 1 : 0;
  if (kept < keep.values.size() / 20 || kept < 400) {
    d.note = "too little kept context";
    return d;
  }
  // The pyramid's planes start at half resolution (full resolution for small regions); the
  // last refinement samples the full-resolution pictures directly.
  const bool halved = std::max(sent.width, sent.height) > 160 && std::min(sent.width, sent.height) >= 32;
  std::vector<Level> levels(1);
  Plane answer_luma;  // at full resolution, for the last refinement
  split_in_two(2, halved, [&](int i0, int i1) {  // the sent side, the answer side
    for (int i = i0; i < i1; ++i)
      if (i == 0) {
        levels[0].s = halved ? luma_half(sent) : luma(sent);
        levels[0].k = keep_plane(keep, halved);
      } else {
        answer_luma = luma(answer);
        levels[0].a = halved ? half(answer_luma, false) : answer_luma;
        gradients(levels[0]);
      }
  });
  while (std::max(levels.back().s.w, levels.back().s.h) > 160 && std::min(levels.back().s.w, levels.back().s.h) >= 32) {
    Level n;
    n.s = half(levels.back().s, false);
    n.a = half(levels.back().a, false);
    n.k = half(levels.back().k, true);
    levels.push_back(std::move(n));
  }
  for (size_t i = 1; i < levels.size(); ++i) gradients(levels[i]);
  auto half_diagonal = [](const Plane &pl) { return 0.5 * std::hypot(pl.w, pl.h); };
  auto stride_for = [](const Plane &pl) { return size_t(pl.w) * pl.h > 150000 ? 2 : 1; };
  // Coarse: sweep the scale; phase correlation gives each scale's shift, a few Gauss-Newton
  // steps polish it, and the lowest robust cost wins (the correlation peak alone judges scale poorly).
  const Level &top = levels.back();
  // Scales 0.88 to 1.12 in steps of 0.02 (a coarser sweep lets Gauss-Newton settle in wrong minima).
  const int nscales = 13;
  struct Candidate {
    Params p;
    double cost = INFINITY, strength = 0;
  };
  std::vector<Candidate> cands(static_cast<size_t>(nscales));
  {
    Correlator corr(top.s, top.k);
    split_in_two(nscales, true, [&](int i0, int i1) {
      for (int i = i0; i < i1; ++i) {
        const double s = 0.88 + 0.02 * i;
        Peak pk = corr.match(scaled_about_centre(top.a, s));
        Candidate &best = cands[size_t(i)];
        best.strength = pk.strength;
        for (int start = 0; start < 2; ++start) {  // from the correlation's shift, and from none
          Params c;
          c.s = s;
          c.tx = start == 0 ? -s * pk.x : 0;
          c.ty = start == 0 ? -s * pk.y : 0;
          for (int it = 0; it < 4; ++it) {
            Sums sums = level_pass(top, c, 2, Pass::step);
            if (take_step(sums, c, half_diagonal(top.s)) < 0.01) break;
          }
          double cost = level_pass(top, c, 2, Pass::cost).mean_cost();
          if (cost < best.cost) {
            best.cost = cost;
            best.p = c;
          }
        }
      }
    });
  }
  Params p;
  double best_cost = INFINITY, best_strength = 0;
  for (const Candidate &c : cands) {
    best_strength = std::max(best_strength, c.strength);
    if (c.cost < best_cost) {
      best_cost = c.cost;
      p = c.p;
    }
  }
  if (best_strength < 0.04) {
    d.note = "no reliable match (low texture)";
    return d;
  }
  // Refine down the pyramid.
  for (size_t li = levels.size(); li-- > 0;) {
    if (li != levels.size() - 1) {
      p.tx *= 2;
      p.ty *= 2;
    }
    const int iters = li == levels.size() - 1 ? 8 : 4;
    for (int it = 0; it < iters; ++it) {
      Sums sums = level_pass(levels[li], p, stride_for(levels[li].s), Pass::step);
      if (take_step(sums, p, half_diagonal(levels[li].s)) < 0.01) break;
    }
  }
  // Does the drift found beat no drift (with the best gain and bias)?
  const Level &l1 = levels[0];
  const int s1 = stride_for(l1.s);
  Sums found = level_pass(l1, p, s1, Pass::cost);
  const double c_found = found.mean_cost(), texture = found.texture();
  Params identity, id2;
  for (int it = 0; it < 3; ++it) {  // gain/bias only would be fairer; close enough
    Sums sums = level_pass(l1, id2, s1, Pass::step);
    take_step(sums, id2, half_diagonal(l1.s));
  }
  identity.g = id2.g;
  identity.b = id2.b;
  const double c_id = level_pass(l1, identity, s1, Pass::cost).mean_cost();
  // Full resolution, on a subsample of the kept pixels (about 40 000 are plenty for 0.05 px).
  if (halved) {
    p.tx *= 2;
    p.ty *= 2;
  }
  const int s0 = std::clamp(int(std::lround(std::sqrt(kept / 40000.0))), 1, 4);
  const double hd0 = 0.5 * std::hypot(sent.width, sent.height);
  for (int it = 0; it < 3; ++it) {
    Sums sums = full_pass(sent, answer_luma, keep, p, s0, Pass::step);
    if (take_step(sums, p, hd0) < 0.005) break;
  }
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

}  // namespace genfill::seam
