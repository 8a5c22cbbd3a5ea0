// Images, masks, codecs and pixel operations.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>

#include <glib.h>
#include <glib/gstdio.h>

#include <gtest/gtest.h>
#include <spng.h>
#include <turbojpeg.h>
#include <webp/decode.h>
#include <webp/encode.h>
#include <zlib.h>

#include "core/image/image.hpp"
#include "core/util/error.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using namespace genfill::test;

namespace {

// ---- helpers ----------------------------------------------------------------------------------

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

Image noise(int w, int h, unsigned seed, bool opaque = false) {
  Image img(w, h);
  std::mt19937 rng(seed);
  for (auto &v : img.pixels) v = uint8_t(rng());
  if (opaque)
    for (size_t i = 3; i < img.pixels.size(); i += 4) img.pixels[i] = 255;
  return img;
}

Image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b, uint8_t a) {
  Image img(w, h);
  for (size_t i = 0; i < img.pixels.size(); i += 4) {
    img.pixels[i] = r;
    img.pixels[i + 1] = g;
    img.pixels[i + 2] = b;
    img.pixels[i + 3] = a;
  }
  return img;
}

double mean(const Image &img, int c) {
  double s = 0;
  for (size_t i = size_t(c); i < img.pixels.size(); i += 4) s += img.pixels[i];
  return s / (double(img.pixels.size()) / 4);
}

double mean(const Mask &m) {
  double s = 0;
  for (uint8_t v : m.values) s += v;
  return s / double(m.values.size());
}

std::string message_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    return e.message();
  }
  return "";
}

std::vector<uint8_t> jpeg_of(const Image &img, int quality = 95, int pixel_format = TJPF_RGBA,
                             const uint8_t *pixels = nullptr) {
  tjhandle tj = tjInitCompress();
  unsigned char *jpeg = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(tj, pixels ? pixels : img.pixels.data(), img.width, 0, img.height, pixel_format, &jpeg, &size,
                       TJSAMP_444, quality, 0);
  std::vector<uint8_t> bytes;
  if (rc == 0) bytes.assign(jpeg, jpeg + size);
  tjFree(jpeg);
  tjDestroy(tj);
  return bytes;
}

std::vector<uint8_t> webp_of(const Image &img, bool lossless) {
  uint8_t *out = nullptr;
  size_t size = lossless ? WebPEncodeLosslessRGBA(img.pixels.data(), img.width, img.height, img.width * 4, &out)
                         : WebPEncodeRGBA(img.pixels.data(), img.width, img.height, img.width * 4, 90.f, &out);
  std::vector<uint8_t> bytes(out, out + size);
  WebPFree(out);
  return bytes;
}

// A PNG in any colour type and depth, written by libspng directly (raw rows in PNG layout).
std::vector<uint8_t> png_raw(int w, int h, uint8_t color_type, uint8_t depth, const std::vector<uint8_t> &rows,
                             const spng_plte *plte = nullptr, const spng_trns *trns = nullptr) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = uint32_t(w);
  ihdr.height = uint32_t(h);
  ihdr.bit_depth = depth;
  ihdr.color_type = color_type;
  spng_set_ihdr(ctx, &ihdr);
  if (plte) spng_set_plte(ctx, const_cast<spng_plte *>(plte));
  if (trns) spng_set_trns(ctx, const_cast<spng_trns *>(trns));
  std::vector<uint8_t> png;
  if (spng_encode_image(ctx, rows.data(), rows.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE) == 0) {
    size_t size = 0;
    int err = 0;
    void *buf = spng_get_png_buffer(ctx, &size, &err);
    png.assign(static_cast<uint8_t *>(buf), static_cast<uint8_t *>(buf) + size);
    free(buf);
  }
  spng_ctx_free(ctx);
  return png;
}

