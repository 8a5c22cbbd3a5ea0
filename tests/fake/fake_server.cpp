#include "fake_server.hpp"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <optional>
#include <tuple>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

namespace genfill::test {

namespace {

const char *kAspects[][3] = {{"1:1", "1024", "1024"}, {"2:3", "832", "1248"},  {"3:2", "1248", "832"},
                             {"3:4", "864", "1184"},  {"4:3", "1184", "864"},  {"4:5", "896", "1152"},
                             {"5:4", "1152", "896"},  {"9:16", "768", "1344"}, {"16:9", "1344", "768"},
                             {"21:9", "1536", "672"}};

struct Record {
  std::string method, path, content_type, model, prompt, size, aspect;
  bool has_key = false, key_in_query = false;
  int n = 1, image_count = 0, status = 0;
  std::vector<std::pair<int, int>> image_sizes;
  std::pair<int, int> mask_size{-1, -1};
  bool mask_has_alpha = false;
  size_t body_bytes = 0;
};

// A provider's verdict: the answer to send.
struct Answer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

std::string gemini_error(int code, const char *status, const std::string &message) {
  return "{\"error\":{\"code\":" + std::to_string(code) + ",\"message\":\"" + message + "\",\"status\":\"" + status +
         "\"}}";
}

std::string openai_error(const std::string &message, const char *type, const char *param, const char *code) {
  auto q = [](const char *s) { return s ? "\"" + std::string(s) + "\"" : std::string("null"); };
  return "{\"error\":{\"message\":\"" + message + "\",\"type\":" + q(type) + ",\"param\":" + q(param) +
         ",\"code\":" + q(code) + "}}";
}

struct Reject {  // thrown inside validation, answered as is
  Answer answer;
};

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

uint32_t crc32(const std::string &data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string png_chunk(const std::string &type, const std::string &data) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}

// The picture an answer carries, base64, possibly broken on purpose.
std::string picture_b64(int w, int h, uint32_t rgb, const FakeReply *reply) {
  const std::string kind = reply ? reply->picture : "";
  const std::string sig = "\x89PNG\r\n\x1a\n";
  if (kind == "bad_base64") return "iVBORw0KGgo#not*base64";
  std::vector<uint8_t> bytes;
  if (kind == "corrupt") {
    std::string junk = sig + std::string(300, '\x5a');
    bytes.assign(junk.begin(), junk.end());
  } else if (kind == "huge") {  // a decompression bomb: a 20000x20000 header, almost no data
    std::string ihdr{char(0), char(0), char(0x4e), char(0x20), char(0), char(0), char(0x4e), char(0x20),
                     char(8), char(6), char(0), char(0), char(0)};
    std::string png = sig + png_chunk("IHDR", ihdr) + png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) +
                      png_chunk("IEND", "");
    bytes.assign(png.begin(), png.end());
  } else {
    bytes = encode_png(kind == "tiny" ? solid(1, 1, rgb) : solid(w, h, rgb), 1);
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

}  // namespace

struct FakeServer::Impl {
  std::string fixtures;
  std::thread thread;
  GMainContext *ctx = nullptr;
  GMainLoop *loop = nullptr;
  SoupServer *server = nullptr;
  std::string url;
  std::mutex mu;
  std::deque<FakeReply> queue;
  std::vector<Record> log;
  uint32_t color = 0xFF00FF;

  std::string load_fixture(const std::string &name) {
    if (name.find("..") != std::string::npos) return "{}";
    gchar *data = nullptr;
    gsize len = 0;
    std::string path = fixtures + "/" + name;
    if (!g_file_get_contents(path.c_str(), &data, &len, nullptr)) return "{\"fixture missing\":\"" + name + "\"}";
    std::string s(data, len);
    g_free(data);
    return s;
  }

  std::optional<FakeReply> take_reply() {
    std::lock_guard lock(mu);
    if (queue.empty()) return std::nullopt;
    FakeReply r = queue.front();
    if (--queue.front().count <= 0) queue.pop_front();
    return r;
  }

  // ---------- Gemini ----------

