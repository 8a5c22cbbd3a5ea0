// The membrane (Poisson) blend: a smooth correction that makes the answer meet what was sent
// along the selection's edge, solved coarse to fine.
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


}  // namespace genfill::seam