uint32_t be32(const uint8_t *p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
void put_be32(uint8_t *p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}

// Rewrites the IHDR of a PNG to claim w x h (with a correct checksum), keeping the tiny data.
std::vector<uint8_t> png_claiming(int w, int h) {
  std::vector<uint8_t> png = encode_png(Image(1, 1));
  EXPECT_EQ(std::memcmp(&png[12], "IHDR", 4), 0);
  put_be32(&png[16], uint32_t(w));
  put_be32(&png[20], uint32_t(h));
  put_be32(&png[29], uint32_t(crc32(crc32(0, nullptr, 0), &png[12], 17)));
  return png;
}

// ---- codecs ---------------------------------------------------------------------------------

TEST(Codecs, SniffsByMagicBytes) {
  EXPECT_EQ(sniff_image_mime(encode_png(Image(2, 2))), "image/png");
  EXPECT_EQ(sniff_image_mime(jpeg_of(gradient(8, 8))), "image/jpeg");
  EXPECT_EQ(sniff_image_mime(webp_of(gradient(8, 8), true)), "image/webp");
  const uint8_t riff_wave[] = {'R', 'I', 'F', 'F', 1, 2, 3, 4, 'W', 'A', 'V', 'E'};
  EXPECT_EQ(sniff_image_mime(riff_wave), "");
  const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a'};
  EXPECT_EQ(sniff_image_mime(gif), "");
  const uint8_t two[] = {0xFF, 0xD8};
  EXPECT_EQ(sniff_image_mime(two), "");
  EXPECT_EQ(sniff_image_mime({}), "");
}

TEST(Codecs, PngRoundTripIsExactAtEveryLevel) {
  Image img = noise(37, 23, 1);
  size_t stored = 0;
  for (int level : {0, 1, 3, 6, 9}) {
    SCOPED_TRACE(level);
    std::vector<uint8_t> png = encode_png(img, level);
    EXPECT_EQ(sniff_image_mime(png), "image/png");
    EXPECT_EQ(png[25], 6);  // IHDR colour type: RGBA
    EXPECT_EQ(png[24], 8);  // 8 bits
    Image back = decode_image(png);
    ASSERT_EQ(back.width, 37);
    ASSERT_EQ(back.height, 23);
    EXPECT_EQ(back.pixels, img.pixels);
    if (level == 0) stored = png.size();
  }
  // Compression does something on compressible pictures.
  Image g = gradient(256, 256);
  EXPECT_LT(encode_png(g, 3).size() * 4, encode_png(g, 0).size());
  EXPECT_GE(stored, img.pixels.size());
}

TEST(Codecs, OpaquePicturesAreWrittenWithoutAlpha) {
  // Uploads are mostly opaque photos: a constant alpha channel only costs bytes and time.
  Image img = noise(97, 61, 3, true);
  std::vector<uint8_t> rgb = encode_png(img);
  ASSERT_GT(rgb.size(), 25u);
  EXPECT_EQ(rgb[25], 2) << "PNG colour type 2: RGB";
  EXPECT_EQ(decode_image(rgb).pixels, img.pixels) << "read back with alpha 255, exactly";
  std::vector<uint8_t> rgba = encode_png(img, 3, PngAlpha::Always);
  EXPECT_EQ(rgba[25], 6) << "alpha when asked for";
  EXPECT_LT(rgb.size(), rgba.size());
  EXPECT_EQ(decode_image(rgba).pixels, img.pixels);
  img.at(50, 30)[3] = 254;  // one pixel not quite opaque: alpha is kept
  std::vector<uint8_t> kept = encode_png(img);
  EXPECT_EQ(kept[25], 6);
  EXPECT_EQ(decode_image(kept).pixels, img.pixels);
}

TEST(Codecs, GrayMaskPngRoundTrip) {
  Mask m(19, 7);
  for (size_t i = 0; i < m.values.size(); ++i) m.values[i] = uint8_t(i * 13);
  std::vector<uint8_t> png = encode_png(m);
  EXPECT_EQ(png[25], 0);  // IHDR colour type: grayscale
  EXPECT_EQ(be32(&png[16]), 19u);
  Image back = decode_image(png);
  ASSERT_EQ(back.width, 19);
  ASSERT_EQ(back.height, 7);
  for (size_t i = 0; i < m.values.size(); ++i) {
    EXPECT_EQ(back.pixels[i * 4], m.values[i]);
    EXPECT_EQ(back.pixels[i * 4 + 1], m.values[i]);
    EXPECT_EQ(back.pixels[i * 4 + 2], m.values[i]);
    EXPECT_EQ(back.pixels[i * 4 + 3], 255);
  }
}

TEST(Codecs, EncodingNothingIsAnError) {
  EXPECT_EQ(code_of([] { encode_png(Image()); }), "invalid-input");
  EXPECT_EQ(code_of([] { encode_png(Mask()); }), "invalid-input");
  Image broken(4, 4);
  broken.pixels.resize(10);  // inconsistent with its size: refused rather than read past the end
  EXPECT_EQ(code_of([&] { encode_png(broken); }), "invalid-input");
}

TEST(Codecs, DecodesEveryPngColourTypeToRgba8) {
  // 16-bit RGB: the high byte survives.
  std::vector<uint8_t> rgb16;
  for (int i = 0; i < 3 * 2; ++i) {
    const uint16_t v = uint16_t((i * 40 + 7) * 257);
    rgb16.push_back(uint8_t(v >> 8));
    rgb16.push_back(uint8_t(v));
  }
  Image a = decode_image(png_raw(2, 1, SPNG_COLOR_TYPE_TRUECOLOR, 16, rgb16));
  ASSERT_EQ(a.width, 2);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.pixels[size_t(i / 3 * 4 + i % 3)], i * 40 + 7);
  EXPECT_EQ(a.pixels[3], 255);

  // Gray + alpha.
  Image b = decode_image(png_raw(2, 1, SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 8, {10, 20, 30, 40}));
  EXPECT_EQ(std::vector<uint8_t>(b.pixels.begin(), b.pixels.end()),
            (std::vector<uint8_t>{10, 10, 10, 20, 30, 30, 30, 40}));

  // 1-bit gray: 0 -> black, 1 -> white.
  Image c = decode_image(png_raw(8, 1, SPNG_COLOR_TYPE_GRAYSCALE, 1, {0b10100000}));
  EXPECT_EQ(c.at(0, 0)[0], 255);
  EXPECT_EQ(c.at(1, 0)[0], 0);
  EXPECT_EQ(c.at(2, 0)[0], 255);
  EXPECT_EQ(c.at(3, 0)[0], 0);

  // Palette with transparency (tRNS).
  spng_plte plte{};
  plte.n_entries = 2;
  plte.entries[0] = {255, 0, 0, 0};
  plte.entries[1] = {0, 0, 255, 0};
  spng_trns trns{};
  trns.n_type3_entries = 1;
  trns.type3_alpha[0] = 0;
  Image d = decode_image(png_raw(2, 1, SPNG_COLOR_TYPE_INDEXED, 8, {0, 1}, &plte, &trns));
  EXPECT_EQ(d.at(0, 0)[0], 255);
  EXPECT_EQ(d.at(0, 0)[3], 0);  // index 0 is transparent
  EXPECT_EQ(d.at(1, 0)[2], 255);
  EXPECT_EQ(d.at(1, 0)[3], 255);

  // 8-bit RGB with a colour key.
  spng_trns key{};
  key.red = 1, key.green = 2, key.blue = 3;
  Image e = decode_image(png_raw(2, 1, SPNG_COLOR_TYPE_TRUECOLOR, 8, {1, 2, 3, 4, 5, 6}, nullptr, &key));
  EXPECT_EQ(e.at(0, 0)[3], 0);
  EXPECT_EQ(e.at(1, 0)[3], 255);
  EXPECT_EQ(e.at(1, 0)[2], 6);
}

TEST(Codecs, DecodesJpeg) {
  Image img = gradient(64, 48);
  std::vector<uint8_t> bytes = jpeg_of(img);
  ASSERT_FALSE(bytes.empty());
  Image back = decode_image(bytes);
  ASSERT_EQ(back.width, 64);
  ASSERT_EQ(back.height, 48);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean(back, c), mean(img, c), 2.0);
  double err = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i) err += std::abs(back.pixels[i] - img.pixels[i]);
  EXPECT_LT(err / double(img.pixels.size()), 3.0);
  for (size_t i = 3; i < back.pixels.size(); i += 4) ASSERT_EQ(back.pixels[i], 255);
}

