// The fake Gemini API: generateContent and Google's model list (see fake_server.hpp).
#include <algorithm>
#include <cstring>
#include <tuple>

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

// Gemini 3 image models at 1K (2K and 4K are twice and four times that, 512 half); the last
// four ratios are 3.1 Flash's only.
const AspectSize kAspects3[] = {{"1:1", 1024, 1024}, {"2:3", 848, 1264}, {"3:2", 1264, 848}, {"3:4", 896, 1200},
                                {"4:3", 1200, 896},  {"4:5", 928, 1152}, {"5:4", 1152, 928}, {"9:16", 768, 1376},
                                {"16:9", 1376, 768}, {"21:9", 1584, 672}, {"1:4", 512, 2048}, {"4:1", 2048, 512},
                                {"1:8", 352, 2816},  {"8:1", 2816, 352}};

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

}  // namespace

std::string FakeServer::Impl::gemini_success(const std::string &model, const std::string &text,
                                             const std::string *png_b64, const GeminiTokens &tokens) {
  unsigned id = 0;
  {
    std::lock_guard lock(mu);
    id = ++answers;
  }
  const int64_t image_tokens = png_b64 ? tokens.image_out : 0, text_tokens = 12;
  const int64_t prompt_tokens = tokens.text_in + tokens.image_in;
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
    // As Gemini counts: thoughts apart from the candidates, all four in the total.
    if (tokens.thoughts > 0) json::add(b, "thoughtsTokenCount", tokens.thoughts);
    json::add(b, "totalTokenCount", prompt_tokens + image_tokens + text_tokens + tokens.thoughts);
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
    details("promptTokensDetails", {{"TEXT", tokens.text_in}, {"IMAGE", tokens.image_in}});
    details("candidatesTokensDetails", {{"IMAGE", image_tokens}, {"TEXT", text_tokens}});
    json_builder_end_object(b);
    json::add(b, "modelVersion", model);
    json::add(b, "responseId", "fakeResp" + std::to_string(id));
  });
}

std::optional<Answer> FakeServer::Impl::google_key_refusal(SoupServerMessage *msg, RecordedRequest &rec,
                                                          const char *bad_key_fixture) {
  const char *key = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "x-goog-api-key");
  rec.has_key = key && *key;
  rec.key_in_query = query_has(msg, {"key"});
  if (rec.key_in_query)  // the real service takes it; we must never send it there
    return Answer{400, gemini_error(400, "INVALID_ARGUMENT", "API keys must not be sent in the URL (fake server rule).")};
  if (!rec.has_key) return Answer{403, load_fixture("gemini/error_403_permission_denied_no_key.json")};
  if (g_str_has_prefix(key, "bad")) return Answer{400, load_fixture(bad_key_fixture)};
  return std::nullopt;
}

Answer FakeServer::Impl::gemini(SoupServerMessage *msg, const std::string &model, const std::string &body,
                                RecordedRequest &rec, const FakeReply *reply) {
  Image upload;  // the first picture sent, for drifted answers
  rec.model = model;
  if (std::optional<Answer> refused = google_key_refusal(msg, rec)) return *refused;
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

  // Tokens as Gemini 3 counts them: 1120 a picture sent; a picture made by its size (the
  // Vertex AI page on 3.1 Flash Image: 747 at 512, 1120 at 1K, 1680 at 2K, 2520 at 4K); a few
  // hundred of thinking for the thinking models; text about four bytes a token.
  GeminiTokens tokens;
  size_t prompt_bytes = rec.prompt.size();
  for (const std::string &p : rec.history_prompts) prompt_bytes += p.size();
  tokens.text_in = std::max<int64_t>(1, int64_t(prompt_bytes / 4));
  tokens.image_in = 1120 * int64_t(rec.image_count + rec.history_images);
  tokens.image_out = scale <= 0.5 ? 747 : scale <= 1 ? 1120 : scale <= 2 ? 1680 : 2520;
  tokens.thoughts = model.rfind("gemini-3", 0) == 0 || model.rfind("gemini-nano", 0) == 0 ? 214 : 0;
  const std::string own = reply ? reply->text : "";
  if (reply && reply->text_only)
    return {200, gemini_success(model, own.empty() ? "I can describe the picture, but I will not draw it." : own, nullptr,
                                tokens)};
  const std::string b64 = picture_b64(w, ht, color_for(reply), reply, &upload);
  return {200, gemini_success(model, own.empty() ? "Here is the edited picture." : own, &b64, tokens)};
}

// GET /v1beta/models?pageSize=N&pageToken=T (Gemini and Imagen), key in x-goog-api-key.
Answer FakeServer::Impl::gemini_models(SoupServerMessage *msg, RecordedRequest &rec) {
  if (std::optional<Answer> refused = google_key_refusal(msg, rec)) return *refused;
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

}  // namespace genfill::test

