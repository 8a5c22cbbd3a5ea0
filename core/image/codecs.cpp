// Decoding answers (PNG, JPEG, WebP) and encoding uploads (PNG), through libspng,
// libturbojpeg and libwebp.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <glib.h>
#include <spng.h>
#include <turbojpeg.h>
#include <webp/decode.h>
#include <zlib.h>

#include "core/util/i18n.hpp"
#include "core/image/image.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

namespace genfill {

namespace {

Error unreadable(const std::string &detail) {
  return Error(ErrorCode::BadResponse, _("The service sent a picture genfill cannot read."), detail);
}

// Called with the header's size, before any pixel memory is taken.
void check_size(uint64_t w, uint64_t h, const DecodeLimit &limit) {
  if (w == 0 || h == 0) throw unreadable("image has no pixels");
  const bool fits = w <= 65535 && h <= 65535 && w * h <= limit.max_pixels;
  if (fits && w * h <= limit.room_pixels) return;
  const std::string detail = "image " + std::to_string(w) + "x" + std::to_string(h) + ", limit " +
                             std::to_string(limit.max_pixels) + " pixels, room " +
                             std::to_string(limit.room_pixels) + " pixels";
  if (fits)  // the picture is fine, those before it took the room
    throw Error(ErrorCode::TooLarge,
                _("The service sent more pictures than genfill can hold at once; ask for fewer images."), detail);
  if (limit.asked_w <= 0 || limit.asked_h <= 0)
    throw Error(ErrorCode::TooLarge, _("The service sent a picture too large to use."), detail);
  throw Error(ErrorCode::TooLarge,
              format(_("The service sent a picture far larger than asked for (%llux%llu for a %dx%d request); "
                       "genfill did not use it."),
                     (unsigned long long)w, (unsigned long long)h, limit.asked_w, limit.asked_h),
              detail);
}

struct SpngDeleter {
  void operator()(spng_ctx *c) const { spng_ctx_free(c); }
};
using SpngCtx = std::unique_ptr<spng_ctx, SpngDeleter>;

Image decode_png(std::span<const uint8_t> bytes, const DecodeLimit &limit) {
  SpngCtx ctx(spng_ctx_new(0));
  if (!ctx) throw unreadable("spng_ctx_new failed");
  // Like web browsers, ignore chunk checksums: zlib's own checksum still guards the pixels.
  spng_set_crc_action(ctx.get(), SPNG_CRC_USE, SPNG_CRC_USE);
  spng_set_chunk_limits(ctx.get(), 1 << 20, 1 << 24);
  if (int rc = spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size())) throw unreadable(spng_strerror(rc));
  spng_ihdr ihdr{};
  if (int rc = spng_get_ihdr(ctx.get(), &ihdr)) throw unreadable(std::string("PNG header: ") + spng_strerror(rc));
  check_size(ihdr.width, ihdr.height, limit);
  size_t size = 0;
  if (int rc = spng_decoded_image_size(ctx.get(), SPNG_FMT_RGBA8, &size)) throw unreadable(spng_strerror(rc));
  Image img(int(ihdr.width), int(ihdr.height));
  if (size != img.pixels.size()) throw unreadable("unexpected PNG buffer size");
  if (int rc = spng_decode_image(ctx.get(), img.pixels.data(), size, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS))
    throw unreadable(std::string("PNG data: ") + spng_strerror(rc));
  return img;
}

// Adobe-style CMYK (the way libjpeg stores it, inverted): R = C * K / 255, and so on.
void cmyk_to_rgba(const std::vector<uint8_t> &cmyk, Image &img) {
  for (size_t i = 0; i < cmyk.size(); i += 4) {
    const unsigned k = cmyk[i + 3];
    img.pixels[i] = uint8_t((cmyk[i] * k + 127) / 255);
    img.pixels[i + 1] = uint8_t((cmyk[i + 1] * k + 127) / 255);
    img.pixels[i + 2] = uint8_t((cmyk[i + 2] * k + 127) / 255);
    img.pixels[i + 3] = 255;
  }
}

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimit &limit) {
  tjhandle tj = tjInitDecompress();
  if (!tj) throw unreadable("tjInitDecompress failed");
  std::unique_ptr<void, int (*)(tjhandle)> guard(tj, tjDestroy);
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  const auto size = static_cast<unsigned long>(bytes.size());
  if (tjDecompressHeader3(tj, bytes.data(), size, &w, &h, &subsamp, &colorspace) != 0)
    throw unreadable(std::string("JPEG header: ") + tjGetErrorStr2(tj));
  check_size(uint64_t(w), uint64_t(h), limit);
  Image img(w, h);
  // LIMITSCANS: a progressive JPEG with thousands of scans is a time bomb; real ones have < 20.
  const int flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS;
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  std::vector<uint8_t> cmyk_pixels(cmyk ? img.pixels.size() : 0);
  int rc = cmyk ? tjDecompress2(tj, bytes.data(), size, cmyk_pixels.data(), w, 0, h, TJPF_CMYK, flags)
                : tjDecompress2(tj, bytes.data(), size, img.pixels.data(), w, 0, h, TJPF_RGBA, flags);
  if (rc != 0) {
    // Warnings leave a usable picture ("extraneous bytes before marker"), except when the data
    // ran out: then the rest of the picture is grey.
    const std::string why = tjGetErrorStr2(tj);
    if (tjGetErrorCode(tj) == TJERR_FATAL || why.find("remature end") != std::string::npos)
      throw unreadable("JPEG data: " + why);
  }
  if (cmyk) cmyk_to_rgba(cmyk_pixels, img);
  return img;
}

Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimit &limit) {
  int w = 0, h = 0;
  if (!WebPGetInfo(bytes.data(), bytes.size(), &w, &h)) throw unreadable("WebP header");
  check_size(uint64_t(w), uint64_t(h), limit);
  Image img(w, h);
  if (!WebPDecodeRGBAInto(bytes.data(), bytes.size(), img.pixels.data(), img.pixels.size(), w * 4))
    throw unreadable("WebP data");
  return img;
}