TEST(Codecs, DecodesCmykJpeg) {
  // Inverted (Adobe) CMYK as libjpeg keeps it: R = C * K / 255.
  Image want(16, 8);
  std::vector<uint8_t> cmyk(want.pixels.size());
  for (size_t i = 0; i < cmyk.size(); i += 4) {
    cmyk[i] = uint8_t(i * 3), cmyk[i + 1] = uint8_t(255 - i), cmyk[i + 2] = 200, cmyk[i + 3] = 230;
    for (int c = 0; c < 3; ++c) want.pixels[i + size_t(c)] = uint8_t(std::lround(cmyk[i + size_t(c)] * 230 / 255.0));
  }
  std::vector<uint8_t> bytes = jpeg_of(want, 100, TJPF_CMYK, cmyk.data());
  ASSERT_FALSE(bytes.empty());
  Image back = decode_image(bytes);
  ASSERT_EQ(back.width, 16);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean(back, c), mean(want, c), 3.0) << c;
  EXPECT_EQ(back.pixels[3], 255);
}

TEST(Codecs, DecodesWebpLossyAndLosslessWithAlpha) {
  Image img = gradient(32, 16);
  for (size_t i = 3; i < img.pixels.size(); i += 8) img.pixels[i] = 0;
  std::vector<uint8_t> lossless = webp_of(img, true);
  Image back = decode_image(lossless);
  ASSERT_EQ(back.width, 32);
  ASSERT_EQ(back.height, 16);
  for (size_t i = 3; i < img.pixels.size(); i += 4) EXPECT_EQ(back.pixels[i], img.pixels[i]);
  for (size_t i = 0; i < img.pixels.size(); i += 4)
    if (img.pixels[i + 3]) {
      EXPECT_EQ(std::memcmp(&back.pixels[i], &img.pixels[i], 4), 0);
    }

  Image opaque = gradient(48, 40);
  Image lossy = decode_image(webp_of(opaque, false));
  ASSERT_EQ(lossy.width, 48);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean(lossy, c), mean(opaque, c), 3.0);
}

TEST(Codecs, GarbageAndTruncatedDataAreBadResponses) {
  const std::string bad_message = "The service sent a picture genfill cannot read.";
  std::vector<uint8_t> junk(100, 'x');
  EXPECT_EQ(code_of([&] { decode_image(junk); }), "bad-response");
  EXPECT_EQ(message_of([&] { decode_image(junk); }), bad_message);
  EXPECT_EQ(code_of([&] { decode_image(std::vector<uint8_t>{}); }), "bad-response");

  std::vector<uint8_t> png = encode_png(noise(50, 50, 2));
  std::vector<uint8_t> jpeg = jpeg_of(noise(50, 50, 3, true));
  std::vector<uint8_t> webp = webp_of(noise(50, 50, 4), true);
  std::vector<uint8_t> webp_lossy = webp_of(noise(50, 50, 4, true), false);
  for (const std::vector<uint8_t> *full : {&png, &jpeg, &webp, &webp_lossy}) {
    SCOPED_TRACE(sniff_image_mime(*full));
    for (size_t keep : {size_t(8), size_t(16), size_t(30), full->size() / 3, full->size() / 2, full->size() - 20}) {
      std::vector<uint8_t> cut(full->begin(), full->begin() + std::ptrdiff_t(keep));
      EXPECT_EQ(code_of([&] { decode_image(cut); }), "bad-response") << "kept " << keep << " of " << full->size();
    }
    std::vector<uint8_t> corrupt = *full;
    for (size_t i = corrupt.size() / 3; i < corrupt.size() - 2; i += 7) corrupt[i] ^= 0x5a;
    // Corrupt data either fails cleanly or decodes to something of the right size; never crashes.
    try {
      Image img = decode_image(corrupt);
      EXPECT_EQ(img.width, 50);
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::BadResponse);
    }
  }
  // A correct signature followed by nothing.
  const uint8_t sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_EQ(code_of([&] { decode_image(sig); }), "bad-response");
}

TEST(Codecs, RefusesDecompressionBombsBeforeAllocating) {
  // Every format: the limit is checked against the header.
  Image img = noise(300, 200, 6, true);
  for (const std::vector<uint8_t> &bytes : {encode_png(img), jpeg_of(img), webp_of(img, true)}) {
    SCOPED_TRACE(sniff_image_mime(bytes));
    EXPECT_EQ(code_of([&] { decode_image(bytes, 300 * 200 - 1); }), "too-large");
    EXPECT_NO_THROW(decode_image(bytes, 300 * 200));
  }
  // A 60000 x 60000 PNG header over almost no data: refused at once, nothing allocated.
  std::vector<uint8_t> bomb = png_claiming(60000, 60000);
  EXPECT_LT(bomb.size(), 200u);
  EXPECT_EQ(code_of([&] { decode_image(bomb); }), "too-large");
  // Within the limit by header but the data is missing: a clean read error.
  EXPECT_EQ(code_of([&] { decode_image(png_claiming(3000, 3000)); }), "bad-response");
  // Zero-sized headers are not pictures.
  EXPECT_EQ(code_of([&] { decode_image(png_claiming(0, 10)); }), "bad-response");
}

