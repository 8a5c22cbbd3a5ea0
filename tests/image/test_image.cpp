// Images, masks, codecs and pixel operations.
#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include <glib.h>
#include <glib/gstdio.h>

#include <gtest/gtest.h>
#include <turbojpeg.h>
#include <webp/encode.h>

#include "core/image/image.hpp"
#include "core/util/error.hpp"

using namespace genfill;

namespace {

Image gradient(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = img.at(x, y);
      p[0] = uint8_t(x * 255 / std::max(1, w - 1));
      p[1] = uint8_t(y * 255 / std::max(1, h - 1));
      p[2] = uint8_t((x + y) % 256);
      p[3] = 255;
    }
  return img;
}

Image noise(int w, int h, unsigned seed) {
  Image img(w, h);
  std::mt19937 rng(seed);
  for (auto &v : img.pixels) v = uint8_t(rng());
  return img;
}

double mean(const Image &img, int c) {
  double s = 0;
  for (size_t i = size_t(c); i < img.pixels.size(); i += 4) s += img.pixels[i];
  return s / (double(img.pixels.size()) / 4);
}

ErrorCode code_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    return e.code();
  }
  return ErrorCode(-1);
}

TEST(Codecs, PngRoundTripIsExact) {
  Image img = noise(37, 23, 1);
  std::vector<uint8_t> png = encode_png(img);
  EXPECT_EQ(sniff_image_mime(png), "image/png");
  Image back = decode_image(png);
  ASSERT_EQ(back.width, 37);
  ASSERT_EQ(back.height, 23);
  EXPECT_EQ(back.pixels, img.pixels);
}

TEST(Codecs, GrayMaskPngRoundTrip) {
  Mask m(19, 7);
  for (size_t i = 0; i < m.values.size(); ++i) m.values[i] = uint8_t(i * 13);
  Image back = decode_image(encode_png(m));
  ASSERT_EQ(back.width, 19);
  for (size_t i = 0; i < m.values.size(); ++i) {
    EXPECT_EQ(back.pixels[i * 4], m.values[i]);
    EXPECT_EQ(back.pixels[i * 4 + 3], 255);
  }
}

TEST(Codecs, DecodesJpeg) {
  Image img = gradient(64, 48);
  tjhandle tj = tjInitCompress();
  unsigned char *jpeg = nullptr;
  unsigned long size = 0;
  ASSERT_EQ(tjCompress2(tj, img.pixels.data(), 64, 0, 48, TJPF_RGBA, &jpeg, &size, TJSAMP_444, 95, 0), 0);
  std::vector<uint8_t> bytes(jpeg, jpeg + size);
  tjFree(jpeg);
  tjDestroy(tj);
  EXPECT_EQ(sniff_image_mime(bytes), "image/jpeg");
  Image back = decode_image(bytes);
  ASSERT_EQ(back.width, 64);
  ASSERT_EQ(back.height, 48);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean(back, c), mean(img, c), 2.0);
  EXPECT_EQ(back.pixels[3], 255);
}

TEST(Codecs, DecodesWebpWithAlpha) {
  Image img = gradient(32, 16);
  for (size_t i = 3; i < img.pixels.size(); i += 8) img.pixels[i] = 0;
  uint8_t *out = nullptr;
  size_t size = WebPEncodeLosslessRGBA(img.pixels.data(), 32, 16, 32 * 4, &out);
  ASSERT_GT(size, 0u);
  std::vector<uint8_t> bytes(out, out + size);
  WebPFree(out);
  EXPECT_EQ(sniff_image_mime(bytes), "image/webp");
  Image back = decode_image(bytes);
  ASSERT_EQ(back.width, 32);
  for (size_t i = 3; i < img.pixels.size(); i += 4) EXPECT_EQ(back.pixels[i], img.pixels[i]);
}

TEST(Codecs, GarbageAndTruncatedDataAreBadResponses) {
  std::vector<uint8_t> junk(100, 'x');
  EXPECT_EQ(code_of([&] { decode_image(junk); }), ErrorCode::BadResponse);
  std::vector<uint8_t> png = encode_png(noise(50, 50, 2));
  png.resize(png.size() / 2);
  EXPECT_EQ(code_of([&] { decode_image(png); }), ErrorCode::BadResponse);
  EXPECT_EQ(code_of([&] { decode_image(std::vector<uint8_t>{}); }), ErrorCode::BadResponse);
}

TEST(Codecs, RefusesDecompressionBombsBeforeAllocating) {
  std::vector<uint8_t> png = encode_png(Image(300, 300));
  EXPECT_EQ(code_of([&] { decode_image(png, 300 * 299); }), ErrorCode::TooLarge);
  EXPECT_NO_THROW(decode_image(png, 300 * 300));
}

TEST(Ops, CropCopiesTheRectangle) {
  Image img = gradient(20, 10);
  Image c = crop(img, Rect{5, 2, 4, 3});
  ASSERT_EQ(c.width, 4);
  ASSERT_EQ(c.height, 3);
  EXPECT_EQ(std::memcmp(c.at(0, 0), img.at(5, 2), 4), 0);
  EXPECT_EQ(std::memcmp(c.at(3, 2), img.at(8, 4), 4), 0);
  EXPECT_EQ(code_of([&] { crop(img, Rect{18, 0, 4, 4}); }), ErrorCode::InvalidInput);
}

