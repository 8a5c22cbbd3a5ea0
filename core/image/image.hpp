// genfill — RGBA8 images, 8-bit masks, codecs and pixel operations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace genfill {

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  bool empty() const { return w <= 0 || h <= 0; }
  int right() const { return x + w; }    // exclusive
  int bottom() const { return y + h; }   // exclusive
  bool operator==(const Rect &) const = default;
};

// Straight (not premultiplied) RGBA, 8 bits per channel, rows packed (stride = width * 4).
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  Image(int w, int h);                       // transparent black
  bool empty() const { return width <= 0 || height <= 0; }
  uint8_t *at(int x, int y) { return &pixels[(size_t(y) * width + x) * 4]; }
  const uint8_t *at(int x, int y) const { return &pixels[(size_t(y) * width + x) * 4]; }
};

// Coverage 0..255; 255 = fully selected (the area to change).
struct Mask {
  int width = 0, height = 0;
  std::vector<uint8_t> values;

  Mask() = default;
  Mask(int w, int h, uint8_t fill = 0);
  bool empty() const { return width <= 0 || height <= 0; }
  uint8_t &at(int x, int y) { return values[size_t(y) * width + x]; }
  uint8_t at(int x, int y) const { return values[size_t(y) * width + x]; }
};

// A compressed picture as it travels over the wire.
struct EncodedImage {
  std::vector<uint8_t> bytes;
  std::string mime;  // image/png, image/jpeg, image/webp
  int width = 0, height = 0;
};

// --- codecs (throw Error{BadResponse} on undecodable data, InvalidInput on unreadable files) ---

// "image/png", "image/jpeg", "image/webp" or "" from the first bytes.
std::string sniff_image_mime(std::span<const uint8_t> bytes);
// Decodes PNG, JPEG or WebP into RGBA8. Rejects images larger than max_pixels.
Image decode_image(std::span<const uint8_t> bytes, size_t max_pixels = size_t(1) << 28);
// How large an answer may be. A picture over max_pixels, or over room_pixels (what the caller can
// still hold, all pictures of a request together), is refused (Error{TooLarge}) from its header,
// before any pixel memory is taken; asked_w x asked_h (0 = not known) is the size the request
// asked for, which the refusal names.
struct DecodeLimit {
  size_t max_pixels = size_t(1) << 28;
  int asked_w = 0, asked_h = 0;
  size_t room_pixels = SIZE_MAX;
};
Image decode_image(std::span<const uint8_t> bytes, const DecodeLimit &limit);
// PNG, 8 bits per channel. level: zlib level 0..9; a fast level by default (uploads are
// compressed again by nothing). A picture with no transparent pixel is written as RGB unless
// alpha is asked for: a 1536x1024 photo is then 12 % smaller and made 20 % faster than with a
// constant alpha channel, which breaks up the colour runs the encoder codes.
enum class PngAlpha { IfUsed, Always };
std::vector<uint8_t> encode_png(const Image &img, int level = 3, PngAlpha alpha = PngAlpha::IfUsed);
// 8-bit grayscale PNG of a mask.
std::vector<uint8_t> encode_png(const Mask &mask, int level = 3);

Image load_image_file(const std::string &path);           // any supported format
void save_png_file(const Image &img, const std::string &path);  // atomic (temp file + rename)
// A mask from a file: grayscale/RGB use luminance, images with alpha use alpha
// (unless fully opaque, then luminance). White/opaque = change.
Mask load_mask_file(const std::string &path);
// The mask of an edit of a width x height picture, from a file: throws Error{InvalidInput} when it
// has another size or selects nothing.
Mask load_selection_mask(const std::string &path, int width, int height);

// --- pixel operations ---

Image crop(const Image &img, Rect r);        // r must lie inside img
Mask crop(const Mask &mask, Rect r);
// Resamples with a separable filter (Catmull-Rom, stretched into an averaging filter on
// downscale), alpha-weighted so transparent pixels do not bleed colour.
Image scale(const Image &img, int width, int height);
// Rows [first, last) of scale(img, width, height), without making the rest: a host writes a large
// result strip by strip and never holds it whole.
Image scale_rows(const Image &img, int width, int height, int first, int last);
// The same from a band of the source: `band` holds rows [band_y, band_y + band.height) of a
// src_w x src_h picture, and must include scale_source_rows(src_h, height, first, last). A host
// reads a large source band by band and never holds it whole; the result is that of scale_rows.
Image scale_band(const Image &band, int band_y, int src_h, int width, int height, int first, int last);
Mask scale_band(const Mask &band, int band_y, int src_h, int width, int height, int first, int last);
// Source rows [first, second) that output rows [first, last) of a scale to `height` rows read.
std::pair<int, int> scale_source_rows(int src_h, int height, int first, int last);
Mask scale(const Mask &mask, int width, int height);
// Gaussian feather of radius px (sigma = radius / 2); 0 returns the mask unchanged.
Mask feather(const Mask &mask, double radius);
// Softens a selection's edge inwards only: coverage * feather(coverage), so everything outside
// the selection stays exactly 0 and the inside fades in over about `radius` px.
Mask feather_inside(const Mask &mask, double radius);
// Bounding box of the non-zero values; empty Rect when the mask is all zero.
Rect mask_bounds(const Mask &mask);
// Blends src (size region.w x region.h) onto dst at region through mask (same size as src):
// out = dst + (src - dst) * mask/255 per channel, alpha included.
void composite(Image &dst, const Image &src, const Mask &mask, Rect region);

// Makes every picture-sized allocation (1 MB and more) its own mapping, given back to the
// system when freed. Without it glibc raises that threshold after the first large frees and
// serves later pictures from per-thread heaps, which stay resident: a run with four variations
// decoded and fitted on two threads peaked about 38 MB higher. Hosts call it once, first thing.
void keep_pictures_off_the_heap();

}  // namespace genfill