// A real side x side PNG of one colour, written row by row: the first row as differences from
// the pixel to the left, the others as "same as above", so it compresses about 1000 to 1.
std::vector<uint8_t> png_of_one_colour(uint32_t side) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 15, 9, Z_RLE), Z_OK);
  std::vector<uint8_t> idat, row(1 + size_t(side) * 3, 0), out(1 << 16);
  for (uint32_t y = 0; y < side; ++y) {
    row[0] = y == 0 ? 1 : 2;  // Sub, then Up
    if (y == 0) row[1] = 200, row[2] = 120, row[3] = 40;
    if (y == 1) row[1] = row[2] = row[3] = 0;
    z.next_in = row.data();
    z.avail_in = uInt(row.size());
    do {
      z.next_out = out.data();
      z.avail_out = uInt(out.size());
      deflate(&z, y + 1 == side ? Z_FINISH : Z_NO_FLUSH);
      idat.insert(idat.end(), out.begin(), out.end() - std::ptrdiff_t(z.avail_out));
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const char *type, const std::vector<uint8_t> &data) {
    uint8_t n[4];
    put_be32(n, uint32_t(data.size()));
    png.insert(png.end(), n, n + 4);
    const size_t at = png.size();
    png.insert(png.end(), type, type + 4);
    png.insert(png.end(), data.begin(), data.end());
    put_be32(n, uint32_t(crc32(crc32(0, nullptr, 0), &png[at], uInt(png.size() - at))));
    png.insert(png.end(), n, n + 4);
  };
  std::vector<uint8_t> ihdr(13, 0);
  put_be32(&ihdr[0], side);
  put_be32(&ihdr[4], side);
  ihdr[8] = 8, ihdr[9] = 2;  // 8-bit RGB
  chunk("IHDR", ihdr);
  chunk("IDAT", idat);
  chunk("IEND", {});
  return png;
}

// A small JPEG whose frame header claims w x h.
std::vector<uint8_t> jpeg_claiming(int w, int h) {
  std::vector<uint8_t> jpeg = jpeg_of(noise(16, 16, 9, true));
  for (size_t i = 2; i + 8 < jpeg.size() && jpeg[i] == 0xFF; i += 2 + (size_t(jpeg[i + 2]) << 8 | jpeg[i + 3]))
    if (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2) {  // SOF0/SOF2: length, precision, height, width
      jpeg[i + 5] = uint8_t(h >> 8), jpeg[i + 6] = uint8_t(h);
      jpeg[i + 7] = uint8_t(w >> 8), jpeg[i + 8] = uint8_t(w);
      return jpeg;
    }
  ADD_FAILURE() << "no frame header";
  return jpeg;
}

// A small lossless WebP whose header claims w x h (at most 16384 each).
std::vector<uint8_t> webp_claiming(int w, int h) {
  std::vector<uint8_t> webp = webp_of(noise(16, 16, 10), true);
  EXPECT_EQ(std::memcmp(&webp[12], "VP8L", 4), 0);
  EXPECT_EQ(webp[20], 0x2f);
  uint32_t bits = uint32_t(webp[21]) | uint32_t(webp[22]) << 8 | uint32_t(webp[23]) << 16 | uint32_t(webp[24]) << 24;
  bits = (bits & 0xF0000000u) | uint32_t(w - 1) | uint32_t(h - 1) << 14;
  for (int k = 0; k < 4; ++k) webp[size_t(21 + k)] = uint8_t(bits >> (8 * k));
  return webp;
}

TEST(Codecs, AnswerFarLargerThanAskedIsRefusedFromItsHeader) {
  // A real 16000 x 16000 PNG (1 GiB decoded) is a few hundred KB.
  const std::vector<uint8_t> png = png_of_one_colour(16000);
  EXPECT_LT(png.size(), 1u << 20);
  const std::vector<uint8_t> jpeg = jpeg_claiming(16000, 16000), webp = webp_claiming(16000, 16000);
  int w = 0, h = 0;
  ASSERT_TRUE(WebPGetInfo(webp.data(), webp.size(), &w, &h));
  EXPECT_EQ(w, 16000);
  DecodeLimit limit;
  limit.max_pixels = 4096 * 4096;
  limit.asked_w = limit.asked_h = 1024;
  for (const std::vector<uint8_t> *bytes : {&png, &jpeg, &webp}) {
    SCOPED_TRACE(sniff_image_mime(*bytes));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(code_of([&] { decode_image(*bytes, limit); }), "too-large");
    // Refused from the header: nothing decoded (a whole decode takes seconds).
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
    EXPECT_EQ(message_of([&] { decode_image(*bytes, limit); }),
              "The service sent a picture far larger than asked for (16000x16000 for a 1024x1024 request); "
              "genfill did not use it.");
  }
  // Within the picture's own limit but not in the room left by pictures already held.
  const std::vector<uint8_t> small = encode_png(noise(64, 64, 11));
  limit.room_pixels = 64 * 64 - 1;
  EXPECT_EQ(code_of([&] { decode_image(small, limit); }), "too-large");
  EXPECT_NE(message_of([&] { decode_image(small, limit); }).find("hold at once"), std::string::npos);
  limit.room_pixels = 64 * 64;
  EXPECT_EQ(decode_image(small, limit).width, 64);
  // The same size within the limit decodes (a small one of the same kind, to keep the test quick).
  limit.room_pixels = SIZE_MAX;
  const Image one = decode_image(png_of_one_colour(600), limit);
  ASSERT_EQ(one.width, 600);
  EXPECT_EQ(one.at(599, 599)[0], 200);
  EXPECT_EQ(one.at(599, 599)[2], 40);
}

// ---- files ----------------------------------------------------------------------------------

TEST(Files, SaveIsAtomicAndLoadsBack) {
  std::string dir = make_tmp_dir("img");
  std::string path = dir + "/out.png";
  Image img = noise(33, 17, 7);
  save_png_file(img, path);
  save_png_file(img, path);  // replacing works too
  Image back = load_image_file(path);
  EXPECT_EQ(back.pixels, img.pixels);
  // Only the file itself is left: no temporary files.
  GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
  int files = 0;
  while (g_dir_read_name(d)) ++files;
  g_dir_close(d);
  EXPECT_EQ(files, 1);
  remove_tree(dir);
}