std::vector<uint8_t> encode_png_raw(const uint8_t *data, size_t size, int w, int h, uint8_t color_type,
                                    int channels, int level) {
  if (w <= 0 || h <= 0 || size != size_t(w) * size_t(h) * size_t(channels))
    throw Error(ErrorCode::InvalidInput, _("Could not prepare the picture."),
                "encode_png: " + std::to_string(w) + "x" + std::to_string(h) + " with " + std::to_string(size) +
                    " bytes");
  level = std::clamp(level, 0, 9);
  SpngCtx ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx) throw Error(ErrorCode::InvalidInput, _("Could not prepare the picture."), "spng_ctx_new");
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_LEVEL, level);
  // Filter and zlib strategy, measured on one core (x86-64, zlib 1.3, libspng 0.7.4) on a
  // 1024x1024 crop of GIMP's splash photo (4 MB raw), a 720x477 noisy camera JPEG and a
  // 1053x745 diagram; size and time of each:
  //                           splash            camera          diagram
  //   up,    level 3        1058 KB  78 ms     852 KB  36 ms    88 KB  9 ms
  //   paeth, level 3        1060 KB  89 ms     778 KB  40 ms    88 KB 13 ms
  //   all,   level 6         899 KB 295 ms     723 KB 144 ms    79 KB 40 ms
  //   avg,   level 6         871 KB 226 ms     794 KB 102 ms   102 KB 17 ms
  //   up,    RLE            1079 KB  36 ms     841 KB  16 ms   134 KB  8 ms
  //   paeth, RLE             949 KB  45 ms     734 KB  19 ms    78 KB 12 ms
  // Filtered photos have few long matches, so run-length coding after the Paeth filter is both
  // smaller (by 10-14 %) and 1.7-1.9 times as fast as zlib's fast levels on photos: that is the
  // upload setting (levels 1-5; under RLE zlib's level makes no difference). Levels 6-9 ask for
  // the smallest file: full LZ77 at that level with adaptive filtering, 2-5 % smaller than RLE
  // on photos and 6-8 times slower. Level 0 stores. Masks (gray) use the same settings: a
  // 1024x1024 feathered mask is 29 KB in 4 ms, a hard-edged one 5 KB.
  if (level == 0) {
    spng_set_option(ctx.get(), SPNG_FILTER_CHOICE, SPNG_FILTER_CHOICE_NONE);
  } else if (level <= 5) {
    spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_STRATEGY, Z_RLE);
    spng_set_option(ctx.get(), SPNG_FILTER_CHOICE, SPNG_FILTER_CHOICE_PAETH);
  } else {
    spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_STRATEGY, Z_FILTERED);
    spng_set_option(ctx.get(), SPNG_FILTER_CHOICE, SPNG_FILTER_CHOICE_ALL);
  }
  spng_ihdr ihdr{};
  ihdr.width = uint32_t(w);
  ihdr.height = uint32_t(h);
  ihdr.bit_depth = 8;
  ihdr.color_type = color_type;
  if (int rc = spng_set_ihdr(ctx.get(), &ihdr))
    throw Error(ErrorCode::InvalidInput, _("Could not prepare the picture."), spng_strerror(rc));
  if (int rc = spng_encode_image(ctx.get(), data, size, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE))
    throw Error(ErrorCode::InvalidInput, _("Could not prepare the picture."), spng_strerror(rc));
  size_t out_size = 0;
  int err = 0;
  void *out = spng_get_png_buffer(ctx.get(), &out_size, &err);
  if (!out) throw Error(ErrorCode::InvalidInput, _("Could not prepare the picture."), spng_strerror(err));
  std::vector<uint8_t> png(static_cast<uint8_t *>(out), static_cast<uint8_t *>(out) + out_size);
  free(out);
  return png;
}

