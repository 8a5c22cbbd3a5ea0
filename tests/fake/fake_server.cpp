// The loopback fake of the image services (see fake_server.hpp).
#include "fake_server.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <initializer_list>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <zlib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/seam/seam.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

namespace genfill::test {

bool parse_color(const std::string &text, uint32_t *rgb) {
  std::string hex = !text.empty() && text[0] == '#' ? text.substr(1) : text;
  if (hex.size() != 6 || !std::all_of(hex.begin(), hex.end(), [](char c) { return g_ascii_isxdigit(c); }))
    return false;
  *rgb = uint32_t(g_ascii_strtoull(hex.c_str(), nullptr, 16));
  return true;
}

namespace {

// Aspect ratio => output size, per model family (REFERENCE §1.4).
struct AspectSize {
  const char *ratio;
  int w, h;
};
// gemini-2.5-flash-image (and the older 2.0 ids): one size per ratio, no imageSize.
const AspectSize kAspects[] = {{"1:1", 1024, 1024}, {"2:3", 832, 1248}, {"3:2", 1248, 832}, {"3:4", 864, 1184},
                               {"4:3", 1184, 864},  {"4:5", 896, 1152}, {"5:4", 1152, 896}, {"9:16", 768, 1344},
                               {"16:9", 1344, 768}, {"21:9", 1536, 672}};
// Gemini 3 image models at 1K (2K and 4K are twice and four times that, 512 half); the last
// four ratios are 3.1 Flash's only.
const AspectSize kAspects3[] = {{"1:1", 1024, 1024}, {"2:3", 848, 1264}, {"3:2", 1264, 848}, {"3:4", 896, 1200},
                                {"4:3", 1200, 896},  {"4:5", 928, 1152}, {"5:4", 1152, 928}, {"9:16", 768, 1376},
                                {"16:9", 1376, 768}, {"21:9", 1584, 672}, {"1:4", 512, 2048}, {"4:1", 2048, 512},
                                {"1:8", 352, 2816},  {"8:1", 2816, 352}};

// Imagen (:predict): the five ratios it takes => output size.
const struct {
  const char *ratio;
  int w, h;
} kImagenAspects[] = {{"1:1", 1024, 1024}, {"3:4", 896, 1280}, {"4:3", 1280, 896}, {"9:16", 768, 1408}, {"16:9", 1408, 768}};

// Chat relays (OpenRouter's image_config.aspect_ratio): the Gemini ratios plus the extended ones.
const char *const kRelayRatios[] = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
                                    "1:4", "4:1", "1:8", "8:1"};

// ---------- the models each service serves today (read 2026-12-04) ----------

// Gemini: what GET /v1beta/models lists (image models and others), in the service's order.
struct ListedGemini {
  const char *id, *display_name;
  bool image;       // served by generateContent and makes pictures
  const char *methods;
};
const ListedGemini kGeminiList[] = {
    {"gemini-3.5-flash", "Gemini 3.5 Flash", false, "generateContent countTokens"},
    {"gemini-3.1-flash-image", "Nano Banana 2", true, "generateContent countTokens batchGenerateContent"},
    {"gemini-3-pro-image", "Nano Banana Pro", true, "generateContent countTokens batchGenerateContent"},
    {"gemini-embedding-001", "Gemini Embedding 001", false, "embedContent countTextTokens"},
    {"gemini-3.1-flash-lite-image", "Nano Banana 2 Lite", true, "generateContent countTokens"},
    {"gemini-nano-banana-2.1", "Nano Banana 2.1", true, "generateContent countTokens batchGenerateContent"},
    {"gemini-2.5-flash-preview-tts", "Gemini 2.5 Flash Preview TTS", false, "generateContent countTokens"},
    {"veo-3.1-generate-preview", "Veo 3.1", false, "predictLongRunning"},
    // Served, an image model, and in no catalog yet: what `genfill models` calls "new".
    {"gemini-9-flash-image-exp", "Gemini 9 Flash Image (experimental)", true, "generateContent countTokens"},
};
constexpr size_t kGeminiPage = 4;  // the fake serves short pages, so that clients must follow nextPageToken

// Gemini ids shut down: Google answers 404 "no longer available" for them.
const char *const kGeminiRetired[] = {"gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview",
                                      "gemini-2.5-flash-image", "gemini-2.5-flash-image-preview",
                                      "gemini-2.0-flash-exp-image-generation", "gemini-2.0-flash-preview-image-generation"};

// OpenAI: what GET /v1/models lists. gpt-image-2.6-sunburst is served but missing from the list
// (as new models were at launch); chatgpt-image-latest is still listed with its past shutdown day.
struct ListedOpenAI {
  const char *id;
  int shutdown_in_days;  // 0 = no shutdown announced (null)
};
const ListedOpenAI kOpenAIList[] = {
    {"gpt-5.1", 0},           {"whisper-1", 0},          {"gpt-image-2", 0},
    {"gpt-image-2-2026-04-21", 120}, {"text-embedding-3-small", 0}, {"gpt-image-2.5-flare", 0},
    {"gpt-image-2.5-sunburst", 0},   {"gpt-image-2.6-flare", 0},     {"tts-1", 0},
    {"chatgpt-image-latest", -3},    {"gpt-image-3-preview", 0},
};
// OpenAI ids shut down: 404 model_not_found.
const char *const kOpenAIRetired[] = {"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-1.5-2025-12-16",
                                      "chatgpt-image-latest", "dall-e-2", "dall-e-3"};

// Chat relay (OpenRouter): image models, listed only with ?output_modalities=image (or all).
const char *const kRelayImageModels[] = {"google/gemini-3.1-flash-image", "google/gemini-3-pro-image",
                                         "google/gemini-nano-banana-2.1", "google/gemini-2.5-flash-image",
                                         "openai/gpt-image-2"};

template <size_t N>
bool listed_in(const char *const (&list)[N], const std::string &id) {
  return std::any_of(std::begin(list), std::end(list), [&](const char *x) { return id == x; });
}

// A day `days` from today (UTC), "YYYY-MM-DD".
std::string day_from_today(int days) {
  GDateTime *now = g_date_time_new_now_utc();
  GDateTime *then = g_date_time_add_days(now, days);
  gchar *text = g_date_time_format(then, "%Y-%m-%d");
  std::string out = text;
  g_free(text);
  g_date_time_unref(then);
  g_date_time_unref(now);
  return out;
}

// A provider's verdict: the answer to send.
struct Answer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

struct Reject {  // thrown inside validation, answered as is
  Answer answer;
};

// ---------- JSON ----------

using Build = std::function<void(JsonBuilder *)>;

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

// Gemini reads requests with the protobuf JSON mapping: lowerCamelCase or the proto name.
JsonObject *object2(JsonObject *o, const char *camel, const char *snake) {
  JsonObject *r = json::object(o, camel);
  return r ? r : json::object(o, snake);
}
JsonArray *array2(JsonObject *o, const char *camel, const char *snake) {
  JsonArray *r = json::array(o, camel);
  return r ? r : json::array(o, snake);
}
std::string string2(JsonObject *o, const char *camel, const char *snake) {
  return o && json_object_has_member(o, camel) ? json::string(o, camel) : json::string(o, snake);
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

// The picture an answer carries, base64, possibly broken on purpose.
std::string picture_b64(int w, int h, uint32_t rgb, const FakeReply *reply, const Image *upload = nullptr,
                        bool transparent = false) {
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

}  // namespace

struct FakeServer::Impl {
  std::string fixtures;
  std::thread thread;
  GMainContext *ctx = nullptr;
  GMainLoop *loop = nullptr;
  SoupServer *server = nullptr;
  std::string url;

  std::mutex mu;  // guards what the test thread shares with the server thread
  std::deque<FakeReply> queue;
  std::vector<RecordedRequest> log;
  uint32_t color = 0xFF00FF;
  unsigned answers = 0;

  std::string load_fixture(const std::string &name) const {
    if (name.find("..") != std::string::npos) return "{}";
    gchar *data = nullptr;
    gsize len = 0;
    const std::string path = fixtures + "/" + name;
    if (!g_file_get_contents(path.c_str(), &data, &len, nullptr))
      return build_object([&](JsonBuilder *b) { json::add(b, "fake_fixture_missing", name); });
    std::string s(data, len);
    g_free(data);
    return s;
  }

  // The first queued reply for this kind of request: model-list requests (GET …/models) take only
  // replies meant for them, so that a client reading a list meanwhile (GIMP's dialog does, in
  // the background) never uses up what a test queued for an edit.
  std::optional<FakeReply> take_reply(bool list) {
    std::lock_guard lock(mu);
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      if (it->lists != list) continue;
      FakeReply r = *it;
      if (--it->count <= 0) queue.erase(it);
      return r;
    }
    return std::nullopt;
  }

  uint32_t color_for(const FakeReply *reply) {
    uint32_t rgb = 0;
    if (reply && parse_color(reply->color, &rgb)) return rgb;
    std::lock_guard lock(mu);
    return color;
  }

  // ---------- Gemini ----------

  std::string gemini_success(const std::string &model, const std::string &text, const std::string *png_b64) {
    unsigned id = 0;
    {
      std::lock_guard lock(mu);
      id = ++answers;
    }
    const int64_t image_tokens = png_b64 ? 1290 : 0, text_tokens = 12, prompt_tokens = 1300;
    return build_object([&](JsonBuilder *b) {
      json_builder_set_member_name(b, "candidates");
      json_builder_begin_array(b);
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "content");
      json_builder_begin_object(b);
      json::add(b, "role", std::string("model"));
      json_builder_set_member_name(b, "parts");
      json_builder_begin_array(b);
      json_builder_begin_object(b);
      json::add(b, "text", text);
      json_builder_end_object(b);
      if (png_b64) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "inlineData");
        json_builder_begin_object(b);
        json::add(b, "mimeType", std::string("image/png"));
        json::add(b, "data", *png_b64);
        json_builder_end_object(b);
        // Like Gemini 3: an opaque signature the client must send back unchanged in history.
        const std::string sig = "fake-signature-" + std::to_string(id);
        json::add(b, "thoughtSignature", json::base64_encode(std::vector<uint8_t>(sig.begin(), sig.end())));
        json_builder_end_object(b);
      }
      json_builder_end_array(b);
      json_builder_end_object(b);
      json::add(b, "finishReason", std::string("STOP"));
      json::add(b, "index", int64_t(0));
      json_builder_end_object(b);
      json_builder_end_array(b);

      json_builder_set_member_name(b, "usageMetadata");
      json_builder_begin_object(b);
      json::add(b, "promptTokenCount", prompt_tokens);
      json::add(b, "candidatesTokenCount", image_tokens + text_tokens);
      json::add(b, "totalTokenCount", prompt_tokens + image_tokens + text_tokens);
      auto details = [b](const char *name, std::initializer_list<std::pair<const char *, int64_t>> items) {
        json_builder_set_member_name(b, name);
        json_builder_begin_array(b);
        for (auto [modality, count] : items) {
          if (count == 0) continue;
          json_builder_begin_object(b);
          json::add(b, "modality", std::string(modality));
          json::add(b, "tokenCount", count);
          json_builder_end_object(b);
        }
        json_builder_end_array(b);
      };
      details("promptTokensDetails", {{"TEXT", prompt_tokens}});
      details("candidatesTokensDetails", {{"IMAGE", image_tokens}, {"TEXT", text_tokens}});
      json_builder_end_object(b);
      json::add(b, "modelVersion", model);
      json::add(b, "responseId", "fakeResp" + std::to_string(id));
    });
  }

  Answer gemini(SoupServerMessage *msg, const std::string &model, const std::string &body, RecordedRequest &rec,
                const FakeReply *reply) {
    Image upload;  // the first picture sent, for drifted answers
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    const char *key = soup_message_headers_get_one(h, "x-goog-api-key");
    rec.has_key = key && *key;
    rec.key_in_query = query_has(msg, {"key"});
    rec.model = model;
    if (rec.key_in_query)  // the real service takes it; we must never send it there
      return {400, gemini_error(400, "INVALID_ARGUMENT", "API keys must not be sent in the URL (fake server rule).")};
    if (!rec.has_key) return {403, load_fixture("gemini/error_403_permission_denied_no_key.json")};
    if (g_str_has_prefix(key, "bad")) return {400, load_fixture("gemini/error_400_api_key_invalid.json")};
    if (listed_in(kGeminiRetired, model))  // what Google answers for a model it has shut down
      return {404, gemini_error(404, "NOT_FOUND",
                                "This model models/" + model +
                                    " is no longer available. Please update your code to use a newer model for the "
                                    "latest features and improvements.")};
    // Ids it never served (as error_404_model_not_found.json, naming this model). Other gemini ids
    // are served, listed or not: a model the client's catalog does not know still works.
    if (!g_str_has_prefix(model.c_str(), "gemini"))
      return {404, gemini_error(404, "NOT_FOUND",
                                "models/" + model +
                                    " is not found for API version v1beta, or is not supported for generateContent. "
                                    "Call ModelService.ListModels to see the list of available models and their "
                                    "supported methods.")};

    auto invalid = [](const std::string &m) { return Reject{{400, gemini_error(400, "INVALID_ARGUMENT", m)}}; };
    json::Doc doc = json::try_parse(body);
    JsonObject *root = doc.object();
    if (!root) throw invalid("Invalid JSON payload received.");
    JsonArray *contents = json::array(root, "contents");
    if (!contents || json_array_get_length(contents) == 0) throw invalid("* GenerateContentRequest.contents: contents is not specified");
    const guint last = json_array_get_length(contents) - 1;
    for (guint c = 0; c < json_array_get_length(contents); ++c) {
      // Earlier turns (history) are recorded apart: prompt and pictures are the last turn's.
      const std::string role = json::string(json::element_object(contents, c), "role", "user");
      if (role != "user" && role != "model")
        throw invalid("Please use a valid role: user, model.");
      if (c == last && role != "user") throw invalid("The last turn must be the user's.");
      rec.roles.push_back(role);
      JsonArray *parts = json::array(json::element_object(contents, c), "parts");
      if (!parts || json_array_get_length(parts) == 0)
        throw invalid("* GenerateContentRequest.contents[" + std::to_string(c) + "].parts: contents.parts must not be empty.");
      for (guint i = 0; i < json_array_get_length(parts); ++i) {
        JsonObject *part = json::element_object(parts, i);
        if (!part) throw invalid("Invalid JSON payload received. Expected an object in parts.");
        if (json_object_has_member(part, "thoughtSignature")) {
          if (role != "model") throw invalid("Thought signatures belong to the model's turns.");
          rec.signatures.push_back(json::string(part, "thoughtSignature"));
        }
        if (c != last) {
          if (json_object_has_member(part, "text") && role == "user") rec.history_prompts.push_back(json::string(part, "text"));
          if (object2(part, "inlineData", "inline_data")) ++rec.history_images;
          continue;
        }
        if (json_object_has_member(part, "text") && rec.prompt.empty()) rec.prompt = json::string(part, "text");
        JsonObject *data = object2(part, "inlineData", "inline_data");
        if (!data) continue;
        const std::string mime = string2(data, "mimeType", "mime_type");
        const std::string b64 = json::string(data, "data");
        if (!strict_base64(b64))
          throw invalid("Invalid value at 'contents[" + std::to_string(c) + "].parts[" + std::to_string(i) +
                        "].inline_data.data' (TYPE_BYTES), Base64 decoding failed");
        const std::vector<uint8_t> bytes = json::base64_decode(b64, "fake");
        if (sniff_image_mime(bytes) != mime || mime.empty())
          throw invalid("Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting");
        Image img = decode_or(bytes, {400, gemini_error(400, "INVALID_ARGUMENT", "Unable to process input image.")});
        rec.image_sizes.emplace_back(img.width, img.height);
        if (upload.empty()) upload = std::move(img);
        ++rec.image_count;
      }
    }
    JsonObject *config = object2(root, "generationConfig", "generation_config");
    bool image = false;
    JsonArray *mods = array2(config, "responseModalities", "response_modalities");
    for (guint i = 0; mods && i < json_array_get_length(mods); ++i)
      image = image || g_strcmp0(json_array_get_string_element(mods, i), "IMAGE") == 0;
    if (!image) throw invalid("This model only supports responseModalities that include IMAGE.");
    const int64_t candidates = json_object_has_member(config, "candidateCount") ? json::integer(config, "candidateCount", 1)
                                                                               : json::integer(config, "candidate_count", 1);
    if (candidates > 1) return {400, load_fixture("gemini/error_400_multiple_candidates.json")};
    JsonObject *image_config = object2(config, "imageConfig", "image_config");
    int w = 1024, ht = 1024;
    if (!rec.image_sizes.empty()) std::tie(w, ht) = rec.image_sizes.front();
    // Gemini 3 models have their own sizes and take imageSize; 3.1 Flash also 512 and four
    // more ratios. Earlier models refuse imageSize.
    // Today's image models are all of the Gemini 3 kind: Pro and Flash-Lite take the ten usual
    // ratios, Flash (3.1 and Nano Banana 2.1) four more; 512 is Flash 3.1's only, Flash-Lite
    // answers 1K only.
    const bool pro = model.find("-pro-") != std::string::npos, lite = model.find("-lite-") != std::string::npos;
    const bool flash31 = !pro && !lite && model.find("nano-banana") == std::string::npos;
    const AspectSize *table = std::begin(kAspects3);
    const AspectSize *table_end = std::end(kAspects3) - (pro || lite ? 4 : 0);
    for (const char *sampling : {"temperature", "topP", "topK", "top_p", "top_k"})
      if (json_object_has_member(config, sampling))  // deprecated for Gemini 3 models: refused here
        throw invalid(std::string("* GenerateContentRequest.generation_config.") + sampling +
                      ": sampling parameters are not supported for models/" + model + ".");
    rec.aspect = string2(image_config, "aspectRatio", "aspect_ratio");
    rec.image_size = string2(image_config, "imageSize", "image_size");
    double scale = 1;
    if (!rec.image_size.empty()) {
      if (lite && rec.image_size != "1K")
        throw invalid("* GenerateContentRequest.generation_config.image_config.image_size: Image size is not "
                      "supported for models/" + model + ".");
      if (rec.image_size == "512" && flash31) scale = 0.5;
      else if (rec.image_size == "1K") scale = 1;
      else if (rec.image_size == "2K") scale = 2;
      else if (rec.image_size == "4K") scale = 4;
      else
        throw invalid("* GenerateContentRequest.generation_config.image_config.image_size: Unsupported image size: " +
                      rec.image_size);
    }
    if (!rec.aspect.empty()) {
      auto it = std::find_if(table, table_end, [&](const AspectSize &a) { return rec.aspect == a.ratio; });
      if (it == table_end)
        throw invalid("* GenerateContentRequest.generation_config.image_config.aspect_ratio: Unsupported aspect ratio: " +
                      rec.aspect);
      w = int(it->w * scale);
      ht = int(it->h * scale);
    } else if (!rec.image_size.empty()) {
      w = ht = int(1024 * scale);
    }

    const std::string own = reply ? reply->text : "";
    if (reply && reply->text_only)
      return {200, gemini_success(model, own.empty() ? "I can describe the picture, but I will not draw it." : own, nullptr)};
    const std::string b64 = picture_b64(w, ht, color_for(reply), reply, &upload);
    return {200, gemini_success(model, own.empty() ? "Here is the edited picture." : own, &b64)};
  }

  // ---------- OpenAI ----------

  // As error_400_invalid_size_gpt_image.json, naming the size sent.
  static Answer bad_size(const std::string &model, const std::string &size) {
    const bool free_size = model.rfind("gpt-image-2", 0) == 0;
    return {400, openai_error(free_size ? "Invalid value: '" + size +
                                              "'. Width and height must be positive multiples of 16, the long side at "
                                              "most 3 times the short one, within 3840x2160."
                                        : "Invalid value: '" + size +
                                              "'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                              "invalid_request_error", "size", "invalid_value")};
  }

  static bool size_ok(const std::string &model, const std::string &size, int &w, int &h) {
    if (size.empty() || size == "auto") {
      w = h = 1024;
      return true;
    }
    char tail = 0;
    if (std::sscanf(size.c_str(), "%dx%d%c", &w, &h, &tail) != 2) return false;
    // gpt-image-2: free sizes, both sides multiples of 16, between 1:3 and 3:1, at most
    // 3840x2160 (REFERENCE §3.2).
    if (model.rfind("gpt-image-2", 0) == 0)
      return w > 0 && h > 0 && w % 16 == 0 && h % 16 == 0 && std::max(w, h) <= 3 * std::min(w, h) &&
             std::max(w, h) <= 3840 && int64_t(w) * h <= int64_t(3840) * 2160;
    return size == "1024x1024" || size == "1536x1024" || size == "1024x1536";
  }

  // Models OpenAI has shut down, or never served: 404 model_not_found (as
  // openai/error_404_model_not_found.json, naming the model).
  static void check_model(const std::string &model) {
    if (listed_in(kOpenAIRetired, model) || model.rfind("gpt-image-", 0) != 0)
      throw Reject{{404, openai_error("The model `" + model + "` does not exist or you do not have access to it.",
                                      "invalid_request_error", nullptr, "model_not_found")}};
  }

  // background / output_format, where GPT image models take them (REFERENCE §3.2, §4).
  static void check_background(const RecordedRequest &rec) {
    auto bad = [](const std::string &m, const char *param) {
      return Reject{{400, openai_error(m, "invalid_request_error", param, "invalid_value")}};
    };
    if (!rec.background.empty() && rec.background != "transparent" && rec.background != "opaque" &&
        rec.background != "auto")
      throw bad("Invalid value: '" + rec.background + "'. Supported values are: 'transparent', 'opaque' and 'auto'.",
                "background");
    if (!rec.output_format.empty() && rec.output_format != "png" && rec.output_format != "jpeg" &&
        rec.output_format != "webp")
      throw bad("Invalid value: '" + rec.output_format + "'. Supported values are: 'png', 'jpeg' and 'webp'.",
                "output_format");
    if (rec.background == "transparent" && rec.output_format == "jpeg")
      throw bad("Transparent background requires output_format png or webp.", "background");
  }

  static Answer openai_images(const std::string &png_b64, int n, const std::string &size,
                              const std::string &background = "opaque") {
    return {200, build_object([&](JsonBuilder *b) {
              json::add(b, "created", int64_t(1767225600));
              json_builder_set_member_name(b, "data");
              json_builder_begin_array(b);
              for (int i = 0; i < n; ++i) {
                json_builder_begin_object(b);
                json::add(b, "b64_json", png_b64);
                json_builder_end_object(b);
              }
              json_builder_end_array(b);
              json::add(b, "background", background);
              json::add(b, "output_format", std::string("png"));
              json::add(b, "size", size);
              json::add(b, "quality", std::string("high"));
              json_builder_set_member_name(b, "usage");
              json_builder_begin_object(b);
              json::add(b, "input_tokens", int64_t(50));
              json::add(b, "output_tokens", int64_t(1056) * n);
              json::add(b, "total_tokens", 50 + int64_t(1056) * n);
              json_builder_end_object(b);
            })};
  }

  Answer openai(SoupServerMessage *msg, bool edits, const std::string &body, RecordedRequest &rec,
                const FakeReply *reply) {
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    const char *auth = soup_message_headers_get_one(h, "Authorization");
    rec.has_key = auth && g_str_has_prefix(auth, "Bearer ") && strlen(auth) > 7;
    rec.key_in_query = query_has(msg, {"key", "api_key"});
    if (!rec.has_key || g_str_has_prefix(auth + 7, "bad"))
      return {401, load_fixture("openai/error_401_invalid_api_key.json")};
    auto invalid = [](const std::string &m, const char *param, const char *code = nullptr) {
      return Reject{{400, openai_error(m, "invalid_request_error", param, code)}};
    };
    int w = 0, hh = 0;

    if (!edits) {
      if (!g_str_has_prefix(rec.content_type.c_str(), "application/json"))
        throw invalid("Invalid Content-Type header (" + rec.content_type + "), expected application/json.", nullptr);
      json::Doc doc = json::try_parse(body);
      JsonObject *root = doc.object();
      if (!root) throw invalid("We could not parse the JSON body of your request.", nullptr);
      rec.model = json::string(root, "model");
      rec.prompt = json::string(root, "prompt");
      rec.n = int(json::integer(root, "n", 1));
      rec.size = json::string(root, "size", "auto");
      rec.background = json::string(root, "background");
      rec.output_format = json::string(root, "output_format");
      if (rec.model.empty()) throw invalid("You must provide a model parameter.", "model");
      check_model(rec.model);
      if (rec.prompt.empty()) throw invalid("Missing required parameter: 'prompt'.", "prompt");
      if (json_object_has_member(root, "response_format"))
        return {400, load_fixture("openai/error_400_unknown_parameter_response_format.json")};
      if (rec.n < 1 || rec.n > 10) throw invalid("Invalid 'n': integer must be between 1 and 10.", "n", "integer_out_of_range");
      if (!size_ok(rec.model, rec.size, w, hh)) return bad_size(rec.model, rec.size);
      check_background(rec);
      if (reply && reply->text_only) return {200, R"({"created":1767225600,"data":[]})"};
      const bool clear = rec.background == "transparent";
      return openai_images(picture_b64(w, hh, color_for(reply), reply, nullptr, clear), rec.n, rec.size,
                           clear ? "transparent" : "opaque");
    }

    if (!g_str_has_prefix(rec.content_type.c_str(), "multipart/form-data"))
      throw invalid("Invalid Content-Type header (" + rec.content_type +
                        "), expected multipart/form-data. (HINT: If you're using the images/edits endpoint, this "
                        "endpoint expects multipart/form-data.)",
                    nullptr);
    GBytes *bytes = g_bytes_new(body.data(), body.size());
    SoupMultipart *mp = soup_multipart_new_from_message(h, bytes);
    g_bytes_unref(bytes);
    if (!mp) throw invalid("Could not parse multipart form.", nullptr);
    std::unique_ptr<SoupMultipart, void (*)(SoupMultipart *)> guard(mp, soup_multipart_free);
    std::optional<std::pair<int, int>> first;
    Image upload;  // the first picture sent, for drifted answers
    bool mask_has_alpha = false;
    std::string image_field;
    for (int i = 0; i < soup_multipart_get_length(mp); ++i) {
      SoupMessageHeaders *ph = nullptr;
      GBytes *pb = nullptr;
      soup_multipart_get_part(mp, i, &ph, &pb);
      char *disposition = nullptr;
      GHashTable *raw_params = nullptr;
      if (!soup_message_headers_get_content_disposition(ph, &disposition, &raw_params)) continue;
      g_free(disposition);
      std::unique_ptr<GHashTable, void (*)(GHashTable *)> params(raw_params, g_hash_table_destroy);
      const char *field = static_cast<const char *>(g_hash_table_lookup(params.get(), "name"));
      const std::string name = field ? field : "";
      const char *filename = static_cast<const char *>(g_hash_table_lookup(params.get(), "filename"));
      gsize len = 0;
      const char *data = static_cast<const char *>(g_bytes_get_data(pb, &len));
      const std::string value(data ? data : "", len);
      const char *ctype = soup_message_headers_get_content_type(ph, nullptr);
      if (name == "image" || name == "image[]") {
        if (!image_field.empty() && image_field != name) throw invalid("Mixed 'image' and 'image[]' fields.", "image");
        image_field = name;
        if (!filename) return {400, load_fixture("openai/error_400_image_sent_as_string.json")};
        const std::string ct = ctype ? ctype : "";
        if (ct != "image/png" && ct != "image/jpeg" && ct != "image/webp")
          return {400, load_fixture("openai/error_400_unsupported_mimetype.json")};
        Image img = decode_or(std::vector<uint8_t>(value.begin(), value.end()),
                              {400, openai_error("Invalid image file or mode for image " + std::to_string(rec.image_count + 1) +
                                                     ", please check your image file.",
                                                 "invalid_request_error", "image", "invalid_image_file")});
        if (!first) first = std::make_pair(img.width, img.height);
        rec.image_sizes.emplace_back(img.width, img.height);
        if (upload.empty()) upload = std::move(img);
        ++rec.image_count;
      } else if (name == "mask") {
        const std::vector<uint8_t> mb(value.begin(), value.end());
        if (!filename || sniff_image_mime(mb) != "image/png")
          throw invalid("Invalid mask image format - mask image missing alpha channel", "mask");
        // PNG IHDR colour type: 4 (grey + alpha) or 6 (RGBA) carry an alpha channel.
        mask_has_alpha = mb.size() > 25 && (mb[25] == 4 || mb[25] == 6);
        Image m = decode_or(mb, {400, openai_error("Invalid mask image.", "invalid_request_error", "mask", nullptr)});
        rec.mask_size = std::make_pair(m.width, m.height);
      } else if (name == "model") {
        rec.model = value;
      } else if (name == "prompt") {
        rec.prompt = value;
      } else if (name == "n") {
        rec.n = std::atoi(value.c_str());
      } else if (name == "size") {
        rec.size = value;
      } else if (name == "input_fidelity") {
        rec.input_fidelity = value;
      } else if (name == "background") {
        rec.background = value;
      } else if (name == "output_format") {
        rec.output_format = value;
      } else if (name == "response_format") {
        return {400, load_fixture("openai/error_400_unknown_parameter_response_format.json")};
      }
    }
    if (rec.image_count == 0) throw invalid("Missing required parameter: 'image'.", "image");
    if (image_field == "image" && rec.image_count > 1) throw invalid("Repeated 'image' field; use 'image[]'.", "image");
    if (rec.model.empty()) throw invalid("You must provide a model parameter.", "model");
    check_model(rec.model);
    if (rec.prompt.empty()) throw invalid("Missing required parameter: 'prompt'.", "prompt");
    if (rec.mask_size) {
      if (!mask_has_alpha) throw invalid("Invalid mask image format - mask image missing alpha channel", "mask");
      if (rec.mask_size != first)
        throw invalid("Invalid mask image size - mask must be the same size as the image", "mask");
    }
    if (rec.n < 1 || rec.n > 10) throw invalid("Invalid 'n': integer must be between 1 and 10.", "n", "integer_out_of_range");
    if (!rec.input_fidelity.empty()) {  // REFERENCE §3.3: high or low; not on gpt-image-1-mini
      if (rec.input_fidelity != "high" && rec.input_fidelity != "low")
        throw invalid("Invalid value: '" + rec.input_fidelity + "'. Supported values are: 'high' and 'low'.",
                      "input_fidelity", "invalid_value");
      if (rec.model.rfind("gpt-image-1-mini", 0) == 0)
        throw invalid("input_fidelity is not supported for model '" + rec.model + "'.", "input_fidelity",
                      "unsupported_parameter");
    }
    if (rec.size.empty()) rec.size = "auto";
    if (!size_ok(rec.model, rec.size, w, hh)) return bad_size(rec.model, rec.size);
    check_background(rec);
    if (reply && reply->text_only) return {200, R"({"created":1767225600,"data":[]})"};
    const bool clear = rec.background == "transparent";
    return openai_images(picture_b64(w, hh, color_for(reply), reply, &upload, clear), rec.n, rec.size,
                         clear ? "transparent" : "opaque");
  }

  // ---------- Imagen (:predict, legacy) ----------

  Answer imagen(SoupServerMessage *msg, const std::string &model, const std::string &body, RecordedRequest &rec,
                const FakeReply *reply) {
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    const char *key = soup_message_headers_get_one(h, "x-goog-api-key");
    rec.has_key = key && *key;
    rec.key_in_query = query_has(msg, {"key"});
    rec.model = model;
    if (rec.key_in_query)
      return {400, gemini_error(400, "INVALID_ARGUMENT", "API keys must not be sent in the URL (fake server rule).")};
    if (!rec.has_key) return {403, load_fixture("gemini/error_403_permission_denied_no_key.json")};
    if (g_str_has_prefix(key, "bad")) return {400, load_fixture("imagen/error_400_api_key_invalid.json")};
    if (!g_str_has_prefix(model.c_str(), "imagen"))  // as imagen/error_404_model_retired.json, naming this model
      return {404, gemini_error(404, "NOT_FOUND",
                                "models/" + model +
                                    " is not found for API version v1beta, or is not supported for predict. Call "
                                    "ListModels to see the list of available models and their supported methods.")};
    auto invalid = [](const std::string &m) { return Reject{{400, gemini_error(400, "INVALID_ARGUMENT", m)}}; };
    json::Doc doc = json::try_parse(body);
    JsonObject *root = doc.object();
    if (!root) throw invalid("Invalid JSON payload received.");
    JsonArray *instances = json::array(root, "instances");
    if (!instances || json_array_get_length(instances) != 1) throw invalid("Exactly one instance is expected.");
    JsonObject *instance = json::element_object(instances, 0);
    for (const char *editing : {"image", "referenceImages", "mask"})
      if (instance && json_object_has_member(instance, editing))
        throw invalid(std::string("Image editing is not supported by this model (instances[0].") + editing + ").");
    rec.prompt = json::string(instance, "prompt");
    if (rec.prompt.empty()) throw invalid("instances[0].prompt is required.");
    JsonObject *params = json::object(root, "parameters");
    bool rai = false;
    if (params) {  // only what the Gemini API's Imagen mapper sends (REFERENCE §2)
      static const std::set<std::string> known = {"sampleCount", "aspectRatio", "personGeneration", "safetySetting",
                                                  "guidanceScale", "includeSafetyAttributes", "includeRaiReason",
                                                  "language", "outputOptions", "sampleImageSize"};
      GList *names = json_object_get_members(params);
      std::string unknown;
      for (GList *l = names; l; l = l->next)
        if (!known.count(static_cast<const char *>(l->data))) unknown = static_cast<const char *>(l->data);
      g_list_free(names);
      if (!unknown.empty()) throw invalid(unknown + " parameter is not supported in Gemini API.");
      rai = json::boolean(params, "includeRaiReason");
    }
    rec.n = int(json::integer(params, "sampleCount", 4));
    if (rec.n < 1 || rec.n > 4) throw invalid("sampleCount must be between 1 and 4.");
    rec.aspect = json::string(params, "aspectRatio");
    int w = 1024, ht = 1024;
    if (!rec.aspect.empty()) {
      auto it = std::find_if(std::begin(kImagenAspects), std::end(kImagenAspects),
                             [&](const auto &a) { return rec.aspect == a.ratio; });
      if (it == std::end(kImagenAspects)) throw invalid("Unsupported aspect ratio: " + rec.aspect);
      w = it->w;
      ht = it->h;
    }
    rec.image_size = json::string(params, "sampleImageSize");  // Imagen 4: "1K" (default) or "2K"
    if (rec.image_size == "2K") {
      w *= 2;
      ht *= 2;
    } else if (!rec.image_size.empty() && rec.image_size != "1K") {
      throw invalid("sampleImageSize must be 1K or 2K.");
    }
    // "No picture": every picture filtered, said so with includeRaiReason, else dropped ({}).
    const bool none = reply && reply->text_only;
    if (none && !rai) return {200, "{}"};
    const std::string b64 = none ? std::string() : picture_b64(w, ht, color_for(reply), reply);
    return {200, build_object([&](JsonBuilder *b) {
              json_builder_set_member_name(b, "predictions");
              json_builder_begin_array(b);
              for (int i = 0; i < rec.n; ++i) {
                json_builder_begin_object(b);
                if (none) {
                  json::add(b, "raiFilteredReason", std::string("The fake filtered this picture."));
                } else {
                  json::add(b, "mimeType", std::string("image/png"));
                  json::add(b, "bytesBase64Encoded", b64);
                }
                json_builder_end_object(b);
              }
              json_builder_end_array(b);
            })};
  }

  // ---------- OpenAI-compatible chat relay (OpenRouter's image form) ----------

  // A data: URL of a picture, checked as strictly as the pictures of the other services.
  Image relay_picture(const std::string &data_url, const std::function<Reject(const std::string &)> &invalid) {
    const std::string marker = ";base64,";
    const size_t at = data_url.find(marker);
    if (data_url.rfind("data:image/", 0) != 0 || at == std::string::npos)
      throw invalid("image_url.data_url must be a data:image/...;base64, URL here (the fake fetches nothing).");
    const std::string mime = data_url.substr(5, at - 5), b64 = data_url.substr(at + marker.size());
    if (!strict_base64(b64)) throw invalid("image_url.data_url: invalid base64 data.");
    const std::vector<uint8_t> bytes = json::base64_decode(b64, "fake");
    if (sniff_image_mime(bytes) != mime) throw invalid("image_url.data_url: the data is not a " + mime + " picture.");
    return decode_or(bytes, {400, relay_error(400, "image_url.data_url: the picture cannot be read.")});
  }

  Answer relay(SoupServerMessage *msg, const std::string &body, RecordedRequest &rec, const FakeReply *reply) {
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    const char *auth = soup_message_headers_get_one(h, "Authorization");
    rec.has_key = auth && g_str_has_prefix(auth, "Bearer ") && strlen(auth) > 7;
    rec.key_in_query = query_has(msg, {"key", "api_key"});
    if (rec.key_in_query) return {400, relay_error(400, "API keys must not be sent in the URL (fake server rule).")};
    if (!rec.has_key || g_str_has_prefix(auth + 7, "bad"))
      return {401, load_fixture("openai-chat/error_401_invalid_key.json")};
    auto invalid = [](const std::string &m) { return Reject{{400, relay_error(400, m)}}; };
    if (!g_str_has_prefix(rec.content_type.c_str(), "application/json"))
      throw invalid("Content-Type must be application/json.");
    json::Doc doc = json::try_parse(body);
    JsonObject *root = doc.object();
    if (!root) throw invalid("Invalid JSON body.");
    rec.model = json::string(root, "model");
    if (rec.model.empty()) throw invalid("model is required.");
    if (rec.model.find("image") == std::string::npos)
      return {404, relay_error(404, "No endpoints found for " + rec.model + ".")};
    JsonArray *messages = json::array(root, "messages");
    if (!messages || json_array_get_length(messages) == 0) throw invalid("messages must be a non-empty array.");
    const guint last = json_array_get_length(messages) - 1;
    Image upload;  // the first picture of the last turn, for drifted answers
    for (guint m = 0; m <= last; ++m) {
      JsonObject *message = json::element_object(messages, m);
      const std::string role = json::string(message, "role");
      if (role != "user" && role != "assistant" && role != "system")
        throw invalid("messages[" + std::to_string(m) + "].role must be system, user or assistant.");
      if (m == last && role != "user") throw invalid("The last message must be the user's.");
      rec.roles.push_back(role);
      if (message && json_object_has_member(message, "content") && !json::array(message, "content")) {
        const std::string text = json::string(message, "content");  // plain text content
        if (text.empty()) throw invalid("messages[" + std::to_string(m) + "].content must not be empty.");
        if (m != last && role == "user") rec.history_prompts.push_back(text);
        if (m == last) rec.prompt = text;
        continue;
      }
      JsonArray *parts = json::array(message, "content");
      if (!parts || json_array_get_length(parts) == 0)
        throw invalid("messages[" + std::to_string(m) + "].content must be a string or a non-empty array.");
      for (guint i = 0; i < json_array_get_length(parts); ++i) {
        JsonObject *part = json::element_object(parts, i);
        const std::string type = json::string(part, "type");
        if (type == "text") {
          const std::string text = json::string(part, "text");
          if (m != last && role == "user") rec.history_prompts.push_back(text);
          if (m == last && rec.prompt.empty()) rec.prompt = text;
        } else if (type == "image_url") {
          if (role == "assistant") throw invalid("Assistant messages take text only (fake server rule).");
          Image img = relay_picture(json::string(json::object(part, "image_url"), "url"), invalid);
          if (m != last) {
            ++rec.history_images;
            continue;
          }
          rec.image_sizes.emplace_back(img.width, img.height);
          if (upload.empty()) upload = std::move(img);
          ++rec.image_count;
        } else {
          throw invalid("Unknown content part type \"" + type + "\".");
        }
      }
    }
    bool image = false;
    JsonArray *mods = json::array(root, "modalities");
    for (guint i = 0; mods && i < json_array_get_length(mods); ++i)
      image = image || g_strcmp0(json_array_get_string_element(mods, i), "image") == 0;
    if (!image) throw invalid("This fake answers image requests only: modalities must include \"image\".");
    if (json_object_has_member(root, "n") && json::integer(root, "n", 1) != 1) throw invalid("n must be 1.");
    rec.aspect = json::string(json::object(root, "image_config"), "aspect_ratio");
    int w = 1024, ht = 1024;
    if (!rec.image_sizes.empty()) std::tie(w, ht) = rec.image_sizes.front();
    if (!rec.aspect.empty()) {
      if (std::find_if(std::begin(kRelayRatios), std::end(kRelayRatios),
                       [&](const char *r) { return rec.aspect == r; }) == std::end(kRelayRatios))
        throw invalid("image_config.aspect_ratio " + rec.aspect + " is not supported.");
      auto it = std::find_if(std::begin(kAspects), std::end(kAspects), [&](const auto &a) { return rec.aspect == a.ratio; });
      if (it != std::end(kAspects)) {
        w = it->w;
        ht = it->h;
      }
    }
    rec.image_size = json::string(json::object(root, "image_config"), "image_size");
    if (!rec.image_size.empty()) {
      const double scale = rec.image_size == "512" ? 0.5 : rec.image_size == "1K" ? 1 : rec.image_size == "2K" ? 2
                         : rec.image_size == "4K" ? 4 : 0;
      if (scale == 0) throw invalid("image_config.image_size " + rec.image_size + " is not supported.");
      w = int(w * scale);
      ht = int(ht * scale);
    }
    const bool none = reply && reply->text_only;
    const std::string b64 = none ? std::string() : picture_b64(w, ht, color_for(reply), reply, &upload);
    unsigned id = 0;
    {
      std::lock_guard lock(mu);
      id = ++answers;
    }
    return {200, build_object([&](JsonBuilder *b) {
              json::add(b, "id", "gen-fake-" + std::to_string(id));
              json::add(b, "object", std::string("chat.completion"));
              json::add(b, "created", int64_t(1767225600));
              json::add(b, "model", rec.model);
              json_builder_set_member_name(b, "choices");
              json_builder_begin_array(b);
              json_builder_begin_object(b);
              json::add(b, "index", int64_t(0));
              json::add(b, "finish_reason", std::string("stop"));
              json::add(b, "native_finish_reason", std::string("STOP"));
              json_builder_set_member_name(b, "message");
              json_builder_begin_object(b);
              json::add(b, "role", std::string("assistant"));
              json::add(b, "content", reply && !reply->text.empty() ? reply->text
                                      : std::string(none ? "I can describe the picture, but I will not draw it."
                                                         : "Here is the edited picture."));
              if (!none) {
                json_builder_set_member_name(b, "images");
                json_builder_begin_array(b);
                json_builder_begin_object(b);
                json::add(b, "type", std::string("image_url"));
                json_builder_set_member_name(b, "image_url");
                json_builder_begin_object(b);
                json::add(b, "url", "data:image/png;base64," + b64);
                json_builder_end_object(b);
                json_builder_end_object(b);
                json_builder_end_array(b);
              }
              json_builder_end_object(b);
              json_builder_end_object(b);
              json_builder_end_array(b);
              json_builder_set_member_name(b, "usage");
              json_builder_begin_object(b);
              json::add(b, "prompt_tokens", int64_t(1300));
              json::add(b, "completion_tokens", int64_t(none ? 12 : 1302));
              json::add(b, "total_tokens", int64_t(none ? 1312 : 2602));
              json_builder_end_object(b);
            })};
  }

  // ---------- model lists ----------

  // GET /v1beta/models?pageSize=N&pageToken=T (Gemini and Imagen), key in x-goog-api-key.
  Answer gemini_models(SoupServerMessage *msg, RecordedRequest &rec) {
    const char *key = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "x-goog-api-key");
    rec.has_key = key && *key;
    rec.key_in_query = query_has(msg, {"key"});
    if (rec.key_in_query)
      return {400, gemini_error(400, "INVALID_ARGUMENT", "API keys must not be sent in the URL (fake server rule).")};
    if (!rec.has_key) return {403, load_fixture("gemini/error_403_permission_denied_no_key.json")};
    if (g_str_has_prefix(key, "bad")) return {400, load_fixture("gemini/error_400_api_key_invalid.json")};
    GUri *uri = soup_server_message_get_uri(msg);
    GHashTable *q = g_uri_get_query(uri) ? soup_form_decode(g_uri_get_query(uri)) : nullptr;
    std::unique_ptr<GHashTable, void (*)(GHashTable *)> query(q, [](GHashTable *t) { if (t) g_hash_table_destroy(t); });
    auto param = [&](const char *name) {
      const char *v = q ? static_cast<const char *>(g_hash_table_lookup(q, name)) : nullptr;
      return std::string(v ? v : "");
    };
    size_t start = 0;
    if (const std::string token = param("pageToken"); !token.empty()) {
      // Tokens are the position to go on from, as the fake gave it.
      const std::string from = token.rfind("fake-page-", 0) == 0 ? token.substr(10) : "";
      if (from.empty() || from.find_first_not_of("0123456789") != std::string::npos)
        return {400, gemini_error(400, "INVALID_ARGUMENT", "Invalid page token.")};
      start = std::stoul(from);
    }
    const std::string size = param("pageSize");
    const size_t asked = size.empty() ? 50 : std::strtoul(size.c_str(), nullptr, 10);
    const size_t count = std::min({asked == 0 ? size_t(50) : asked, size_t(1000), kGeminiPage});
    const size_t end = std::min(std::size(kGeminiList), start + count);
    return {200, build_object([&](JsonBuilder *b) {
              json_builder_set_member_name(b, "models");
              json_builder_begin_array(b);
              for (size_t i = start; i < end; ++i) {
                const ListedGemini &m = kGeminiList[i];
                json_builder_begin_object(b);
                json::add(b, "name", "models/" + std::string(m.id));
                json::add(b, "version", std::string("3.0"));
                json::add(b, "displayName", std::string(m.display_name));
                json::add(b, "inputTokenLimit", int64_t(65536));
                json::add(b, "outputTokenLimit", int64_t(65536));
                json_builder_set_member_name(b, "supportedGenerationMethods");
                json_builder_begin_array(b);
                gchar **methods = g_strsplit(m.methods, " ", -1);
                for (gchar **w = methods; *w; ++w) json_builder_add_string_value(b, *w);
                g_strfreev(methods);
                json_builder_end_array(b);
                json_builder_end_object(b);
              }
              json_builder_end_array(b);
              if (end < std::size(kGeminiList)) json::add(b, "nextPageToken", "fake-page-" + std::to_string(end));
            })};
  }

  // GET /v1/models (OpenAI; relays under /v1/models and /api/v1/models), Bearer key.
  Answer openai_models(SoupServerMessage *msg, RecordedRequest &rec, bool relay) {
    const char *auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
    rec.has_key = auth && g_str_has_prefix(auth, "Bearer ") && strlen(auth) > 7;
    rec.key_in_query = query_has(msg, {"key", "api_key"});
    if (!rec.has_key || g_str_has_prefix(auth + 7, "bad"))
      return {401, load_fixture(relay ? "openai-chat/error_401_invalid_key.json" : "openai/error_401_invalid_api_key.json")};
    if (relay) {  // OpenRouter: text models unless other output modalities are asked for
      const char *q = g_uri_get_query(soup_server_message_get_uri(msg));
      const bool images = q && (strstr(q, "output_modalities=image") || strstr(q, "output_modalities=all"));
      return {200, build_object([&](JsonBuilder *b) {
                json_builder_set_member_name(b, "data");
                json_builder_begin_array(b);
                auto entry = [b](const std::string &id, bool image) {
                  json_builder_begin_object(b);
                  json::add(b, "id", id);
                  json::add(b, "name", id.substr(id.find('/') + 1));
                  json_builder_set_member_name(b, "architecture");
                  json_builder_begin_object(b);
                  json_builder_set_member_name(b, "output_modalities");
                  json_builder_begin_array(b);
                  if (image) json_builder_add_string_value(b, "image");
                  json_builder_add_string_value(b, "text");
                  json_builder_end_array(b);
                  json_builder_end_object(b);
                  json_builder_end_object(b);
                };
                entry("google/gemini-3.5-flash", false);
                if (images)
                  for (const char *id : kRelayImageModels) entry(id, true);
                json_builder_end_array(b);
              })};
    }
    return {200, build_object([&](JsonBuilder *b) {
              json::add(b, "object", std::string("list"));
              json_builder_set_member_name(b, "data");
              json_builder_begin_array(b);
              for (const ListedOpenAI &m : kOpenAIList) {
                json_builder_begin_object(b);
                json::add(b, "id", std::string(m.id));
                json::add(b, "object", std::string("model"));
                json::add(b, "created", int64_t(1767225600));
                json::add(b, "owned_by", std::string("system"));
                if (m.shutdown_in_days != 0) json::add(b, "shutdown_date", day_from_today(m.shutdown_in_days));
                else add_nullable(b, "shutdown_date", nullptr);
                json_builder_end_object(b);
              }
              json_builder_end_array(b);
            })};
  }

  // ---------- misbehaviour ----------

  // A 400 whose words repeat the key as it was sent, in the format of the service asked.
  static Answer key_echo(SoupServerMessage *msg, const std::string &path) {
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    std::string key;
    if (const char *google = soup_message_headers_get_one(h, "x-goog-api-key")) {
      key = google;
    } else if (const char *auth = soup_message_headers_get_one(h, "Authorization")) {
      key = auth;
      if (key.rfind("Bearer ", 0) == 0) key.erase(0, 7);
    }
    const std::string words = "Request contains an invalid argument (sent with the key " + key + ").";
    if (path.rfind("/v1beta/", 0) == 0) return {400, gemini_error(400, "INVALID_ARGUMENT", words)};
    if (path.rfind("/api/v1/", 0) == 0 || path == "/v1/chat/completions") return {400, relay_error(400, words)};
    return {400, openai_error(words, "invalid_request_error", nullptr, nullptr)};
  }

  // ---------- dispatch ----------

  void handle(SoupServerMessage *msg, const char *path) {
    const gsize arrived = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(msg), "genfill-fake-arrived"));
    const gint64 received_us = arrived ? gint64(arrived) : g_get_monotonic_time();
    const std::string p = path;
    const char *method = soup_server_message_get_method(msg);
    GBytes *flat = soup_message_body_flatten(soup_server_message_get_request_body(msg));
    gsize len = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(flat, &len));
    const std::string body(data ? data : "", len);
    g_bytes_unref(flat);

    if (p.rfind("/_fake/", 0) == 0) return control(msg, p, body);

    RecordedRequest rec;
    rec.method = method;
    rec.path = p;
    rec.body_bytes = body.size();
    const char *ct = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Content-Type");
    rec.content_type = ct ? ct : "";
    const char *ua = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "User-Agent");
    rec.user_agent = ua ? ua : "";

    const bool list_request = g_strcmp0(method, "GET") == 0 &&
                              (p == "/v1beta/models" || p == "/v1/models" || p == "/api/v1/models");
    const std::optional<FakeReply> scripted = take_reply(list_request);
    const FakeReply *reply = scripted ? &*scripted : nullptr;
    Answer answer;
    bool known = true;
    try {
      static const std::string gprefix = "/v1beta/models/", gsuffix = ":generateContent", isuffix = ":predict";
      const bool post = g_strcmp0(method, "POST") == 0;
      auto google = [&](const std::string &suffix) {
        return post && p.rfind(gprefix, 0) == 0 && p.size() > gprefix.size() + suffix.size() &&
               p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      if (google(gsuffix)) {
        answer = gemini(msg, p.substr(gprefix.size(), p.size() - gprefix.size() - gsuffix.size()), body, rec, reply);
      } else if (google(isuffix)) {
        answer = imagen(msg, p.substr(gprefix.size(), p.size() - gprefix.size() - isuffix.size()), body, rec, reply);
      } else if (post && (p == "/v1/chat/completions" || p == "/api/v1/chat/completions")) {
        answer = relay(msg, body, rec, reply);
      } else if (g_strcmp0(method, "GET") == 0 && p == "/v1beta/models") {
        answer = gemini_models(msg, rec);
      } else if (g_strcmp0(method, "GET") == 0 && (p == "/v1/models" || p == "/api/v1/models")) {
        // OpenAI's own list at /v1/models; a relay's (OpenRouter's form) when it asks for modalities
        // or comes under /api/v1.
        const char *q = g_uri_get_query(soup_server_message_get_uri(msg));
        answer = openai_models(msg, rec, p == "/api/v1/models" || (q && strstr(q, "output_modalities")));
      } else if (post && (p == "/v1/images/generations" || p == "/v1/images/edits")) {
        answer = openai(msg, p == "/v1/images/edits", body, rec, reply);
      } else {
        known = false;
        answer = {404, build_object([&](JsonBuilder *b) {
                    json_builder_set_member_name(b, "error");
                    json_builder_begin_object(b);
                    json::add(b, "message", "Unknown request URL: " + std::string(method) + " " + p);
                    json_builder_end_object(b);
                  })};
      }
    } catch (const Reject &r) {
      answer = r.answer;
    } catch (const std::exception &e) {
      answer = {500, build_object([&](JsonBuilder *b) { json::add(b, "fake_server_failure", std::string(e.what())); })};
    }
    // A scripted status/body replaces the verdict (the request was still checked and recorded).
    if (known && reply && reply->status > 0) {
      answer.status = reply->status;
      answer.body = !reply->fixture.empty() ? load_fixture(reply->fixture) : reply->body;
    }
    if (known && reply && reply->echo_key) answer = key_echo(msg, p);
    if (reply && reply->huge_bytes) answer.status = 200;

    const bool cut_mid_body = reply && reply->reset && reply->truncate_at >= 0;
    rec.status = reply && reply->reset && !cut_mid_body ? 0 : answer.status;
    {
      std::lock_guard lock(mu);
      log.push_back(rec);
    }
    // delay_ms counts from the request's arrival: the fake's own checking is part of the service's
    // time, as it is for a real one (and requests are worked on side by side, as by a service).
    const int spent_ms = int((g_get_monotonic_time() - received_us) / 1000);
    const int delay_ms = reply && reply->delay_ms > 0 ? std::max(1, reply->delay_ms - spent_ms) : 0;
    deliver_after(msg, std::move(answer), reply ? *reply : FakeReply{}, delay_ms);
  }

  // Pending answers, for delay_ms; freed on stop() when still pending.
  struct Later {
    Impl *self;
    SoupServerMessage *msg;
    Answer answer;
    FakeReply reply;
    guint source = 0;
  };
  std::set<Later *> pending;  // server thread only
  std::vector<GIOStream *> stalled;  // connections left silent on purpose (stall); server thread only

  void drop(Later *l) {
    pending.erase(l);
    g_signal_handlers_disconnect_by_data(l->msg, l);
    if (l->source)
      if (GSource *s = g_main_context_find_source_by_id(ctx, l->source)) g_source_destroy(s);
    g_object_unref(l->msg);
    delete l;
  }

  void deliver_after(SoupServerMessage *msg, Answer answer, const FakeReply &reply, int ms) {
    if (ms <= 0) return deliver(msg, answer, reply);
    soup_server_message_pause(msg);
    auto *later = new Later{this, SOUP_SERVER_MESSAGE(g_object_ref(msg)), std::move(answer), reply};
    pending.insert(later);
    // If the client goes away first, drop the answer.
    g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *, gpointer data) {
                       auto *l = static_cast<Later *>(data);
                       l->self->drop(l);
                     }), later);
    GSource *src = g_timeout_source_new(guint(ms));
    g_source_set_callback(src, +[](gpointer data) -> gboolean {
      auto *l = static_cast<Later *>(data);
      l->source = 0;
      g_signal_handlers_disconnect_by_data(l->msg, l);
      l->self->deliver(l->msg, l->answer, l->reply);
      if (!l->reply.reset) soup_server_message_unpause(l->msg);  // a reset took the connection away
      l->self->drop(l);
      return G_SOURCE_REMOVE;
    }, later, nullptr);
    later->source = g_source_attach(src, ctx);
    g_source_unref(src);
  }

  void deliver(SoupServerMessage *msg, const Answer &a, const FakeReply &reply) {
    if (reply.reset || reply.stall) {
      GIOStream *io = soup_server_message_steal_connection(msg);
      const long cut = reply.truncate_at >= 0 ? reply.truncate_at : reply.stall ? 0 : -1;
      if (cut >= 0) {  // headers for the whole body, then part of it
        const char *phrase = soup_status_get_phrase(guint(a.status));
        std::string head = "HTTP/1.1 " + std::to_string(a.status) + " " + (phrase ? phrase : "Unknown") +
                           "\r\nContent-Type: " + a.content_type + "\r\nContent-Length: " + std::to_string(a.body.size()) +
                           "\r\n\r\n";
        head += a.body.substr(0, std::min(a.body.size(), size_t(cut)));
        g_output_stream_write_all(g_io_stream_get_output_stream(io), head.data(), head.size(), nullptr, nullptr,
                                  nullptr);
      }
      if (reply.stall) {  // and then nothing: the client waits mid-answer until it gives up
        stalled.push_back(io);
        return;
      }
      g_io_stream_close(io, nullptr, nullptr);
      g_object_unref(io);
      return;
    }
    if (reply.huge_bytes) return stream_junk(msg, reply.huge_bytes, reply.chunked);
    soup_server_message_set_status(msg, guint(a.status), nullptr);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    for (const auto &[k, v] : reply.headers) soup_message_headers_replace(h, k.c_str(), v.c_str());
    std::string body = a.body;
    if (reply.truncate_at >= 0 && size_t(reply.truncate_at) < body.size()) {
      body.resize(size_t(reply.truncate_at));
      soup_message_headers_replace(h, "Connection", "close");
    }
    soup_server_message_set_response(msg, a.content_type.c_str(), SOUP_MEMORY_COPY, body.data(), body.size());
  }

  struct Junk {
    size_t left;
    std::string chunk;
  };

  void stream_junk(SoupServerMessage *msg, size_t total, bool chunked) {
    soup_server_message_set_status(msg, 200, nullptr);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    soup_message_headers_set_content_type(h, "application/json", nullptr);
    if (chunked) {
      soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
    } else {
      soup_message_headers_set_encoding(h, SOUP_ENCODING_CONTENT_LENGTH);
      soup_message_headers_set_content_length(h, goffset(total));
    }
    SoupMessageBody *body = soup_server_message_get_response_body(msg);
    soup_message_body_set_accumulate(body, FALSE);
    auto *junk = new Junk{total, std::string(256 * 1024, 'x')};
    // One chunk at a time, the next when the last is written: never buffered whole.
    static auto next = +[](SoupServerMessage *m, gpointer) {
      auto *j = static_cast<Junk *>(g_object_get_data(G_OBJECT(m), "junk"));
      SoupMessageBody *b = soup_server_message_get_response_body(m);
      if (j->left == 0) {
        soup_message_body_complete(b);
        return;
      }
      size_t n = std::min(j->left, j->chunk.size());
      j->left -= n;
      soup_message_body_append(b, SOUP_MEMORY_COPY, j->chunk.data(), n);
    };
    g_object_set_data_full(G_OBJECT(msg), "junk", junk, [](gpointer p) { delete static_cast<Junk *>(p); });
    g_signal_connect(msg, "wrote-chunk", G_CALLBACK(next), nullptr);
    next(msg, nullptr);
  }

  void control(SoupServerMessage *msg, const std::string &path, const std::string &body) {
    Answer a{200, "{}"};
    const char *method = soup_server_message_get_method(msg);
    if (path == "/_fake/requests" && g_strcmp0(method, "GET") == 0) {
      a.body = requests_json();
    } else if (path == "/_fake/reset" && g_strcmp0(method, "POST") == 0) {
      std::lock_guard lock(mu);
      queue.clear();
      log.clear();
    } else if (path == "/_fake/enqueue" && g_strcmp0(method, "POST") == 0) {
      try {
        enqueue_json(body);
      } catch (const std::exception &e) {
        a = {400, build_object([&](JsonBuilder *b) { json::add(b, "error", std::string(e.what())); })};
      }
    } else {
      a = {404, R"({"error":"unknown control request"})"};
    }
    soup_server_message_set_status(msg, guint(a.status), nullptr);
    soup_server_message_set_response(msg, a.content_type.c_str(), SOUP_MEMORY_COPY, a.body.data(), a.body.size());
  }

  void enqueue(const FakeReply &r) {
    uint32_t rgb = 0;
    if (!r.color.empty() && !parse_color(r.color, &rgb))
      throw std::invalid_argument("color must be six hex digits (RRGGBB), not \"" + r.color + "\"");
    std::lock_guard lock(mu);
    queue.push_back(r);
  }

  void enqueue_json(const std::string &text) {
    json::Doc doc = json::try_parse(text);
    JsonObject *o = doc.object();
    if (!o) throw std::invalid_argument("enqueue wants a JSON object");
    FakeReply r;
    r.status = int(json::integer(o, "status", 0));
    r.fixture = json::string(o, "fixture");
    r.body = json::string(o, "body");
    r.delay_ms = int(std::max<int64_t>(0, json::integer(o, "delay_ms", 0)));
    r.truncate_at = long(json::integer(o, "truncate_at", -1));
    r.huge_bytes = size_t(std::max<int64_t>(0, json::integer(o, "huge_bytes", 0)));
    r.chunked = json::boolean(o, "chunked");
    r.reset = json::boolean(o, "reset");
    r.stall = json::boolean(o, "stall");
    r.text_only = json::boolean(o, "text_only");
    r.echo_key = json::boolean(o, "echo_key");
    r.color = json::string(o, "color");
    r.picture = json::string(o, "picture");
    r.text = json::string(o, "text");
    r.count = int(json::integer(o, "count", 1));
    r.lists = json::boolean(o, "lists");
    if (JsonObject *d = json::object(o, "drift")) {
      auto num = [&](const char *k, double def) {
        return json_object_has_member(d, k) ? json_object_get_double_member(d, k) : def;
      };
      r.drift = true;
      r.drift_dx = num("dx", 0);
      r.drift_dy = num("dy", 0);
      r.drift_scale = num("scale", 1);
      r.drift_gain = num("gain", 1);
      r.drift_offset = num("offset", 0);
      if (!(r.drift_scale > 0.5 && r.drift_scale < 2)) throw std::invalid_argument("drift scale must be 0.5..2");
    }
    if (r.status != 0 && (r.status < 100 || r.status > 599)) throw std::invalid_argument("status must be 100..599");
    if (!r.fixture.empty() && load_fixture(r.fixture).find("fake_fixture_missing") != std::string::npos)
      throw std::invalid_argument("no such fixture: " + r.fixture);
    if (JsonObject *headers = json::object(o, "headers")) {
      GList *members = json_object_get_members(headers);
      for (GList *m = members; m; m = m->next) {
        const char *k = static_cast<const char *>(m->data);
        r.headers[k] = json::string(headers, k);
      }
      g_list_free(members);
    }
    enqueue(r);
  }

  std::string requests_json() {
    std::vector<RecordedRequest> copy;
    {
      std::lock_guard lock(mu);
      copy = log;
    }
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_array(b.get());
    for (const RecordedRequest &r : copy) {
      JsonBuilder *o = b.get();
      json_builder_begin_object(o);
      json::add(o, "method", r.method);
      json::add(o, "path", r.path);
      json::add(o, "content_type", r.content_type);
      json::add(o, "user_agent", r.user_agent);
      json::add(o, "model", r.model);
      json::add(o, "prompt", r.prompt);
      json::add(o, "size", r.size);
      json::add(o, "aspect", r.aspect);
      json::add(o, "image_size", r.image_size);
      json::add(o, "input_fidelity", r.input_fidelity);
      json::add(o, "background", r.background);
      json::add(o, "output_format", r.output_format);
      json_builder_set_member_name(o, "has_key");
      json_builder_add_boolean_value(o, r.has_key);
      json_builder_set_member_name(o, "key_in_query");
      json_builder_add_boolean_value(o, r.key_in_query);
      json::add(o, "n", int64_t(r.n));
      json::add(o, "image_count", int64_t(r.image_count));
      json::add(o, "status", int64_t(r.status));
      json::add(o, "body_bytes", int64_t(r.body_bytes));
      json_builder_set_member_name(o, "image_sizes");
      json_builder_begin_array(o);
      for (auto [w, h] : r.image_sizes) add_pair(o, w, h);
      json_builder_end_array(o);
      auto strings = [&](const char *name, const std::vector<std::string> &v) {
        json_builder_set_member_name(o, name);
        json_builder_begin_array(o);
        for (const std::string &x : v) json_builder_add_string_value(o, x.c_str());
        json_builder_end_array(o);
      };
      strings("roles", r.roles);
      strings("signatures", r.signatures);
      strings("history_prompts", r.history_prompts);
      json::add(o, "history_images", int64_t(r.history_images));
      json_builder_set_member_name(o, "mask_size");
      if (r.mask_size) add_pair(o, r.mask_size->first, r.mask_size->second);
      else json_builder_add_null_value(o);
      json_builder_end_object(o);
    }
    json_builder_end_array(b.get());
    return json::to_string(b.get());
  }
};