TEST(Files, UnreadableFilesAreInvalidInputNamingTheFile) {
  std::string dir = make_tmp_dir("img");
  std::string missing = dir + "/missing.png";
  EXPECT_EQ(code_of([&] { load_image_file(missing); }), "invalid-input");
  EXPECT_NE(message_of([&] { load_image_file(missing); }).find(missing), std::string::npos);
  EXPECT_EQ(code_of([&] { load_mask_file(missing); }), "invalid-input");

  std::string text = dir + "/notes.png";
  ASSERT_TRUE(g_file_set_contents(text.c_str(), "not a picture", -1, nullptr));
  EXPECT_EQ(code_of([&] { load_image_file(text); }), "invalid-input");
  EXPECT_NE(message_of([&] { load_image_file(text); }).find(text), std::string::npos);

  std::string nowhere = dir + "/no/such/folder/out.png";
  EXPECT_EQ(code_of([&] { save_png_file(Image(2, 2), nowhere); }), "invalid-input");
  EXPECT_NE(message_of([&] { save_png_file(Image(2, 2), nowhere); }).find(nowhere), std::string::npos);
  remove_tree(dir);
}

TEST(Files, LoadsJpegAndWebpFiles) {
  std::string dir = make_tmp_dir("img");
  Image img = gradient(40, 30);
  for (auto [name, bytes] : {std::pair{"a.jpg", jpeg_of(img)}, std::pair{"b.webp", webp_of(img, true)}}) {
    std::string path = dir + "/" + name;
    ASSERT_TRUE(g_file_set_contents(path.c_str(), reinterpret_cast<const char *>(bytes.data()), gssize(bytes.size()),
                                    nullptr));
    Image back = load_image_file(path);
    EXPECT_EQ(back.width, 40);
    EXPECT_NEAR(mean(back, 0), mean(img, 0), 2.0);
  }
  remove_tree(dir);
}

TEST(Files, MaskFromAlphaOrLuminance) {
  std::string dir = make_tmp_dir("img");
  std::string path = dir + "/m.png";
  Image rgba(4, 1);
  for (int x = 0; x < 4; ++x) {
    uint8_t *p = rgba.at(x, 0);
    p[0] = p[1] = p[2] = 0;
    p[3] = uint8_t(x * 80);
  }
  save_png_file(rgba, path);
  Mask m = load_mask_file(path);
  for (int x = 0; x < 4; ++x) EXPECT_EQ(m.at(x, 0), x * 80);

  // Opaque colour: Rec. 601 luminance.
  Image rgb(4, 1);
  rgb.pixels = {255, 255, 255, 255, 0, 0, 0, 255, 255, 0, 0, 255, 0, 0, 255, 255};
  save_png_file(rgb, path);
  Mask g = load_mask_file(path);
  EXPECT_EQ(g.at(0, 0), 255);
  EXPECT_EQ(g.at(1, 0), 0);
  EXPECT_EQ(g.at(2, 0), 76);  // 0.299 * 255
  EXPECT_EQ(g.at(3, 0), 29);  // 0.114 * 255

  // A grayscale PNG (as genfill writes masks) comes back unchanged.
  Mask gray(9, 5);
  for (size_t i = 0; i < gray.values.size(); ++i) gray.values[i] = uint8_t(i * 37);
  std::vector<uint8_t> png = encode_png(gray);
  ASSERT_TRUE(g_file_set_contents(path.c_str(), reinterpret_cast<const char *>(png.data()), gssize(png.size()),
                                  nullptr));
  EXPECT_EQ(load_mask_file(path).values, gray.values);
  remove_tree(dir);
}

TEST(Files, ReadsTheSharedFixtures) {
  const char *fixtures = g_getenv("GENFILL_FIXTURES");
  if (!fixtures) GTEST_SKIP() << "GENFILL_FIXTURES is not set";
  std::string assets = std::string(fixtures) + "/_assets/";
  Image input = load_image_file(assets + "input_2x2.png");
  ASSERT_EQ(input.width, 2);
  ASSERT_EQ(input.height, 2);
  EXPECT_EQ(input.at(0, 0)[0], 255);  // red
  EXPECT_EQ(input.at(1, 0)[1], 255);  // green
  EXPECT_EQ(input.at(0, 1)[2], 255);  // blue
  for (int c = 0; c < 4; ++c) EXPECT_EQ(input.at(1, 1)[c], 255);  // white
  Mask mask = load_mask_file(assets + "mask_2x2.png");
  EXPECT_EQ(mask.at(0, 0), 0);  // alpha 0 there
  EXPECT_EQ(mask.at(1, 1), 255);
  Image out = load_image_file(assets + "output_1x1.png");
  EXPECT_EQ(out.width, 1);
  EXPECT_EQ(out.at(0, 0)[0], out.at(0, 0)[1]);  // grey
}

// ---- crop and scale -------------------------------------------------------------------------

