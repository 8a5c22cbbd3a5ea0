// The fake chat relay, OpenRouter's image form of chat completions (see fake_server.hpp).
#include <algorithm>
#include <cstring>
#include <functional>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/util/gobj.hpp"
#include "fake_internal.hpp"

namespace genfill::test {

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

// Chat relays (OpenRouter's image_config.aspect_ratio): the Gemini ratios plus the extended ones.
const char *const kRelayRatios[] = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
                                    "1:4", "4:1", "1:8", "8:1"};

// Chat relay (OpenRouter): image models, listed only with ?output_modalities=image (or all).
const char *const kRelayImageModels[] = {"google/gemini-3.1-flash-image", "google/gemini-3-pro-image",
                                         "google/gemini-nano-banana-2.1", "google/gemini-2.5-flash-image",
                                         "openai/gpt-image-2"};

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

}  // namespace

Answer FakeServer::Impl::relay(SoupServerMessage *msg, const std::string &body, RecordedRequest &rec,
                               const FakeReply *reply) {
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

// GET /v1/models?output_modalities=... and /api/v1/models: a relay's list (OpenRouter's form),
// Bearer key. Text models unless other output modalities are asked for.
Answer FakeServer::Impl::relay_models(SoupServerMessage *msg, RecordedRequest &rec) {
  const char *auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  rec.has_key = auth && g_str_has_prefix(auth, "Bearer ") && strlen(auth) > 7;
  rec.key_in_query = query_has(msg, {"key", "api_key"});
  if (!rec.has_key || g_str_has_prefix(auth + 7, "bad"))
    return {401, load_fixture("openai-chat/error_401_invalid_key.json")};
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

}  // namespace genfill::test
