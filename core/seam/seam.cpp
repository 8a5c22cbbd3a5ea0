// Registration (FFTW phase correlation over a scale sweep, then Gauss-Newton on a pyramid),
// colour matching (per-channel least squares) and a membrane (Poisson) seam blend.
#include "core/seam/seam.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <system_error>
#include <vector>

#include <fftw3.h>
#include <glib.h>

namespace genfill::seam {

namespace {

// Runs fn(begin, end) over [0, n): in two halves on two threads when the job is `big` and the
// process may use two cores, else on the calling thread.
template <typename Fn>
void split_in_two(int n, bool big, Fn &&fn) {
  static const bool two_cores = g_get_num_processors() > 1;
  if (!big || !two_cores || n < 2) {
    fn(0, n);
    return;
  }
  const int mid = n / 2;
  std::future<void> other;
  try {
    other = std::async(std::launch::async, [&fn, mid, n] { fn(mid, n); });
  } catch (const std::system_error &) {
    fn(0, n);
    return;
  }
  fn(0, mid);
  other.get();
}

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

uint8_t to_u8(double v) { return uint8_t(std::clamp(v + 0.5, 0.0, 255.0)); }
uint8_t to_u8(float v) { return uint8_t(std::clamp(v + 0.5f, 0.f, 255.f)); }

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

namespace {

// The membrane's unknown field: three channels side by side, and which pixels are known.
struct Field {
  int w = 0, h = 0;
  std::vector<uint8_t> known;
  std::vector<std::array<float, 3>> d;
  Field(int w_, int h_) : w(w_), h(h_), known(size_t(w_) * h_, 0), d(size_t(w_) * h_, std::array<float, 3>{}) {}
};

// Half resolution (rounded up, so that every pixel has its cell): a cell is known when any of
// its pixels is, with their mean.
Field restrict_field(const Field &f) {
  Field c((f.w + 1) / 2, (f.h + 1) / 2);
  for (int y = 0; y < c.h; ++y)
    for (int x = 0; x < c.w; ++x) {
      int n = 0;
      float s[3] = {};
      for (int j = 0; j < 2 && 2 * y + j < f.h; ++j)
        for (int i = 0; i < 2 && 2 * x + i < f.w; ++i) {
          const size_t k = size_t(2 * y + j) * f.w + size_t(2 * x + i);
          if (!f.known[k]) continue;
          ++n;
          for (int ch = 0; ch < 3; ++ch) s[ch] += f.d[k][size_t(ch)];
        }
      if (n == 0) continue;
      const size_t k = size_t(y) * c.w + size_t(x);
      c.known[k] = 1;
      for (int ch = 0; ch < 3; ++ch) c.d[k][size_t(ch)] = s[ch] / float(n);
    }
  return c;
}

// Bilinear taps from a fine coordinate to the coarse grid of half the size, at (x - 0.5) / 2
// (clamped), as pixel centres line up.
struct UpTap {
  int i0, i1;
  float f;
};
std::vector<UpTap> up_taps(int n_fine, int n_coarse) {
  std::vector<UpTap> t(static_cast<size_t>(n_fine));
  for (int x = 0; x < n_fine; ++x) {
    const double X = std::clamp((x - 0.5) / 2.0, 0.0, double(n_coarse - 1));
    const int i0 = std::min(int(X), std::max(n_coarse - 2, 0));
    t[size_t(x)] = {i0, std::min(i0 + 1, n_coarse - 1), float(X - i0)};
  }
  return t;
}

// Bilinear upsampling of a coarse field, a fine row at a time: the two coarse rows are blended
// once per fine row, then each pixel blends two values of that line.
class Upsampler {
 public:
  Upsampler(const Field &c, int w, int h) : c_(c), tx_(up_taps(w, c.w)), ty_(up_taps(h, c.h)), line_(size_t(c.w)) {}
  void row(int y) {
    const UpTap &t = ty_[size_t(y)];
    const std::array<float, 3> *r0 = &c_.d[size_t(t.i0) * c_.w], *r1 = &c_.d[size_t(t.i1) * c_.w];
    for (int i = 0; i < c_.w; ++i)
      for (size_t ch = 0; ch < 3; ++ch) line_[size_t(i)][ch] = r0[i][ch] + (r1[i][ch] - r0[i][ch]) * t.f;
  }
  std::array<float, 3> at(int x) const {
    const UpTap &t = tx_[size_t(x)];
    const std::array<float, 3> &a = line_[size_t(t.i0)], &b = line_[size_t(t.i1)];
    return {a[0] + (b[0] - a[0]) * t.f, a[1] + (b[1] - a[1]) * t.f, a[2] + (b[2] - a[2]) * t.f};
  }