TEST(Ops, CropCopiesTheRectangle) {
  Image img = gradient(20, 10);
  Image c = crop(img, Rect{5, 2, 4, 3});
  ASSERT_EQ(c.width, 4);
  ASSERT_EQ(c.height, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(std::memcmp(c.at(x, y), img.at(5 + x, 2 + y), 4), 0);
  EXPECT_EQ(crop(img, Rect{0, 0, 20, 10}).pixels, img.pixels);
  for (Rect bad : {Rect{18, 0, 4, 4}, Rect{-1, 0, 2, 2}, Rect{0, 9, 1, 2}, Rect{3, 3, 0, 2}})
    EXPECT_EQ(code_of([&] { crop(img, bad); }), "invalid-input");

  Mask m(6, 4);
  for (size_t i = 0; i < m.values.size(); ++i) m.values[i] = uint8_t(i);
  Mask mc = crop(m, Rect{2, 1, 3, 2});
  EXPECT_EQ(mc.values, (std::vector<uint8_t>{8, 9, 10, 14, 15, 16}));
  EXPECT_EQ(code_of([&] { crop(m, Rect{4, 0, 3, 1}); }), "invalid-input");
}

TEST(Ops, ScalingAConstantPictureKeepsIt) {
  Image img = solid(40, 30, 200, 10, 99, 255);
  Image half = solid(40, 30, 17, 240, 3, 128);
  for (auto [w, h] : {std::pair{13, 7}, std::pair{97, 71}, std::pair{1, 1}, std::pair{40, 1}, std::pair{400, 3},
                      std::pair{7, 300}}) {
    for (const Image *src : {&img, &half}) {
      Image s = scale(*src, w, h);
      ASSERT_EQ(s.width, w);
      ASSERT_EQ(s.height, h);
      for (size_t i = 0; i < s.pixels.size(); ++i) ASSERT_EQ(s.pixels[i], src->pixels[i % 4]) << w << "x" << h;
    }
  }
  Mask m(40, 30, 77);
  for (auto [w, h] : {std::pair{13, 7}, std::pair{97, 71}, std::pair{1, 1}}) {
    Mask s = scale(m, w, h);
    ASSERT_EQ(s.values.size(), size_t(w) * size_t(h));
    for (uint8_t v : s.values) ASSERT_EQ(v, 77);
  }
}

TEST(Ops, ScalingToTheSameSizeIsTheIdentity) {
  Image img = noise(31, 17, 8);
  EXPECT_EQ(scale(img, 31, 17).pixels, img.pixels);
  Mask m(5, 5, 3);
  EXPECT_EQ(scale(m, 5, 5).values, m.values);
  // One axis only: the other axis is left exactly as it was.
  Image opaque = noise(31, 17, 9, true);
  Image wide = scale(opaque, 31, 40);
  Image back = scale(wide, 31, 17);
  double err = 0;
  for (size_t i = 0; i < back.pixels.size(); ++i) err += std::abs(back.pixels[i] - opaque.pixels[i]);
  EXPECT_LT(err / double(back.pixels.size()), 12.0);
  EXPECT_EQ(code_of([&] { scale(img, 0, 5); }), "invalid-input");
  EXPECT_EQ(code_of([&] { scale(Image(), 5, 5); }), "invalid-input");
  EXPECT_EQ(code_of([&] { scale(Mask(), 5, 5); }), "invalid-input");
}

TEST(Ops, DownscaleKeepsTheMeanOfAGradient) {
  Image img = gradient(997, 601);
  for (auto [w, h] : {std::pair{100, 60}, std::pair{333, 200}, std::pair{13, 601}, std::pair{997, 37}}) {
    Image s = scale(img, w, h);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean(s, c), mean(img, c), 1.0) << w << "x" << h << " channel " << c;
    // A horizontal ramp stays a ramp: non-decreasing along x.
    for (int y = 0; y < h; y += std::max(1, h / 7))
      for (int x = 1; x < w; ++x) ASSERT_GE(s.at(x, y)[0] + 1, s.at(x - 1, y)[0]) << x << "," << y;
  }
}

TEST(Ops, DownscaleAveragesInsteadOfSampling) {
  // A one-pixel checkerboard halved: every output pixel covers both colours.
  Image board(64, 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      uint8_t v = (x + y) % 2 ? 255 : 0;
      uint8_t *p = board.at(x, y);
      p[0] = p[1] = p[2] = v;
      p[3] = 255;
    }
  for (int size : {32, 21, 8}) {
    Image s = scale(board, size, size);
    for (size_t i = 0; i < s.pixels.size(); i += 4) ASSERT_NEAR(s.pixels[i], 127.5, 12.0) << size;
  }
  // White noise: an averaging filter shrinks the spread, point sampling would not.
  Image img = noise(400, 300, 3, true);
  Image s = scale(img, 100, 75);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean(s, c), mean(img, c), 1.5);
  double var = 0, m = mean(s, 0);
  for (size_t i = 0; i < s.pixels.size(); i += 4) var += (s.pixels[i] - m) * (s.pixels[i] - m);
  EXPECT_LT(std::sqrt(var / double(s.pixels.size() / 4)), 30.0);
}

TEST(Ops, UpscaleInterpolatesSmoothly) {
  Image ramp(16, 1);
  for (int x = 0; x < 16; ++x) {
    uint8_t *p = ramp.at(x, 0);
    p[0] = p[1] = p[2] = uint8_t(x * 16);
    p[3] = 255;
  }
  Image up = scale(ramp, 64, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 1; x < 64; ++x) ASSERT_GE(up.at(x, y)[0], up.at(x - 1, y)[0]);
  EXPECT_LE(up.at(0, 0)[0], 2);
  EXPECT_GE(up.at(63, 0)[0], 238);
  // An interpolating kernel: a 2x upscale then a 2x downscale comes back close.
  Image img = gradient(50, 40);
  Image back = scale(scale(img, 100, 80), 50, 40);
  double err = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i) err += std::abs(back.pixels[i] - img.pixels[i]);
  EXPECT_LT(err / double(img.pixels.size()), 3.0);
}

TEST(Ops, TransparentPixelsDoNotBleedColour) {
  Image img(2, 1);
  uint8_t *a = img.at(0, 0), *b = img.at(1, 0);
  a[0] = 255, a[1] = 0, a[2] = 0, a[3] = 0;    // transparent red
  b[0] = 0, b[1] = 0, b[2] = 255, b[3] = 255;  // opaque blue
  Image s = scale(img, 8, 3);
  int seen = 0;
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 8; ++x) {
      const uint8_t *p = s.at(x, y);
      if (p[3] == 0) continue;
      ++seen;
      EXPECT_LE(p[0], 1) << "x=" << x;
      EXPECT_GE(p[2], 254) << "x=" << x;
    }
  EXPECT_GT(seen, 4);
  // The same on downscale, in a bigger picture: transparent red stripes among opaque blue ones.
  Image stripes(90, 30);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 90; ++x) {
      uint8_t *p = stripes.at(x, y);
      if (x % 3 == 0) p[0] = 255, p[1] = 0, p[2] = 0, p[3] = 0;
      else p[0] = 0, p[1] = 0, p[2] = 255, p[3] = 255;
    }
  Image d = scale(stripes, 17, 11);
  for (size_t i = 0; i < d.pixels.size(); i += 4) {
    ASSERT_LE(d.pixels[i], 1);
    ASSERT_GE(d.pixels[i + 2], 254);
    ASSERT_NEAR(d.pixels[i + 3], 170, 40);  // about two thirds covered
  }
}