TEST(Ops, ScalingAConstantPictureKeepsIt) {
  Image img(40, 30);
  for (size_t i = 0; i < img.pixels.size(); i += 4) {
    img.pixels[i] = 200;
    img.pixels[i + 1] = 10;
    img.pixels[i + 2] = 99;
    img.pixels[i + 3] = 255;
  }
  for (auto [w, h] : {std::pair{13, 7}, std::pair{97, 71}, std::pair{1, 1}, std::pair{40, 1}}) {
    Image s = scale(img, w, h);
    ASSERT_EQ(s.width, w);
    for (size_t i = 0; i < s.pixels.size(); i += 4) {
      ASSERT_EQ(s.pixels[i], 200);
      ASSERT_EQ(s.pixels[i + 1], 10);
      ASSERT_EQ(s.pixels[i + 2], 99);
      ASSERT_EQ(s.pixels[i + 3], 255);
    }
  }
}

TEST(Ops, DownscaleKeepsTheMeanAndAveragesNoise) {
  Image img = noise(400, 300, 3);
  for (size_t i = 3; i < img.pixels.size(); i += 4) img.pixels[i] = 255;
  Image s = scale(img, 100, 75);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean(s, c), mean(img, c), 1.5);
  // An averaging filter shrinks the spread of white noise; point sampling would not.
  double var = 0, m = mean(s, 0);
  for (size_t i = 0; i < s.pixels.size(); i += 4) var += (s.pixels[i] - m) * (s.pixels[i] - m);
  EXPECT_LT(std::sqrt(var / (s.pixels.size() / 4)), 30.0);
}

TEST(Ops, TransparentPixelsDoNotBleedColour) {
  Image img(2, 1);
  uint8_t *a = img.at(0, 0), *b = img.at(1, 0);
  a[0] = 255, a[1] = 0, a[2] = 0, a[3] = 0;    // transparent red
  b[0] = 0, b[1] = 0, b[2] = 255, b[3] = 255;  // opaque blue
  Image s = scale(img, 8, 1);
  for (int x = 0; x < 8; ++x) {
    const uint8_t *p = s.at(x, 0);
    if (p[3] > 0) {
      EXPECT_LE(p[0], 2) << "x=" << x;
      EXPECT_GE(p[2], 253) << "x=" << x;
    }
  }
}

TEST(Ops, FeatherIsSymmetricAndBounded) {
  Mask m(41, 41, 0);
  for (int y = 10; y <= 30; ++y)
    for (int x = 10; x <= 30; ++x) m.at(x, y) = 255;
  Mask f = feather(m, 6);
  EXPECT_EQ(f.at(20, 20), 255);
  EXPECT_EQ(f.at(0, 0), 0);
  EXPECT_GT(f.at(9, 20), 0);
  EXPECT_LT(f.at(10, 20), 255);
  EXPECT_NEAR(f.at(10, 20) + f.at(9, 20), 255, 60);  // the edge sits at about half
  for (int i = 0; i < 41; ++i) {
    EXPECT_EQ(f.at(i, 20), f.at(40 - i, 20));
    EXPECT_EQ(f.at(20, i), f.at(i, 20));
  }
  EXPECT_EQ(feather(m, 0).values, m.values);
}

TEST(Ops, MaskBoundsOfNonRectangularShapes) {
  Mask m(50, 40, 0);
  EXPECT_TRUE(mask_bounds(m).empty());
  m.at(7, 30) = 1;
  m.at(44, 3) = 200;
  EXPECT_EQ(mask_bounds(m), (Rect{7, 3, 38, 28}));
  Mask one(1, 1, 255);
  EXPECT_EQ(mask_bounds(one), (Rect{0, 0, 1, 1}));
}

TEST(Ops, CompositeIsExactAtZeroAndFullCoverage) {
  Image dst = noise(30, 20, 4), src = noise(10, 8, 5);
  Image before = dst;
  Mask m(10, 8, 0);
  for (int x = 0; x < 10; ++x) m.at(x, 7) = 255;
  m.at(0, 0) = 128;
  composite(dst, src, m, Rect{5, 6, 10, 8});
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 30; ++x) {
      bool in = x >= 5 && x < 15 && y >= 6 && y < 14;
      int mv = in ? m.at(x - 5, y - 6) : 0;
      if (mv == 0) {
        EXPECT_EQ(std::memcmp(dst.at(x, y), before.at(x, y), 4), 0);
      }
      if (mv == 255) {
        EXPECT_EQ(std::memcmp(dst.at(x, y), src.at(x - 5, y - 6), 4), 0);
      }
    }
  for (int c = 0; c < 4; ++c)
    EXPECT_NEAR(dst.at(5, 6)[c], (before.at(5, 6)[c] + src.at(0, 0)[c]) / 2.0, 1.0);
}

TEST(Files, MaskFromAlphaOrLuminance) {
  Image rgba(4, 1);
  for (int x = 0; x < 4; ++x) {
    uint8_t *p = rgba.at(x, 0);
    p[0] = p[1] = p[2] = 0;
    p[3] = uint8_t(x * 80);
  }
  std::string dir = g_dir_make_tmp("genfill-img-XXXXXX", nullptr);
  std::string path = dir + "/m.png";
  save_png_file(rgba, path);
  Mask m = load_mask_file(path);
  for (int x = 0; x < 4; ++x) EXPECT_EQ(m.at(x, 0), x * 80);

  Image gray(2, 1);
  gray.pixels = {255, 255, 255, 255, 0, 0, 0, 255};
  save_png_file(gray, path);
  Mask g = load_mask_file(path);
  EXPECT_EQ(g.at(0, 0), 255);
  EXPECT_EQ(g.at(1, 0), 0);
  g_remove(path.c_str());
  g_rmdir(dir.c_str());
  EXPECT_EQ(code_of([&] { load_image_file(dir + "/missing.png"); }), ErrorCode::InvalidInput);
}

}  // namespace
