// What the fake services share: JSON and error bodies, the checks on uploads, the pictures they
// answer with (see fake_internal.hpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/util/gobj.hpp"
#include "fake_internal.hpp"

#include <zlib.h>

#include "core/seam/seam.hpp"

namespace genfill::test {

// ---------- JSON ----------

std::string build_object(const Build &members) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  members(b.get());
  json_builder_end_object(b.get());
  return json::to_string(b.get());
}

void add_nullable(JsonBuilder *b, const char *name, const char *value) {
  json_builder_set_member_name(b, name);
  if (value) json_builder_add_string_value(b, value);
  else json_builder_add_null_value(b);
}

void add_pair(JsonBuilder *b, int first, int second) {
  json_builder_begin_array(b);
  json_builder_add_int_value(b, first);
  json_builder_add_int_value(b, second);
  json_builder_end_array(b);
}

// google.rpc.Status, as Gemini answers errors.
std::string gemini_error(int code, const char *status, const std::string &message) {
  return build_object([&](JsonBuilder *b) {
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json::add(b, "code", int64_t(code));
    json::add(b, "message", message);
    json::add(b, "status", std::string(status));
    json_builder_end_object(b);
  });
}

// OpenAI's error body: all four keys, nullable.
std::string openai_error(const std::string &message, const char *type, const char *param, const char *code) {
  return build_object([&](JsonBuilder *b) {
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json::add(b, "message", message);
    add_nullable(b, "type", type);
    add_nullable(b, "param", param);
    add_nullable(b, "code", code);
    json_builder_end_object(b);
  });
}

// A chat relay's error body, as OpenRouter sends it: {"error": {"code": <int>, "message"}}.
std::string relay_error(int code, const std::string &message) {
  return build_object([&](JsonBuilder *b) {
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json::add(b, "code", int64_t(code));
    json::add(b, "message", message);
    json_builder_end_object(b);
  });
}


// Does the URL's query carry one of these parameters?
bool query_has(SoupServerMessage *msg, std::initializer_list<const char *> names) {
  const char *query = g_uri_get_query(soup_server_message_get_uri(msg));
  if (!query) return false;
  GHashTable *params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, nullptr);
  bool found = false;
  for (const char *n : names) found = found || (params && g_hash_table_contains(params, n));
  if (params) g_hash_table_unref(params);
  return found;
}

// ---------- pictures ----------

namespace {

Image solid(int w, int h, uint32_t rgb) {
  Image img(w, h);
  for (size_t i = 0; i < img.pixels.size(); i += 4) {
    img.pixels[i] = uint8_t(rgb >> 16);
    img.pixels[i + 1] = uint8_t(rgb >> 8);
    img.pixels[i + 2] = uint8_t(rgb);
    img.pixels[i + 3] = 255;
  }
  return img;
}

std::string png_chunk(const std::string &type, const std::string &data) {
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  const std::string typed = type + data;
  // CRC-32 of type and data, as PNG wants it.
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : typed) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return be32(uint32_t(data.size())) + typed + be32(~c);
}


// The uploaded picture, drifted as a model would (see FakeReply::drift).
Image drifted(const Image &in, int w, int h, const FakeReply &r) {
  Image src = (in.width == w && in.height == h) ? in : scale(in, w, h);
  if (!r.color.empty()) {
    uint32_t rgb = 0;
    parse_color(r.color, &rgb);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        double u = (x - w / 2.0) / (w * 0.3), v = (y - h / 2.0) / (h * 0.3);
        if (u * u + v * v > 1) continue;
        uint8_t *p = src.at(x, y);
        double shade = 0.75 + 0.25 * std::sin(x * 0.05) * std::cos(y * 0.05);  // some texture
        p[0] = uint8_t(std::clamp(((rgb >> 16) & 255) * shade, 0.0, 255.0));
        p[1] = uint8_t(std::clamp(((rgb >> 8) & 255) * shade, 0.0, 255.0));
        p[2] = uint8_t(std::clamp((rgb & 255) * shade, 0.0, 255.0));
        p[3] = 255;
      }
  }
  double g[3] = {r.drift_gain, r.drift_gain, r.drift_gain}, o[3] = {r.drift_offset, r.drift_offset, r.drift_offset};
  return seam::apply_drift(src, r.drift_dx, r.drift_dy, r.drift_scale, g, o);
}

