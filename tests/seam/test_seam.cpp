// Known drifts applied to real pictures must be found and undone; flat pictures must fall back.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/image/image.hpp"
#include "core/seam/seam.hpp"

using namespace genfill;

namespace {

std::string picture(const char *name) {
  const char *dir = std::getenv("GENFILL_GIMP_IMAGES");
  return std::string(dir ? dir : "/usr/share/gimp/3.0/images") + "/" + name;
}

Image region_of(const char *name, int w, int h) {
  Image full = load_image_file(picture(name));
  Image flat = crop(full, Rect{(full.width - w) / 2, (full.height - h) / 2, w, h});
  for (size_t i = 3; i < flat.pixels.size(); i += 4) flat.pixels[i] = 255;
  return flat;
}

Mask ellipse(int w, int h) {
  Mask m(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double u = (x - w / 2.0) / (w * 0.3), v = (y - h / 2.0) / (h * 0.3);
      m.at(x, y) = u * u + v * v <= 1 ? 255 : 0;
    }
  return m;
}

// The model's edit: the selected area painted over with something unrelated.
void paint_inside(Image &img, const Mask &m) {
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (m.at(x, y)) {
        uint8_t *p = img.at(x, y);
        p[0] = uint8_t(40 + (x * 7) % 180);
        p[1] = uint8_t(200 - (y * 3) % 150);
        p[2] = 90;
      }
}

struct Case {
  const char *image;
  double dx, dy, scale, gain[3], offset[3];
};

class Drifts : public ::testing::TestWithParam<Case> {};

TEST_P(Drifts, RecoveredWithinHalfAPixelAndTwoLevels) {
  const Case &c = GetParam();
  const int w = 480, h = 360;
  Image sent = region_of(c.image, w, h);
  Mask m = ellipse(w, h);
  Image edited = sent;
  paint_inside(edited, m);
  Image answer = seam::apply_drift(edited, c.dx, c.dy, c.scale, c.gain, c.offset);
  seam::Report r;
  Image out = seam::correct(sent, answer, &m, seam::Options{}, &r);
  if (c.dx != 0 || c.dy != 0 || c.scale != 1) {
    ASSERT_TRUE(r.registered) << r.summary();
  }
  // Displacement of the region's corners (the largest a scale error moves anything).
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  for (double qx : {0.0, double(w - 1)})
    for (double qy : {0.0, double(h - 1)}) {
      double ex = cx + c.scale * (qx - cx) + c.dx, ey = cy + c.scale * (qy - cy) + c.dy;
      double fx = cx + r.scale * (qx - cx) + r.dx, fy = cy + r.scale * (qy - cy) + r.dy;
      EXPECT_LT(std::hypot(ex - fx, ey - fy), 0.5) << r.summary();
    }
  ASSERT_TRUE(r.colour_matched);
  // Colour: the corrected kept area matches what was sent within 2 levels on average.
  double err[3] = {}, n = 0;
  for (int y = h / 10; y < h - h / 10; ++y)
    for (int x = w / 10; x < w - w / 10; ++x) {
      double u = (x - w / 2.0) / (w * 0.38), v = (y - h / 2.0) / (h * 0.38);
      if (u * u + v * v <= 1) continue;
      for (int k = 0; k < 3; ++k) err[k] += out.at(x, y)[k] - double(sent.at(x, y)[k]);
      n += 1;
    }
  for (int k = 0; k < 3; ++k) EXPECT_LT(std::abs(err[k] / n), 2.0) << "channel " << k << " " << r.summary();
}

INSTANTIATE_TEST_SUITE_P(
    RealPictures, Drifts,
    ::testing::Values(Case{"gimp-splash.png", 0, 0, 1, {1, 1, 1}, {0, 0, 0}},
                      Case{"gimp-splash.png", 3.4, -2.7, 1, {1, 1, 1}, {0, 0, 0}},
                      Case{"gimp-splash.png", -20.5, 14.25, 1.0, {1.15, 1.15, 1.15}, {0, 0, 0}},
                      Case{"gimp-splash.png", 6.3, 4.1, 1.08, {0.85, 0.85, 0.85}, {0, 0, 0}},
                      Case{"gimp-splash.png", -4.2, 9.6, 0.92, {1.05, 0.97, 0.9}, {4, -3, 6}},
                      Case{"gimp-splash.png", 1.5, 0.5, 1.04, {1.1, 1.0, 0.92}, {-5, 2, 8}}));

TEST(Seam, FlatPictureFallsBackToNoCorrection) {
  const int w = 320, h = 240;
  Image sent(w, h);
  for (size_t i = 0; i < sent.pixels.size(); i += 4) {
    sent.pixels[i] = 120;
    sent.pixels[i + 1] = 130;
    sent.pixels[i + 2] = 140;
    sent.pixels[i + 3] = 255;
  }
  Mask m = ellipse(w, h);
  double g[3] = {1, 1, 1}, o[3] = {0, 0, 0};
  Image answer = seam::apply_drift(sent, 3, 2, 1.03, g, o);
  seam::Report r;
  Image out = seam::correct(sent, answer, &m, seam::Options{}, &r);
  EXPECT_FALSE(r.registered) << r.summary();
  EXPECT_FALSE(r.note.empty());
  EXPECT_EQ(out.width, w);
}

TEST(Seam, RawLeavesTheAnswerUntouched) {
  Image sent = region_of("gimp-splash.png", 200, 150);
  double g[3] = {1.1, 1, 1}, o[3] = {3, 0, 0};
  Image answer = seam::apply_drift(sent, 2, 1, 1.0, g, o);
  Mask m = ellipse(200, 150);
  seam::Report r;
  Image out = seam::correct(sent, answer, &m, seam::Options::raw(), &r);
  EXPECT_EQ(out.pixels, answer.pixels);
  EXPECT_FALSE(r.registered || r.colour_matched || r.blended);
}

TEST(Seam, BlendMakesTheEdgeContinuous) {
  const int w = 200, h = 150;
  Image sent = region_of("gimp-splash.png", w, h);
  Mask m = ellipse(w, h);
  Image answer = sent;
  for (size_t i = 0; i < answer.pixels.size(); i += 4) answer.pixels[i] = uint8_t(std::min(255, answer.pixels[i] + 30));
  seam::blend_membrane(sent, answer, m);
  // Just inside the edge the answer now agrees with the surroundings.
  double err = 0, n = 0;
  for (int y = 1; y < h - 1; ++y)
    for (int x = 1; x < w - 1; ++x)
      if (m.at(x, y) && (!m.at(x - 1, y) || !m.at(x + 1, y) || !m.at(x, y - 1) || !m.at(x, y + 1))) {
        err += std::abs(answer.at(x, y)[0] - double(std::min(255, int(sent.at(x, y)[0]))));
        n += 1;
      }
  EXPECT_LT(err / n, 4.0);
}

// A band of selection between two kept strips, the blend's field an odd number of pixels wide
// (a halving that rounds down would drop its last, kept, column): the correction must meet the
// kept pixels on both sides, not only on one.
TEST(Seam, BlendMeetsBothSidesOfAnOddWidthSelection) {
  const int w = 201, h = 151;
  Image sent = region_of("gimp-splash.png", w, h);
  Mask m(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 50; x < 151; ++x) m.at(x, y) = 255;
  Image answer = sent;  // red 30 levels too high left of the middle, 30 too low right of it
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = answer.at(x, y);
      p[0] = uint8_t(std::clamp(p[0] + (x <= 100 ? 30 : -30), 0, 255));
    }
  seam::blend_membrane(sent, answer, m);
  for (int x : {50, 150}) {
    double err = 0, n = 0;
    for (int y = 10; y < h - 10; ++y) {
      if (sent.at(x, y)[0] < 35 || sent.at(x, y)[0] > 220) continue;  // away from clipping
      err += std::abs(answer.at(x, y)[0] - double(sent.at(x, y)[0]));
      n += 1;
    }
    ASSERT_GT(n, 20);
    EXPECT_LT(err / n, 4.0) << "column " << x;
  }
}

}  // namespace
