// Seam benchmark: known drifts applied to regions of GIMP's own pictures; reports the mean
// error just inside the selection's edge before and after correction, and the time correct() takes.
//   bench-seam [IMAGE...]   (default: /usr/share/gimp/3.0/images/gimp-splash.png)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/image/image.hpp"
#include "core/seam/seam.hpp"

using namespace genfill;

namespace {

double ring_error(const Image &orig, const Image &result, const Mask &mask, double feather_px) {
  Image out = orig;
  composite(out, result, feather_inside(mask, feather_px), Rect{0, 0, orig.width, orig.height});
  double err = 0, n = 0;
  const int r = 6;
  for (int y = r; y < orig.height - r; ++y)
    for (int x = r; x < orig.width - r; ++x) {
      if (!mask.at(x, y)) continue;
      if (mask.at(x - r, y) && mask.at(x + r, y) && mask.at(x, y - r) && mask.at(x, y + r)) continue;
      for (int c = 0; c < 3; ++c) err += std::abs(out.at(x, y)[c] - double(orig.at(x, y)[c]));
      n += 3;
    }
  return n > 0 ? err / n : 0;
}

}  // namespace

int main(int argc, char **argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) files.push_back(argv[i]);
  if (files.empty()) files.push_back("/usr/share/gimp/3.0/images/gimp-splash.png");
  struct Drift {
    double dx, dy, s, g[3], o[3];
  } drifts[] = {{12, -8, 1.0, {1, 1, 1}, {0, 0, 0}},
                {-20, 15, 1.04, {1.1, 1.1, 1.1}, {-4, -4, -4}},
                {30, 25, 0.94, {0.9, 1.0, 1.08}, {5, 0, -6}}};
  std::printf("%-28s %-28s %9s %9s %8s\n", "picture / region", "drift (px, scale, gain)", "err raw", "err fixed", "ms");
  std::vector<double> times;
  for (const std::string &f : files) {
    Image full = load_image_file(f);
    const int side = std::min({1024, full.width, full.height});
    std::vector<int> xs = {0, (full.width - side) / 2, full.width - side};
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    for (int x0 : xs) {
      Image sent = crop(full, Rect{x0, (full.height - side) / 2, side, side});
      for (size_t i = 3; i < sent.pixels.size(); i += 4) sent.pixels[i] = 255;
      Mask m(side, side);  // the selection: an ellipse in the middle (the plan's 25 % context around it)
      for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
          double u = (x - side / 2.0) / (side * 0.4), v = (y - side / 2.0) / (side * 0.4);
          m.at(x, y) = u * u + v * v <= 1 ? 255 : 0;
        }
      for (const Drift &d : drifts) {
        double k = side / 1024.0;
        Image answer = seam::apply_drift(sent, d.dx * k, d.dy * k, d.s, d.g, d.o);
        seam::Report rep;
        std::vector<double> t;
        Image fixed;
        for (int run = 0; run < 3; ++run) {
          auto t0 = std::chrono::steady_clock::now();
          fixed = seam::correct(sent, answer, &m, seam::Options{}, &rep);
          t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1000);
        }
        std::sort(t.begin(), t.end());
        times.push_back(t[1]);
        std::string name = f.substr(f.rfind('/') + 1) + " @" + std::to_string(x0) + " " + std::to_string(side) + "^2";
        char dr[64];
        std::snprintf(dr, sizeof dr, "%.0f,%.0f x%.2f g%.2f", d.dx * k, d.dy * k, d.s, d.g[0]);
        if (std::getenv("SEAM_BENCH_VERBOSE")) std::printf("  %s\n", rep.summary().c_str());
        std::printf("%-28s %-28s %9.2f %9.2f %8.1f\n", name.c_str(), dr, ring_error(sent, answer, m, 8),
                    ring_error(sent, fixed, m, 8), t[1]);
      }
    }
  }
  std::sort(times.begin(), times.end());
  std::printf("median time of correct(): %.1f ms\n", times[times.size() / 2]);
  return 0;
}