// A transparent background: an opaque ellipse of the colour in the middle (70 % of the size),
// fully transparent around it, as GPT image models answer background=transparent.
Image cutout(int w, int h, uint32_t rgb) {
  Image img = solid(w, h, rgb);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double u = (x + 0.5 - w / 2.0) / (w * 0.35), v = (y + 0.5 - h / 2.0) / (h * 0.35);
      if (u * u + v * v > 1) img.at(x, y)[3] = 0;
    }
  return img;
}

}  // namespace

// A real 16000x16000 picture of one colour, as a service gone wrong might send: the first row
// is coded as differences from the pixel to its left and every other row as "the same as the
// row above", so the PNG is well under 1 MB while decoding it whole takes 1 GiB. Written row by
// row (never whole), once per colour.
std::string bomb_png(uint32_t rgb) {
  static std::mutex mu;
  static std::map<uint32_t, std::string> made;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = made.find(rgb); it != made.end()) return it->second;
  constexpr uint32_t side = 16000;
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15, 9, Z_RLE);
  std::string idat;
  std::vector<uint8_t> row(1 + size_t(side) * 3, 0), out(1 << 16);
  for (uint32_t y = 0; y < side; ++y) {
    if (y == 0) {  // filter Sub: the first pixel, then no change
      row[0] = 1;
      row[1] = uint8_t(rgb >> 16), row[2] = uint8_t(rgb >> 8), row[3] = uint8_t(rgb);
    } else if (y == 1) {  // filter Up: no change from the row above
      std::fill(row.begin(), row.end(), 0);
      row[0] = 2;
    }
    z.next_in = row.data();
    z.avail_in = uInt(row.size());
    const int flush = y + 1 == side ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = out.data();
      z.avail_out = uInt(out.size());
      deflate(&z, flush);
      idat.append(reinterpret_cast<const char *>(out.data()), out.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  const std::string ihdr = be32(side) + be32(side) + std::string{char(8), char(2), char(0), char(0), char(0)};
  return made[rgb] = "\x89PNG\r\n\x1a\n" + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) + png_chunk("IEND", "");
}

// The picture an answer carries, base64, possibly broken on purpose.
std::string picture_b64(int w, int h, uint32_t rgb, const FakeReply *reply, const Image *upload,
                        bool transparent) {
  const std::string kind = reply ? reply->picture : "";
  if (transparent && kind.empty()) return json::base64_encode(encode_png(cutout(w, h, rgb), 1));
  if (reply && reply->drift && upload && !upload->empty() && kind.empty())
    return json::base64_encode(encode_png(drifted(*upload, w, h, *reply), 1));
  const std::string sig = "\x89PNG\r\n\x1a\n";
  if (kind == "bad_base64") return "iVBORw0KGgo#not*base64";
  std::vector<uint8_t> bytes;
  if (kind == "corrupt") {
    std::string junk = sig + std::string(300, '\x5a');
    bytes.assign(junk.begin(), junk.end());
  } else if (kind == "huge") {  // a decompression bomb: a 20000x20000 header, almost no data
    std::string ihdr{char(0), char(0), char(0x4e), char(0x20), char(0), char(0), char(0x4e), char(0x20),
                     char(8), char(6), char(0), char(0), char(0)};
    std::string png = sig + png_chunk("IHDR", ihdr) +
                      png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + png_chunk("IEND", "");
    bytes.assign(png.begin(), png.end());
  } else if (kind == "bomb") {
    const std::string png = bomb_png(rgb);
    bytes.assign(png.begin(), png.end());
  } else {
    bytes = encode_png(kind == "tiny" ? solid(1, 1, rgb) : solid(w, h, rgb), 1);  // solid colour: tiny and fast
  }
  return json::base64_encode(bytes);
}

// Decodes a picture from the request, or rejects it.
Image decode_or(const std::vector<uint8_t> &bytes, const Answer &reject) {
  try {
    return decode_image(bytes);
  } catch (const Error &) {
    throw Reject{reject};
  }
}

// Strict standard base64 with padding, nothing else (no line breaks, no data: prefix).
bool strict_base64(const std::string &s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  const size_t pad = s.find('=');
  if (pad != std::string::npos && (s.size() - pad > 2 || s.find_first_not_of('=', pad) != std::string::npos))
    return false;
  return std::all_of(s.begin(), s.begin() + long(pad == std::string::npos ? s.size() : pad),
                     [](char c) { return g_ascii_isalnum(c) || c == '+' || c == '/'; });
}

std::string draft_b64(int w, int h, uint32_t grey) {
  const double f = std::min(1.0, 1024.0 / std::max(w, h));
  return picture_b64(std::max(8, int(w * f)), std::max(8, int(h * f)), grey, nullptr);
}

}  // namespace genfill::test