namespace genfill::test {

// streamGenerateContent?alt=sse (REFERENCE §1.7; python-genai 2.19.0 reads each "data: " event
// as one GenerateContentResponse and yields it as is): the whole answer's parts spread over
// chunks, each chunk "data: JSON" + CRLF CRLF; finishReason and the full usageMetadata in the
// last one only. Thinking models first send a thought text and two thought pictures (drafts).
Answer FakeServer::Impl::gemini_stream(const Answer &whole, bool thinking) {
  json::Doc doc = json::try_parse(whole.body);
  JsonObject *root = doc.object();
  JsonObject *cand = json::element_object(json::array(root, "candidates"), 0);
  JsonArray *parts = json::array(json::object(cand, "content"), "parts");
  JsonObject *usage = json::object(root, "usageMetadata");
  std::vector<std::string> events;
  // One chunk holding `part` (built by `add`), or the last chunk when last.
  auto chunk = [&](const Build &add, bool last) {
    events.push_back("data: " + build_object([&](JsonBuilder *b) {
                       json_builder_set_member_name(b, "candidates");
                       json_builder_begin_array(b);
                       json_builder_begin_object(b);
                       json_builder_set_member_name(b, "content");
                       json_builder_begin_object(b);
                       json::add(b, "role", std::string("model"));
                       json_builder_set_member_name(b, "parts");
                       json_builder_begin_array(b);
                       if (add) add(b);
                       json_builder_end_array(b);
                       json_builder_end_object(b);
                       if (last) json::add(b, "finishReason", json::string(cand, "finishReason", "STOP"));
                       json::add(b, "index", int64_t(0));
                       json_builder_end_object(b);
                       json_builder_end_array(b);
                       json_builder_set_member_name(b, "usageMetadata");
                       if (last) {
                         json_builder_add_value(b, json_node_copy(json_object_get_member(root, "usageMetadata")));
                       } else {  // before the end: what is known so far
                         json_builder_begin_object(b);
                         json::add(b, "promptTokenCount", json::integer(usage, "promptTokenCount", 0));
                         json::add(b, "totalTokenCount", json::integer(usage, "promptTokenCount", 0));
                         json_builder_end_object(b);
                       }
                       json::add(b, "modelVersion", std::string("fake"));
                       json::add(b, "responseId", std::string("fake-stream"));
                     }) + "\r\n\r\n");
  };
  auto text_part = [](const std::string &text, bool thought) {
    return [text, thought](JsonBuilder *b) {
      json_builder_begin_object(b);
      json::add(b, "text", text);
      if (thought) {
        json_builder_set_member_name(b, "thought");
        json_builder_add_boolean_value(b, TRUE);
      }
      json_builder_end_object(b);
    };
  };
  std::string text, picture;
  JsonNode *picture_part = nullptr;
  for (guint i = 0; parts && i < json_array_get_length(parts); ++i) {
    JsonObject *part = json::element_object(parts, i);
    if (json_object_has_member(part, "text")) text += json::string(part, "text");
    if (json_object_has_member(part, "inlineData")) picture_part = json_array_get_element(parts, i);
  }
  int w = 1024, h = 1024;
  if (picture_part) {
    const std::string b64 = json::string(json::object(json_node_get_object(picture_part), "inlineData"), "data");
    std::vector<uint8_t> png;
    try {
      png = json::base64_decode(b64, "fake");
    } catch (const std::exception &) {  // a broken picture on purpose: drafts of the usual size
    }
    if (png.size() > 24 && sniff_image_mime(png) == "image/png") {
      w = (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19];
      h = (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23];
    }
    if (w <= 0 || h <= 0 || w > 8192 || h > 8192) w = h = 1024;  // a broken picture on purpose
  }
  if (thinking) {
    chunk(text_part("**Planning the edit**\n\nLooking at the area to change.", true), false);
    for (uint32_t grey : {0x808080u, 0x606060u}) {
      const std::string draft = draft_b64(w, h, grey);
      chunk([&](JsonBuilder *b) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "inlineData");
        json_builder_begin_object(b);
        json::add(b, "mimeType", std::string("image/png"));
        json::add(b, "data", draft);
        json_builder_end_object(b);
        json_builder_set_member_name(b, "thought");
        json_builder_add_boolean_value(b, TRUE);
        json_builder_end_object(b);
      }, false);
    }
  }
  const size_t half = text.size() / 2;
  if (!text.empty()) {
    chunk(text_part(text.substr(0, half), false), false);
    chunk(text_part(text.substr(half), false), !picture_part);
  }
  if (picture_part)
    chunk([&](JsonBuilder *b) { json_builder_add_value(b, json_node_copy(picture_part)); }, true);
  if (text.empty() && !picture_part) chunk({}, true);
  return event_stream(std::move(events),
                      "data: " + gemini_error(500, "INTERNAL", "An internal error has occurred. Please retry.") +
                          "\r\n\r\n");
}

}  // namespace genfill::test