TEST(Ops, StripsAndBandsGiveExactlyTheWholeScale) {
  // Hosts write large results strip by strip and read large sources band by band; both must
  // be indistinguishable from scaling the whole picture, down and up, at any strip height.
  const Image src = noise(997, 613, 7);
  Mask msrc(src.width, src.height);
  for (size_t i = 0; i < msrc.values.size(); ++i) msrc.values[i] = src.pixels[i * 4 + 1];
  for (auto [w, h] : {std::pair{401, 259}, std::pair{1500, 900}, std::pair{997, 613}}) {
    const Image whole = scale(src, w, h);
    const Mask mwhole = scale(msrc, w, h);
    for (int rows : {1, 7, 64, h}) {
      for (int first = 0; first < h; first += rows) {
        const int last = std::min(h, first + rows);
        const auto [s0, s1] = scale_source_rows(src.height, h, first, last);
        ASSERT_LE(0, s0);
        ASSERT_LT(s0, s1);
        ASSERT_LE(s1, src.height);
        const Image band = crop(src, Rect{0, s0, src.width, s1 - s0});
        const Image a = scale_rows(src, w, h, first, last), b = scale_band(band, s0, src.height, w, h, first, last);
        ASSERT_EQ(a.height, last - first);
        ASSERT_EQ(b.height, last - first);
        const size_t off = size_t(first) * size_t(w) * 4;
        ASSERT_TRUE(std::equal(a.pixels.begin(), a.pixels.end(), whole.pixels.begin() + std::ptrdiff_t(off)))
            << w << "x" << h << " rows " << first << ".." << last;
        ASSERT_EQ(a.pixels, b.pixels) << w << "x" << h << " rows " << first << ".." << last;
        const Mask mband = crop(msrc, Rect{0, s0, src.width, s1 - s0});
        const Mask mb = scale_band(mband, s0, src.height, w, h, first, last);
        ASSERT_TRUE(std::equal(mb.values.begin(), mb.values.end(),
                               mwhole.values.begin() + std::ptrdiff_t(size_t(first) * size_t(w))))
            << "mask " << w << "x" << h << " rows " << first << ".." << last;
        if (s1 - s0 > 1 && w != src.width) {  // a band short of what the rows need is refused
          const Image short_band = crop(src, Rect{0, s0 + 1, src.width, s1 - s0 - 1});
          EXPECT_THROW(scale_band(short_band, s0 + 1, src.height, w, h, first, last), Error);
        }
      }
    }
  }
}