 private:
  const Field &c_;
  std::vector<UpTap> tx_, ty_;
  std::vector<std::array<float, 3>> line_;
};

// Chessboard distance of every pixel to the nearest known one, capped at cap (< 255): two
// chamfer passes, each taking the row before (three neighbours) and then the pixel before.
std::vector<uint8_t> distance_to_known(const Field &f, int cap) {
  const int w = f.w, h = f.h;
  std::vector<uint8_t> dist(f.known.size()), near(static_cast<size_t>(w));
  auto pass = [&](int y, int prev_y, bool forward) {
    uint8_t *row = &dist[size_t(y) * w];
    const uint8_t *known = &f.known[size_t(y) * w];
    if (forward) std::fill(row, row + w, uint8_t(cap));
    if (prev_y >= 0 && prev_y < h) {
      const uint8_t *prev = &dist[size_t(prev_y) * w];
      // near[x]: the least of the three pixels above (below), plus one.
      near[0] = uint8_t(std::min(prev[0], prev[std::min(1, w - 1)]) + 1);
      for (int x = 1; x < w - 1; ++x) near[size_t(x)] = uint8_t(std::min({prev[x - 1], prev[x], prev[x + 1]}) + 1);
      if (w > 1) near[size_t(w - 1)] = uint8_t(std::min(prev[w - 2], prev[w - 1]) + 1);
      for (int x = 0; x < w; ++x) row[x] = std::min(row[x], near[size_t(x)]);
    }
    for (int x = 0; x < w; ++x)
      if (known[x]) row[x] = 0;
    if (forward)
      for (int x = 1; x < w; ++x) row[x] = std::min(row[x], uint8_t(row[x - 1] + 1));
    else
      for (int x = w - 2; x >= 0; --x) row[x] = std::min(row[x], uint8_t(row[x + 1] + 1));
  };
  for (int y = 0; y < h; ++y) pass(y, y - 1, true);
  for (int y = h - 1; y >= 0; --y) pass(y, y + 1, false);
  return dist;
}

// An unknown pixel to relax: its index and which of its four neighbours lie outside the field.
struct Cell {
  int k;
  uint8_t edges;  // 1 left, 2 right, 4 up, 8 down
};

Cell cell_at(int x, int y, int w, int h) {
  return {y * w + x, uint8_t((x == 0 ? 1 : 0) | (x == w - 1 ? 2 : 0) | (y == 0 ? 4 : 0) | (y == h - 1 ? 8 : 0))};
}

// Over-relaxed Gauss-Seidel sweeps over the listed pixels, in the listed order.
void relax(Field &f, const std::vector<Cell> &cells, int iters) {
  const int w = f.w;
  std::array<float, 3> *d = f.d.data();
  for (int it = 0; it < iters; ++it)
    for (const Cell &c : cells) {
      std::array<float, 3> &v = d[c.k];
      float s[3];
      float inv_n = 0.25f;
      if (c.edges == 0) {
        const auto &l = d[c.k - 1], &r = d[c.k + 1], &u = d[c.k - w], &b = d[c.k + w];
        for (size_t ch = 0; ch < 3; ++ch) s[ch] = l[ch] + r[ch] + u[ch] + b[ch];
      } else {
        int n = 0;
        s[0] = s[1] = s[2] = 0;
        auto add = [&](int j) {
          for (size_t ch = 0; ch < 3; ++ch) s[ch] += d[j][ch];
          ++n;
        };
        if (!(c.edges & 1)) add(c.k - 1);
        if (!(c.edges & 2)) add(c.k + 1);
        if (!(c.edges & 4)) add(c.k - w);
        if (!(c.edges & 8)) add(c.k + w);
        inv_n = 1.f / float(n);
      }
      for (size_t ch = 0; ch < 3; ++ch) v[ch] += 1.6f * (s[ch] * inv_n - v[ch]);
    }
}

constexpr int kCoarsest = 24;  // levels up to this size are solved outright
constexpr int kBand = 8;       // finer levels relax only this far (in pixels) from known ones
constexpr int kCap = kBand + 2;

// Harmonic fill of the unknown values, coarse to fine. At the finer levels the coarser solution,
// upsampled, is relaxed only in a band along the known pixels: further in, it is smooth already
// and a few sweeps would not change it. Returns the level's distance to the known pixels
// (chessboard, capped at kCap).
//
// With coarse_out, f is the finest level: its band is read from the coarser level's distances
// (which saves a distance transform at full size) and only the band and its rim are filled;
// zone_out tells them apart (0 band, 1 rim, 2 beyond: to be upsampled from *coarse_out).
std::vector<uint8_t> solve(Field &f, Field *coarse_out = nullptr, std::vector<uint8_t> *zone_out = nullptr) {
  const int w = f.w, h = f.h;
  if (w <= kCoarsest || h <= kCoarsest) {
    std::vector<Cell> cells;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (!f.known[size_t(y) * w + x]) cells.push_back(cell_at(x, y, w, h));
    relax(f, cells, 300);
    return distance_to_known(f, kCap);
  }
  Field c = restrict_field(f);
  const std::vector<uint8_t> cdist = solve(c);
  std::vector<uint8_t> dist;
  if (coarse_out) {
    // A pixel within kBand of a known one lies within kBand / 2 + 1 cells of a known cell.
    zone_out->assign(f.known.size(), 2);
    const int near_cells = kBand / 2 + 1;
    for (int y = 0; y < h; ++y) {
      const uint8_t *crow = &cdist[size_t(y / 2) * c.w];
      uint8_t *zone = &(*zone_out)[size_t(y) * w];
      for (int x = 0; x < w; ++x) {
        const int cd = crow[x / 2];
        zone[x] = cd <= near_cells ? 0 : cd <= near_cells + 1 ? 1 : 2;
      }
    }
  } else {
    dist = distance_to_known(f, kCap);
  }
  std::vector<Cell> band;
  Upsampler up(c, w, h);
  for (int y = 0; y < h; ++y) {
    up.row(y);
    for (int x = 0; x < w; ++x) {
      const size_t k = size_t(y) * w + x;
      if (f.known[k]) continue;
      const bool in_band = coarse_out ? (*zone_out)[k] == 0 : dist[k] <= kBand;
      if (coarse_out && (*zone_out)[k] == 2) continue;
      f.d[k] = up.at(x);
      if (in_band) band.push_back(cell_at(x, y, w, h));
    }
  }
  relax(f, band, 5);
  if (coarse_out) *coarse_out = std::move(c);
  return dist;
}

}  // namespace

void blend_membrane(const Image &sent, Image &answer, const Mask &mask) {
  Rect b = mask_bounds(mask);
  if (b.empty()) return;
  // The selection's bounds and the kept pixels around them, on all four sides.
  const int right = std::min(mask.width, b.right() + 1), bottom = std::min(mask.height, b.bottom() + 1);
  b.x = std::max(0, b.x - 1);
  b.y = std::max(0, b.y - 1);
  b.w = right - b.x;
  b.h = bottom - b.y;
  Field f(b.w, b.h);
  bool any_known = false;
  for (int y = 0; y < b.h; ++y) {
    const uint8_t *m = &mask.values[size_t(b.y + y) * mask.width + b.x];
    const uint8_t *s = sent.at(b.x, b.y + y), *a = answer.at(b.x, b.y + y);
    for (int x = 0; x < b.w; ++x) {
      if (m[x]) continue;
      const size_t k = size_t(y) * b.w + x;
      f.known[k] = 1;
      any_known = true;
      for (size_t c = 0; c < 3; ++c) f.d[k][c] = float(s[4 * x + int(c)]) - float(a[4 * x + int(c)]);
    }
  }
  if (!any_known) return;  // the selection covers the whole region: no edge to match
  // The finest level's interior is upsampled from the coarser solution while it is applied.
  Field coarse(0, 0);
  std::vector<uint8_t> zone;
  solve(f, &coarse, &zone);
  const bool split = !zone.empty();
  split_in_two(b.h, size_t(b.w) * b.h > 100000, [&](int y0, int y1) {
    std::optional<Upsampler> up;
    if (split) up.emplace(coarse, b.w, b.h);
    for (int y = y0; y < y1; ++y) {
      if (up) up->row(y);
      uint8_t *px = answer.at(b.x, b.y + y);
      for (int x = 0; x < b.w; ++x, px += 4) {
        const size_t k = size_t(y) * b.w + x;
        if (f.known[k]) continue;
        const std::array<float, 3> v = up && zone[k] == 2 ? up->at(x) : f.d[k];
        for (size_t c = 0; c < 3; ++c) px[c] = to_u8(px[c] + v[c]);
      }
    }
  });
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

namespace {

// 255 outside the selection and away from it: where the selection, feathered by `margin`,
// stays below 2/255. Large masks are feathered at half resolution (from the maxima of 2x2
// pixels, with half the radius): that far out the feather is smooth, and it is a quarter of
// the work.
Mask away_from(const Mask &mask, double margin) {
  const int w = mask.width, h = mask.height;
  Mask keep(w, h);
  if (w < 64 || h < 64) {
    const Mask grown = feather(mask, margin);
    for (size_t i = 0; i < keep.values.size(); ++i) keep.values[i] = mask.values[i] == 0 && grown.values[i] < 2 ? 255 : 0;
    return keep;
  }
  Mask small(w / 2, h / 2);
  for (int y = 0; y < small.height; ++y)
    for (int x = 0; x < small.width; ++x)
      small.at(x, y) = std::max({mask.at(2 * x, 2 * y), mask.at(2 * x + 1, 2 * y), mask.at(2 * x, 2 * y + 1),
                                 mask.at(2 * x + 1, 2 * y + 1)});
  const Mask grown = feather(small, margin / 2);
  for (int y = 0; y < h; ++y) {
    const uint8_t *g = &grown.values[size_t(std::min(y / 2, grown.height - 1)) * grown.width];
    const uint8_t *m = &mask.values[size_t(y) * w];
    uint8_t *k = &keep.values[size_t(y) * w];
    for (int x = 0; x < w; ++x) k[x] = m[x] == 0 && g[std::min(x / 2, grown.width - 1)] < 2 ? 255 : 0;
  }
  return keep;
}

}  // namespace

Image correct(const Image &sent, const Image &answer, const Mask *mask, const Options &opts, Report *report) {
  auto t0 = std::chrono::steady_clock::now();
  Report r;
  if (sent.width != answer.width || sent.height != answer.height || !opts.any()) {
    if (report) *report = r;
    return answer;
  }
  // The kept context, away from the selection (the model may blur or restyle its surroundings).
  Mask keep(sent.width, sent.height, 255);
  if (mask) keep = away_from(*mask, std::max(4.0, 0.02 * std::max(sent.width, sent.height)));
  for (size_t i = 0; i < keep.values.size(); ++i)
    if (sent.pixels[i * 4 + 3] < 255 || answer.pixels[i * 4 + 3] == 0) keep.values[i] = 0;
  Image out;  // the answer, registered when it drifted
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
  if (!r.registered) out = answer;
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