  Answer gemini(SoupServerMessage *msg, const std::string &model, const std::string &body, Record &rec,
                const FakeReply *reply) {
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    const char *key = soup_message_headers_get_one(h, "x-goog-api-key");
    rec.has_key = key && *key;
    GUri *uri = soup_server_message_get_uri(msg);
    const char *query = g_uri_get_query(uri);
    rec.key_in_query = query && std::string(query).find("key=") != std::string::npos;
    rec.model = model;
    if (rec.key_in_query)
      return {400, gemini_error(400, "INVALID_ARGUMENT", "API keys must not be sent in the URL (fake server rule).")};
    if (!rec.has_key) return {403, load_fixture("gemini/error_403_permission_denied_no_key.json")};
    if (g_str_has_prefix(key, "bad")) return {400, load_fixture("gemini/error_400_api_key_invalid.json")};
    if (!g_str_has_prefix(model.c_str(), "gemini")) return {404, load_fixture("gemini/error_404_model_not_found.json")};

    json::Doc doc = json::try_parse(body);
    JsonObject *root = doc.object();
    auto invalid = [](const std::string &m) { return Reject{{400, gemini_error(400, "INVALID_ARGUMENT", m)}}; };
    if (!root) throw invalid("Invalid JSON payload received.");
    JsonArray *contents = json::array(root, "contents");
    if (!contents || json_array_get_length(contents) == 0) throw invalid("contents is not specified");
    for (guint c = 0; c < json_array_get_length(contents); ++c) {
      JsonArray *parts = json::array(json::element_object(contents, c), "parts");
      if (!parts || json_array_get_length(parts) == 0) throw invalid("contents.parts must not be empty");
      for (guint i = 0; i < json_array_get_length(parts); ++i) {
        JsonObject *part = json::element_object(parts, i);
        if (json_object_has_member(part, "text") && rec.prompt.empty()) rec.prompt = json::string(part, "text");
        JsonObject *data = json::object(part, "inlineData");
        if (!data) continue;
        std::string mime = json::string(data, "mimeType");
        std::string b64 = json::string(data, "data");
        if (b64.rfind("data:", 0) == 0) throw invalid("Invalid value at inline_data.data: base64 expected");
        std::vector<uint8_t> bytes;
        try {
          bytes = json::base64_decode(b64, "fake");
        } catch (const Error &) {
          throw invalid("Invalid value at inline_data.data (TYPE_BYTES), Base64 decoding failed");
        }
        if (sniff_image_mime(bytes) != mime) throw invalid("Unable to process input image: mimeType does not match data");
        Image img = decode_or(bytes, {400, gemini_error(400, "INVALID_ARGUMENT", "Unable to process input image.")});
        rec.image_sizes.emplace_back(img.width, img.height);
        ++rec.image_count;
      }
    }
    JsonObject *config = json::object(root, "generationConfig");
    bool image = false;
    JsonArray *mods = json::array(config, "responseModalities");
    for (guint i = 0; mods && i < json_array_get_length(mods); ++i)
      image = image || g_strcmp0(json_array_get_string_element(mods, i), "IMAGE") == 0;
    if (!image) throw invalid("This model only supports responseModalities including IMAGE.");
    if (json::integer(config, "candidateCount", 1) > 1)
      return {400, load_fixture("gemini/error_400_multiple_candidates.json")};
    JsonObject *image_config = json::object(config, "imageConfig");
    int w = 1024, ht = 1024;
    if (!rec.image_sizes.empty()) std::tie(w, ht) = rec.image_sizes.front();
    if (image_config) {
      rec.aspect = json::string(image_config, "aspectRatio");
      bool known = rec.aspect.empty();
      for (auto &a : kAspects)
        if (rec.aspect == a[0]) {
          known = true;
          w = std::atoi(a[1]);
          ht = std::atoi(a[2]);
        }
      if (!known) throw invalid("Unsupported aspect ratio: " + rec.aspect);
    }

    if (reply && reply->text_only)
      return {200, R"({"candidates":[{"content":{"role":"model","parts":[{"text":"I can describe the picture, but I will not draw it."}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":12,"totalTokenCount":22},"modelVersion":")" +
                       model + "\"}"};
    uint32_t rgb = reply && !reply->color.empty() ? uint32_t(std::stoul(reply->color, nullptr, 16)) : color;
    std::string b64 = picture_b64(w, ht, rgb, reply);
    return {200, R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Here is the edited picture."},{"inlineData":{"mimeType":"image/png","data":")" +
                     b64 +
                     R"("}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1300,"candidatesTokenCount":1290,"totalTokenCount":2590},"modelVersion":")" +
                     model + "\"}"};
  }

  // ---------- OpenAI ----------

  static bool size_ok(const std::string &model, const std::string &size, int &w, int &h) {
    if (size.empty() || size == "auto") {
      w = h = 1024;
      return true;
    }
    if (std::sscanf(size.c_str(), "%dx%d", &w, &h) != 2) return false;
    if (model.rfind("gpt-image-2", 0) == 0) return w % 16 == 0 && h % 16 == 0 && w > 0 && h > 0;
    return size == "1024x1024" || size == "1536x1024" || size == "1024x1536";
  }

  Answer openai_images(uint32_t rgb, int n, int w, int h, const std::string &size, const FakeReply *reply) {
    std::string png = picture_b64(w, h, rgb, reply);
    std::string data;
    for (int i = 0; i < n; ++i) data += std::string(i ? "," : "") + "{\"b64_json\":\"" + png + "\"}";
    return {200, "{\"created\":1767225600,\"data\":[" + data + "],\"background\":\"opaque\",\"output_format\":\"png\",\"size\":\"" +
                     size + "\",\"quality\":\"high\",\"usage\":{\"input_tokens\":50,\"output_tokens\":" +
                     std::to_string(1056 * n) + ",\"total_tokens\":" + std::to_string(50 + 1056 * n) + "}}"};
  }

  Answer openai(SoupServerMessage *msg, bool edits, const std::string &body, Record &rec, const FakeReply *reply) {
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    const char *auth = soup_message_headers_get_one(h, "Authorization");
    rec.has_key = auth && g_str_has_prefix(auth, "Bearer ") && strlen(auth) > 7;
    GUri *uri = soup_server_message_get_uri(msg);
    const char *query = g_uri_get_query(uri);
    rec.key_in_query = query && std::string(query).find("key") != std::string::npos;
    if (!rec.has_key || g_str_has_prefix(auth + 7, "bad")) return {401, load_fixture("openai/error_401_invalid_api_key.json")};
    auto invalid = [](const std::string &m, const char *param, const char *code = nullptr) {
      return Reject{{400, openai_error(m, "invalid_request_error", param, code)}};
    };
    uint32_t rgb = reply && !reply->color.empty() ? uint32_t(std::stoul(reply->color, nullptr, 16)) : color;
    int w = 0, hh = 0;

    if (!edits) {
      if (!g_str_has_prefix(rec.content_type.c_str(), "application/json")) throw invalid("Expected JSON body.", nullptr);
      json::Doc doc = json::try_parse(body);
      JsonObject *root = doc.object();
      if (!root) throw invalid("We could not parse the JSON body of your request.", nullptr);
      rec.model = json::string(root, "model");
      rec.prompt = json::string(root, "prompt");
      rec.n = int(json::integer(root, "n", 1));
      rec.size = json::string(root, "size", "auto");
      if (rec.model.empty()) throw invalid("You must provide a model parameter.", "model");
      if (rec.prompt.empty()) throw invalid("Missing required parameter: 'prompt'.", "prompt");
      if (json_object_has_member(root, "response_format"))
        return {400, load_fixture("openai/error_400_unknown_parameter_response_format.json")};
      if (rec.n < 1 || rec.n > 10) throw invalid("Invalid 'n': must be between 1 and 10.", "n");
      if (!size_ok(rec.model, rec.size, w, hh)) return {400, load_fixture("openai/error_400_invalid_size_gpt_image.json")};
      if (reply && reply->text_only) return {200, "{\"created\":1767225600,\"data\":[]}"};
      return openai_images(rgb, rec.n, w, hh, rec.size, reply);
    }

    if (!g_str_has_prefix(rec.content_type.c_str(), "multipart/form-data"))
      throw invalid("Invalid Content-Type header (" + rec.content_type +
                        "), expected multipart/form-data. (HINT: If you're using the images/edits endpoint, this "
                        "endpoint expects multipart/form-data.)",
                    nullptr);
    GBytes *bytes = g_bytes_new(body.data(), body.size());
    SoupMultipart *mp = soup_multipart_new_from_message(h, bytes);
    g_bytes_unref(bytes);
    if (!mp) throw invalid("Could not parse multipart form", nullptr);
    std::unique_ptr<SoupMultipart, void (*)(SoupMultipart *)> guard(mp, soup_multipart_free);
    std::pair<int, int> first{-1, -1};
    std::string image_field;
    for (int i = 0; i < soup_multipart_get_length(mp); ++i) {
      SoupMessageHeaders *ph = nullptr;
      GBytes *pb = nullptr;
      soup_multipart_get_part(mp, i, &ph, &pb);
      char *disposition = nullptr;
      GHashTable *params = nullptr;
      if (!soup_message_headers_get_content_disposition(ph, &disposition, &params)) continue;
      std::string name = static_cast<const char *>(g_hash_table_lookup(params, "name") ? g_hash_table_lookup(params, "name") : "");
      const char *filename = static_cast<const char *>(g_hash_table_lookup(params, "filename"));
      g_free(disposition);
      gsize len = 0;
      const char *data = static_cast<const char *>(g_bytes_get_data(pb, &len));
      std::string value(data ? data : "", len);
      const char *ctype = soup_message_headers_get_content_type(ph, nullptr);
      if (name == "image" || name == "image[]") {
        if (!image_field.empty() && image_field != name) throw invalid("Mixed image and image[] fields.", "image");
        image_field = name;
        if (!filename) {
          g_hash_table_destroy(params);
          return {400, load_fixture("openai/error_400_image_sent_as_string.json")};
        }
        std::string ct = ctype ? ctype : "";
        if (ct != "image/png" && ct != "image/jpeg" && ct != "image/webp") {
          g_hash_table_destroy(params);
          return {400, load_fixture("openai/error_400_unsupported_mimetype.json")};
        }
        Image img = decode_or(std::vector<uint8_t>(value.begin(), value.end()),
                              {400, openai_error("Invalid image file or mode for image " + std::to_string(rec.image_count + 1) +
                                                     ", please check your image file.",
                                                 "invalid_request_error", "image", "invalid_image_file")});
        if (rec.image_count == 0) first = {img.width, img.height};
        rec.image_sizes.emplace_back(img.width, img.height);
        ++rec.image_count;
      } else if (name == "mask") {
        std::vector<uint8_t> mb(value.begin(), value.end());
        if (!filename || sniff_image_mime(mb) != "image/png") {
          g_hash_table_destroy(params);
          throw invalid("Invalid mask image format - mask image missing alpha channel", "mask");
        }
        // PNG IHDR colour type: 4 (grey + alpha) or 6 (RGBA) carry an alpha channel.
        rec.mask_has_alpha = mb.size() > 25 && (mb[25] == 4 || mb[25] == 6);
        Image m = decode_or(mb, {400, openai_error("Invalid mask image", "invalid_request_error", "mask", nullptr)});
        rec.mask_size = {m.width, m.height};
      } else if (name == "model") {
        rec.model = value;
      } else if (name == "prompt") {
        rec.prompt = value;
      } else if (name == "n") {
        rec.n = std::atoi(value.c_str());
      } else if (name == "size") {
        rec.size = value;
      } else if (name == "response_format") {
        g_hash_table_destroy(params);
        return {400, load_fixture("openai/error_400_unknown_parameter_response_format.json")};
      }
      g_hash_table_destroy(params);
    }
    if (rec.image_count == 0) throw invalid("Missing required parameter: 'image'.", "image");
    if (image_field == "image" && rec.image_count > 1) throw invalid("Repeated 'image' field; use image[].", "image");
    if (rec.model.empty()) throw invalid("You must provide a model parameter.", "model");
    if (rec.prompt.empty()) throw invalid("Missing required parameter: 'prompt'.", "prompt");
    if (rec.mask_size.first >= 0) {
      if (!rec.mask_has_alpha) throw invalid("Invalid mask image format - mask image missing alpha channel", "mask");
      if (rec.mask_size != first)
        throw invalid("Invalid mask image size - mask must be the same size as the image", "mask");
    }
    if (rec.n < 1 || rec.n > 10) throw invalid("Invalid 'n': must be between 1 and 10.", "n");
    if (rec.size.empty()) rec.size = "auto";
    if (!size_ok(rec.model, rec.size, w, hh)) return {400, load_fixture("openai/error_400_invalid_size_gpt_image.json")};
    if (reply && reply->text_only) return {200, "{\"created\":1767225600,\"data\":[]}"};
    return openai_images(rgb, rec.n, w, hh, rec.size, reply);
  }

  // ---------- dispatch ----------

  void handle(SoupServerMessage *msg, const char *path) {
    std::string p = path;
    const char *method = soup_server_message_get_method(msg);
    SoupMessageBody *req_body = soup_server_message_get_request_body(msg);
    GBytes *flat = soup_message_body_flatten(req_body);
    gsize len = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(flat, &len));
    std::string body(data ? data : "", len);
    g_bytes_unref(flat);

    if (p.rfind("/_fake/", 0) == 0) return control(msg, p, body);

    Record rec;
    rec.method = method;
    rec.path = p;
    rec.body_bytes = body.size();
    const char *ct = soup_message_headers_get_content_type(soup_server_message_get_request_headers(msg), nullptr);
    rec.content_type = ct ? ct : "";

    std::optional<FakeReply> reply = take_reply();
    Answer answer;
    bool known = true;
    try {
      if (reply && reply->reset) {
        record(rec, 0);
        GIOStream *io = soup_server_message_steal_connection(msg);
        g_io_stream_close(io, nullptr, nullptr);
        g_object_unref(io);
        return;
      }
      static const std::string gprefix = "/v1beta/models/", gsuffix = ":generateContent";
      if (g_strcmp0(method, "POST") == 0 && p.rfind(gprefix, 0) == 0 && p.size() > gprefix.size() + gsuffix.size() &&
          p.compare(p.size() - gsuffix.size(), gsuffix.size(), gsuffix) == 0) {
        std::string model = p.substr(gprefix.size(), p.size() - gprefix.size() - gsuffix.size());
        answer = gemini(msg, model, body, rec, reply ? &*reply : nullptr);
      } else if (g_strcmp0(method, "POST") == 0 && (p == "/v1/images/generations" || p == "/v1/images/edits")) {
        answer = openai(msg, p == "/v1/images/edits", body, rec, reply ? &*reply : nullptr);
      } else {
        known = false;
        answer = {404, "{\"error\":{\"message\":\"Unknown path " + p + "\"}}"};
      }
    } catch (const Reject &r) {
      answer = r.answer;
    } catch (const std::exception &e) {
      answer = {500, std::string("{\"error\":{\"message\":\"fake server failure: ") + e.what() + "\"}}"};
    }
    // A scripted status/body replaces the verdict (the request was still checked and recorded).
    if (known && reply && reply->status > 0) {
      answer.status = reply->status;
      answer.body = !reply->fixture.empty() ? load_fixture(reply->fixture) : reply->body;
    }
    if (reply && reply->truncate_at >= 0 && size_t(reply->truncate_at) < answer.body.size())
      answer.body.resize(size_t(reply->truncate_at));
    record(rec, reply && reply->huge_bytes ? 200 : answer.status);

    if (reply && reply->huge_bytes) return stream_junk(msg, reply->huge_bytes, reply->chunked, reply->delay_ms);
    if (reply && reply->delay_ms > 0) return respond_later(msg, answer, *reply, reply->delay_ms);
    respond(msg, answer, reply ? &*reply : nullptr);
  }

  void record(Record &rec, int status) {
    rec.status = status;
    std::lock_guard lock(mu);
    log.push_back(rec);
  }

  void respond(SoupServerMessage *msg, const Answer &a, const FakeReply *reply) {
    soup_server_message_set_status(msg, guint(a.status), nullptr);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    if (reply)
      for (const auto &[k, v] : reply->headers) soup_message_headers_replace(h, k.c_str(), v.c_str());
    soup_server_message_set_response(msg, a.content_type.c_str(), SOUP_MEMORY_COPY, a.body.data(), a.body.size());
  }

  struct Later {
    Impl *self;
    SoupServerMessage *msg;
    Answer answer;
    FakeReply reply;
    guint source = 0;
  };

  void respond_later(SoupServerMessage *msg, const Answer &a, const FakeReply &r, int ms) {
    soup_server_message_pause(msg);
    auto *later = new Later{this, SOUP_SERVER_MESSAGE(g_object_ref(msg)), a, r};
    // If the client goes away first, drop the answer.
    g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *, gpointer data) {
                       auto *l = static_cast<Later *>(data);
                       if (l->source) {
                         if (GSource *s = g_main_context_find_source_by_id(l->self->ctx, l->source)) g_source_destroy(s);
                         l->source = 0;
                         g_object_unref(l->msg);
                         delete l;
                       }
                     }), later);
    GSource *src = g_timeout_source_new(guint(ms));
    g_source_set_callback(src, +[](gpointer data) -> gboolean {
      auto *l = static_cast<Later *>(data);
      l->source = 0;
      g_signal_handlers_disconnect_by_data(l->msg, l);
      l->self->respond(l->msg, l->answer, &l->reply);
      soup_server_message_unpause(l->msg);
      g_object_unref(l->msg);
      delete l;
      return G_SOURCE_REMOVE;
    }, later, nullptr);
    later->source = g_source_attach(src, ctx);
    g_source_unref(src);
  }

  struct Junk {
    size_t left;
    std::string chunk;
  };

  void stream_junk(SoupServerMessage *msg, size_t total, bool chunked, int delay_ms) {
    (void)delay_ms;
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
    if (path == "/_fake/requests") {
      a.body = requests_json();
    } else if (path == "/_fake/reset") {
      std::lock_guard lock(mu);
      queue.clear();
      log.clear();
    } else if (path == "/_fake/enqueue") {
      try {
        enqueue_json(body);
      } catch (const std::exception &e) {
        a = {400, std::string("{\"error\":\"") + e.what() + "\"}"};
      }
    } else {
      a = {404, "{\"error\":\"unknown control path\"}"};
    }
    respond(msg, a, nullptr);
  }

  void enqueue_json(const std::string &text) {
    json::Doc doc = json::try_parse(text);
    JsonObject *o = doc.object();
    if (!o) throw std::runtime_error("enqueue wants a JSON object");
    FakeReply r;
    r.status = int(json::integer(o, "status", 0));
    r.fixture = json::string(o, "fixture");
    r.body = json::string(o, "body");
    r.delay_ms = int(json::integer(o, "delay_ms", 0));
    r.truncate_at = long(json::integer(o, "truncate_at", -1));
    r.huge_bytes = size_t(std::max<int64_t>(0, json::integer(o, "huge_bytes", 0)));
    r.chunked = json::boolean(o, "chunked");
    r.reset = json::boolean(o, "reset");
    r.text_only = json::boolean(o, "text_only");
    r.color = json::string(o, "color");
    r.picture = json::string(o, "picture");
    r.count = int(json::integer(o, "count", 1));
    if (JsonObject *headers = json::object(o, "headers")) {
      GList *members = json_object_get_members(headers);
      for (GList *m = members; m; m = m->next) {
        const char *k = static_cast<const char *>(m->data);
        r.headers[k] = json::string(headers, k);
      }
      g_list_free(members);
    }
    std::lock_guard lock(mu);
    queue.push_back(r);
  }

  std::string requests_json() {
    std::lock_guard lock(mu);
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_array(b.get());
    for (const Record &r : log) {
      json_builder_begin_object(b.get());
      auto str = [&](const char *k, const std::string &v) {
        json_builder_set_member_name(b.get(), k);
        json_builder_add_string_value(b.get(), v.c_str());
      };
      auto num = [&](const char *k, int64_t v) {
        json_builder_set_member_name(b.get(), k);
        json_builder_add_int_value(b.get(), v);
      };
      auto flag = [&](const char *k, bool v) {
        json_builder_set_member_name(b.get(), k);
        json_builder_add_boolean_value(b.get(), v);
      };
      str("method", r.method);
      str("path", r.path);
      str("content_type", r.content_type);
      str("model", r.model);
      str("prompt", r.prompt);
      str("size", r.size);
      str("aspect", r.aspect);
      flag("has_key", r.has_key);
      flag("key_in_query", r.key_in_query);
      num("n", r.n);
      num("image_count", r.image_count);
      num("status", r.status);
      num("body_bytes", int64_t(r.body_bytes));
      json_builder_set_member_name(b.get(), "image_sizes");
      json_builder_begin_array(b.get());
      for (auto [w, h] : r.image_sizes) {
        json_builder_begin_array(b.get());
        json_builder_add_int_value(b.get(), w);
        json_builder_add_int_value(b.get(), h);
        json_builder_end_array(b.get());
      }
      json_builder_end_array(b.get());
      json_builder_set_member_name(b.get(), "mask_size");
      if (r.mask_size.first < 0) {
        json_builder_add_null_value(b.get());
      } else {
        json_builder_begin_array(b.get());
        json_builder_add_int_value(b.get(), r.mask_size.first);
        json_builder_add_int_value(b.get(), r.mask_size.second);
        json_builder_end_array(b.get());
      }
      json_builder_end_object(b.get());
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
  std::mutex ready_mu;
  std::condition_variable ready;
  bool started = false;
  std::string error;
  impl_->ctx = g_main_context_new();
  impl_->loop = g_main_loop_new(impl_->ctx, FALSE);
  impl_->thread = std::thread([&, port] {
    g_main_context_push_thread_default(impl_->ctx);
    impl_->server = soup_server_new("server-header", "genfill-fake ", nullptr);
    soup_server_add_handler(impl_->server, nullptr,
                            +[](SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *, gpointer self) {
                              static_cast<Impl *>(self)->handle(msg, path);
                            },
                            impl_.get(), nullptr);
    GErrorOut err;
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *addr = g_inet_socket_address_new(lo, guint16(port));
    bool ok = soup_server_listen(impl_->server, addr, SoupServerListenOptions(0), err.out());
    g_object_unref(addr);
    g_object_unref(lo);
    if (ok) {
      GSList *uris = soup_server_get_uris(impl_->server);
      GUri *uri = static_cast<GUri *>(uris->data);
      impl_->url = "http://127.0.0.1:" + std::to_string(g_uri_get_port(uri));
      g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
    } else {
      error = err.message();
    }
    {
      std::lock_guard lock(ready_mu);
      started = true;
    }
    ready.notify_one();
    if (ok) g_main_loop_run(impl_->loop);
    soup_server_disconnect(impl_->server);
    g_object_unref(impl_->server);
    impl_->server = nullptr;
    // Let pending sources run their cleanup.
    while (g_main_context_iteration(impl_->ctx, FALSE)) {
    }
    g_main_context_pop_thread_default(impl_->ctx);
  });
  std::unique_lock lock(ready_mu);
  ready.wait(lock, [&] { return started; });
  if (!error.empty()) {
    lock.unlock();
    stop();
    throw std::runtime_error("fake server could not listen: " + error);
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
}

std::string FakeServer::base_url() const { return impl_->url; }

void FakeServer::set_color(uint32_t rgb) {
  std::lock_guard lock(impl_->mu);
  impl_->color = rgb;
}

void FakeServer::enqueue(const FakeReply &reply) {
  std::lock_guard lock(impl_->mu);
  impl_->queue.push_back(reply);
}

void FakeServer::enqueue_json(const std::string &json) { impl_->enqueue_json(json); }

void FakeServer::reset() {
  std::lock_guard lock(impl_->mu);
  impl_->queue.clear();
  impl_->log.clear();
}

std::string FakeServer::requests_json() { return impl_->requests_json(); }

size_t FakeServer::request_count() {
  std::lock_guard lock(impl_->mu);
  return impl_->log.size();
}

}  // namespace genfill::test