FakeServer::FakeServer(std::string fixtures) : impl_(std::make_unique<Impl>()) {
  if (fixtures.empty() && g_getenv("GENFILL_FIXTURES")) fixtures = g_getenv("GENFILL_FIXTURES");
  impl_->fixtures = fixtures;
}

FakeServer::~FakeServer() { stop(); }

void FakeServer::start(int port) {
  if (impl_->thread.joinable()) return;
  impl_->ctx = g_main_context_new();
  impl_->loop = g_main_loop_new(impl_->ctx, FALSE);
  std::promise<std::string> listening;  // "" when listening, else why not
  std::future<std::string> error = listening.get_future();
  impl_->thread = std::thread([impl = impl_.get(), port, listening = std::move(listening)]() mutable {
    g_main_context_push_thread_default(impl->ctx);
    impl->server = soup_server_new("server-header", "genfill-fake ", nullptr);
    soup_server_add_handler(impl->server, nullptr,
                            +[](SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *, gpointer self) {
                              static_cast<Impl *>(self)->handle(msg, path);
                            },
                            impl, nullptr);
    // When each request began to arrive: a service works on requests side by side, so delay_ms
    // counts from here, not from when this single thread got round to checking the request.
    g_signal_connect(impl->server, "request-started", G_CALLBACK(+[](SoupServer *, SoupServerMessage *msg, gpointer) {
                       g_object_set_data(G_OBJECT(msg), "genfill-fake-arrived",
                                         GSIZE_TO_POINTER(gsize(g_get_monotonic_time())));
                     }), nullptr);
    GErrorOut err;
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *addr = g_inet_socket_address_new(lo, guint16(port));
    const bool ok = soup_server_listen(impl->server, addr, SoupServerListenOptions(0), err.out());
    g_object_unref(addr);
    g_object_unref(lo);
    if (ok) {
      GSList *uris = soup_server_get_uris(impl->server);
      impl->url = "http://127.0.0.1:" + std::to_string(g_uri_get_port(static_cast<GUri *>(uris->data)));
      g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
    }
    listening.set_value(ok ? std::string() : "fake server could not listen: " + err.message());
    if (ok) g_main_loop_run(impl->loop);
    while (!impl->pending.empty()) impl->drop(*impl->pending.begin());
    for (GIOStream *io : impl->stalled) {
      g_io_stream_close(io, nullptr, nullptr);
      g_object_unref(io);
    }
    impl->stalled.clear();
    soup_server_disconnect(impl->server);
    g_object_unref(impl->server);
    impl->server = nullptr;
    while (g_main_context_iteration(impl->ctx, FALSE)) {  // let pending sources clean up
    }
    g_main_context_pop_thread_default(impl->ctx);
  });
  const std::string why = error.get();
  if (!why.empty()) {
    stop();
    throw std::runtime_error(why);
  }
}