TEST(Ops, ScalingLargePicturesIsFast) {
  // 6000x4000 -> 1024x683 is the size of the usual full-picture upload. About 0.12 s on one
  // core of the reference machine; the bound leaves room for slow and sanitizer builds.
  Image big(6000, 4000);
  for (int y = 0; y < 4000; ++y) {
    uint8_t *p = big.at(0, y);
    for (int x = 0; x < 6000; ++x, p += 4) {
      p[0] = uint8_t(x), p[1] = uint8_t(y), p[2] = uint8_t(x ^ y), p[3] = 255;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  Image s = scale(big, 1024, 683);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("downscale_ms", int(seconds * 1000));
  std::printf("6000x4000 -> 1024x683: %.3f s\n", seconds);
  EXPECT_EQ(s.width, 1024);
  EXPECT_LT(seconds, 4.0);
}

TEST(Ops, MaskScaleAverages) {
  // Alternate columns on and off, halved: away from the ends every output covers one of each.
  Mask m(64, 2, 0);
  for (int x = 0; x < 64; x += 2) m.at(x, 0) = m.at(x, 1) = 255;
  Mask s = scale(m, 32, 1);
  for (int x = 4; x < 28; ++x) EXPECT_NEAR(s.at(x, 0), 128, 2) << x;
  EXPECT_NEAR(mean(s), mean(m), 3.0);
  Mask up = scale(Mask(3, 3, 255), 10, 10);
  for (uint8_t v : up.values) EXPECT_EQ(v, 255);
}

// ---- feathering -------------------------------------------------------------------------------

TEST(Ops, FeatherIsSymmetricAndBounded) {
  Mask m(41, 41, 0);
  for (int y = 10; y <= 30; ++y)
    for (int x = 10; x <= 30; ++x) m.at(x, y) = 255;
  for (double radius : {0.5, 1.0, 3.0, 6.0, 17.0}) {
    SCOPED_TRACE(radius);
    Mask f = feather(m, radius);
    ASSERT_EQ(f.values.size(), m.values.size());
    if (radius <= 6) {
      EXPECT_EQ(f.at(20, 20), 255);
      EXPECT_EQ(f.at(0, 0), 0);
    }
    EXPECT_GT(f.at(9, 20), 0);
    EXPECT_LT(f.at(10, 20), 255);
    if (radius <= 6) {
      EXPECT_NEAR(f.at(10, 20) + f.at(9, 20), 255, 2);  // the edge sits at half
    }
    for (int i = 0; i < 41; ++i)
      for (int j = 0; j < 41; ++j) {
        ASSERT_EQ(f.at(i, j), f.at(40 - i, j));
        ASSERT_EQ(f.at(i, j), f.at(i, 40 - j));
        ASSERT_NEAR(f.at(i, j), f.at(j, i), 1);
      }
    // Monotone from the centre outwards.
    for (int x = 21; x < 41; ++x) ASSERT_LE(f.at(x, 20), f.at(x - 1, 20));
  }
  EXPECT_EQ(feather(m, 0).values, m.values);
  EXPECT_EQ(feather(m, -3).values, m.values);
  EXPECT_EQ(feather(Mask(30, 20, 200), 9).values, Mask(30, 20, 200).values);
}

TEST(Ops, FeatherFollowsTheGaussian) {
  // A vertical edge: the profile is 255 * Phi((x - edge) / sigma) with sigma = radius / 2.
  for (double radius : {2.0, 3.0, 4.0, 10.0, 24.0, 60.0}) {
    const double sigma = radius / 2;
    Mask m(400, 3, 0);
    for (int y = 0; y < 3; ++y)
      for (int x = 200; x < 400; ++x) m.at(x, y) = 255;
    Mask f = feather(m, radius);
    double worst = 0;
    for (int x = 0; x < 400; ++x) {
      double want = 255 * 0.5 * std::erfc(-(x + 0.5 - 200) / (sigma * std::sqrt(2.0)));
      worst = std::max(worst, std::abs(f.at(x, 1) - want));
    }
    EXPECT_LT(worst, 3.0) << "radius " << radius;
  }
  // Away from the borders blurring moves coverage around but keeps its total.
  Mask dot(200, 200, 0);
  for (int y = 80; y < 120; ++y)
    for (int x = 70; x < 110; ++x) dot.at(x, y) = 255;
  EXPECT_NEAR(mean(feather(dot, 20)), mean(dot), 0.2);
}

TEST(Ops, FeatherInsideKeepsTheOutsideUntouched) {
  Mask m(60, 40, 0);
  for (int y = 5; y < 35; ++y)
    for (int x = 10; x < 50; ++x) m.at(x, y) = 255;
  Mask f = feather_inside(m, 8);
  for (size_t i = 0; i < m.values.size(); ++i) {
    if (m.values[i] == 0) {
      ASSERT_EQ(f.values[i], 0);
    }
    ASSERT_LE(f.values[i], m.values[i]);
  }
  EXPECT_EQ(f.at(30, 20), 255);
  EXPECT_LT(f.at(10, 20), 160);
  EXPECT_GT(f.at(10, 20), 0);
  EXPECT_EQ(feather_inside(m, 0).values, m.values);
}

TEST(Ops, FeatherOfALargeMaskIsFast) {
  Mask m(4000, 3000, 0);
  for (int y = 500; y < 2500; ++y) std::memset(&m.at(700, y), 255, 2600);
  auto t0 = std::chrono::steady_clock::now();
  Mask f = feather(m, 40);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("feather 4000x3000, radius 40: %.3f s\n", seconds);
  EXPECT_EQ(f.at(2000, 1500), 255);
  EXPECT_LT(seconds, 4.0);
}

// ---- bounds and compositing -------------------------------------------------------------------

TEST(Ops, MaskBoundsOfNonRectangularShapes) {
  Mask m(50, 40, 0);
  EXPECT_TRUE(mask_bounds(m).empty());
  m.at(7, 30) = 1;
  m.at(44, 3) = 200;
  EXPECT_EQ(mask_bounds(m), (Rect{7, 3, 38, 28}));
  // A ring: the hole does not matter.
  Mask ring(30, 30, 0);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 30; ++x) {
      double d = std::hypot(x - 15.0, y - 14.0);
      if (d >= 6 && d <= 9) ring.at(x, y) = 255;
    }
  EXPECT_EQ(mask_bounds(ring), (Rect{6, 5, 19, 19}));
  // A diagonal line and an L shape.
  Mask diag(20, 10, 0);
  for (int i = 0; i < 8; ++i) diag.at(3 + 2 * i, 1 + i) = 9;
  EXPECT_EQ(mask_bounds(diag), (Rect{3, 1, 15, 8}));
  Mask ell(10, 10, 0);
  for (int i = 2; i < 9; ++i) ell.at(2, i) = ell.at(i, 8) = 255;
  EXPECT_EQ(mask_bounds(ell), (Rect{2, 2, 7, 7}));
  EXPECT_EQ(mask_bounds(Mask(1, 1, 255)), (Rect{0, 0, 1, 1}));
  EXPECT_EQ(mask_bounds(Mask(13, 9, 255)), (Rect{0, 0, 13, 9}));
  Mask corner(13, 9, 0);
  corner.at(12, 8) = 1;
  EXPECT_EQ(mask_bounds(corner), (Rect{12, 8, 1, 1}));
  EXPECT_TRUE(mask_bounds(Mask()).empty());
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
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(dst.at(5, 6)[c], (before.at(5, 6)[c] + src.at(0, 0)[c]) / 2.0, 1.0);

  // A zero mask leaves the whole picture bit-identical; a full mask pastes src exactly.
  Image d2 = noise(12, 12, 6), keep = d2;
  composite(d2, noise(12, 12, 7), Mask(12, 12, 0), Rect{0, 0, 12, 12});
  EXPECT_EQ(d2.pixels, keep.pixels);
  Image s3 = noise(12, 12, 8);
  composite(d2, s3, Mask(12, 12, 255), Rect{0, 0, 12, 12});
  EXPECT_EQ(d2.pixels, s3.pixels);
}

TEST(Ops, CompositeRoundsToNearestForEveryCoverage) {
  Image dst(256, 1), src(256, 1);
  for (int d = 0; d < 256; d += 15)
    for (int s = 0; s < 256; s += 17) {
      for (int x = 0; x < 256; ++x)
        for (int c = 0; c < 4; ++c) dst.at(x, 0)[c] = uint8_t(d), src.at(x, 0)[c] = uint8_t(s);
      Mask m(256, 1);
      for (int x = 0; x < 256; ++x) m.at(x, 0) = uint8_t(x);
      composite(dst, src, m, Rect{0, 0, 256, 1});
      for (int x = 0; x < 256; ++x) {
        const long want = std::lround(d + (s - d) * x / 255.0);
        for (int c = 0; c < 4; ++c) ASSERT_EQ(dst.at(x, 0)[c], want) << "d=" << d << " s=" << s << " m=" << x;
      }
    }
}

TEST(Ops, CompositeRefusesMismatchedSizes) {
  Image dst(10, 10);
  EXPECT_EQ(code_of([&] { composite(dst, Image(4, 4), Mask(4, 4), Rect{8, 8, 4, 4}); }), "invalid-input");
  EXPECT_EQ(code_of([&] { composite(dst, Image(4, 4), Mask(3, 4), Rect{0, 0, 4, 4}); }), "invalid-input");
  EXPECT_EQ(code_of([&] { composite(dst, Image(5, 4), Mask(4, 4), Rect{0, 0, 4, 4}); }), "invalid-input");
}

}  // namespace