std::vector<uint8_t> read_file(const std::string &path) {
  gchar *data = nullptr;
  gsize len = 0;
  GErrorOut err;
  if (!g_file_get_contents(path.c_str(), &data, &len, err.out()))
    throw Error(ErrorCode::InvalidInput, format(_("Could not read %s: %s"), path.c_str(), err.message().c_str()));
  GCharPtr owned(data);
  return std::vector<uint8_t>(reinterpret_cast<uint8_t *>(data), reinterpret_cast<uint8_t *>(data) + len);
}

}  // namespace

std::string sniff_image_mime(std::span<const uint8_t> b) {
  static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 8 && std::memcmp(b.data(), png, 8) == 0) return "image/png";
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "image/jpeg";
  if (b.size() >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(b.data() + 8, "WEBP", 4) == 0)
    return "image/webp";
  return "";
}

Image decode_image(std::span<const uint8_t> bytes, const DecodeLimit &limit) {
  std::string mime = sniff_image_mime(bytes);
  if (mime == "image/png") return decode_png(bytes, limit);
  if (mime == "image/jpeg") return decode_jpeg(bytes, limit);
  if (mime == "image/webp") return decode_webp(bytes, limit);
  throw unreadable("not PNG, JPEG or WebP (" + std::to_string(bytes.size()) + " bytes)");
}

Image decode_image(std::span<const uint8_t> bytes, size_t max_pixels) {
  return decode_image(bytes, DecodeLimit{max_pixels, 0, 0, SIZE_MAX});
}

std::vector<uint8_t> encode_png(const Image &img, int level, PngAlpha alpha) {
  const size_t n = size_t(std::max(img.width, 0)) * size_t(std::max(img.height, 0));
  bool opaque = alpha == PngAlpha::IfUsed && n > 0 && img.pixels.size() == n * 4;
  for (size_t i = 3; opaque && i < img.pixels.size(); i += 4) opaque = img.pixels[i] == 255;
  if (!opaque)
    return encode_png_raw(img.pixels.data(), img.pixels.size(), img.width, img.height,
                          SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 4, level);
  std::vector<uint8_t> rgb(n * 3);
  for (size_t i = 0, j = 0; i < img.pixels.size(); i += 4, j += 3) {
    rgb[j] = img.pixels[i];
    rgb[j + 1] = img.pixels[i + 1];
    rgb[j + 2] = img.pixels[i + 2];
  }
  return encode_png_raw(rgb.data(), rgb.size(), img.width, img.height, SPNG_COLOR_TYPE_TRUECOLOR, 3, level);
}

std::vector<uint8_t> encode_png(const Mask &mask, int level) {
  return encode_png_raw(mask.values.data(), mask.values.size(), mask.width, mask.height, SPNG_COLOR_TYPE_GRAYSCALE,
                        1, level);
}

Image load_image_file(const std::string &path) {
  std::vector<uint8_t> bytes = read_file(path);
  try {
    return decode_image(bytes);
  } catch (const Error &e) {
    throw Error(ErrorCode::InvalidInput, format(_("%s is not a PNG, JPEG or WebP picture genfill can read."), path.c_str()),
                e.detail());
  }
}

void save_png_file(const Image &img, const std::string &path) {
  std::vector<uint8_t> png = encode_png(img, 6);
  GErrorOut err;
  if (!g_file_set_contents(path.c_str(), reinterpret_cast<const char *>(png.data()), gssize(png.size()), err.out()))
    throw Error(ErrorCode::InvalidInput, format(_("Could not write %s: %s"), path.c_str(), err.message().c_str()));
}

Mask load_mask_file(const std::string &path) {
  Image img = load_image_file(path);
  bool has_alpha = false;
  for (size_t i = 3; i < img.pixels.size(); i += 4)
    if (img.pixels[i] != 255) {
      has_alpha = true;
      break;
    }
  Mask m(img.width, img.height);
  for (size_t i = 0, p = 0; i < m.values.size(); ++i, p += 4) {
    const uint8_t *px = &img.pixels[p];
    if (has_alpha) {
      m.values[i] = px[3];
    } else {  // Rec. 601 luma
      m.values[i] = uint8_t((299u * px[0] + 587u * px[1] + 114u * px[2] + 500u) / 1000u);
    }
  }
  return m;
}

Mask load_selection_mask(const std::string &path, int width, int height) {
  Mask m = load_mask_file(path);
  if (m.width != width || m.height != height)
    throw Error(ErrorCode::InvalidInput, format(_("The mask is %dx%d but the picture is %dx%d; they must match."),
                                                m.width, m.height, width, height));
  if (mask_bounds(m).empty())
    throw Error(ErrorCode::InvalidInput, _("The mask selects nothing: paint the area to change in white."));
  return m;
}

}  // namespace genfill