void FakeServer::stop() {
  if (!impl_->thread.joinable()) return;
  g_main_context_invoke(impl_->ctx, +[](gpointer loop) -> gboolean {
    g_main_loop_quit(static_cast<GMainLoop *>(loop));
    return G_SOURCE_REMOVE;
  }, impl_->loop);
  impl_->thread.join();
  g_main_loop_unref(impl_->loop);
  g_main_context_unref(impl_->ctx);
  impl_->loop = nullptr;
  impl_->ctx = nullptr;
  impl_->url.clear();
}

std::string FakeServer::base_url() const { return impl_->url; }

void FakeServer::set_color(uint32_t rgb) {
  std::lock_guard lock(impl_->mu);
  impl_->color = rgb & 0xFFFFFFu;
}

void FakeServer::enqueue(const FakeReply &reply) { impl_->enqueue(reply); }

void FakeServer::enqueue_json(const std::string &json) { impl_->enqueue_json(json); }

void FakeServer::reset() {
  std::lock_guard lock(impl_->mu);
  impl_->queue.clear();
  impl_->log.clear();
}

std::vector<RecordedRequest> FakeServer::requests() {
  std::lock_guard lock(impl_->mu);
  return impl_->log;
}

std::string FakeServer::requests_json() { return impl_->requests_json(); }

size_t FakeServer::request_count() {
  std::lock_guard lock(impl_->mu);
  return impl_->log.size();
}

}  // namespace genfill::test
