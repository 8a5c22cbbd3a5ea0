// The fake OpenAI Images API: generations, edits and the model list (see fake_server.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/util/gobj.hpp"
#include "fake_internal.hpp"

namespace genfill::test {

namespace {

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

// As error_400_invalid_size_gpt_image.json, naming the size sent.
Answer bad_size(const std::string &model, const std::string &size) {
  const bool free_size = model.rfind("gpt-image-2", 0) == 0;
  return {400, openai_error(free_size ? "Invalid value: '" + size +
                                            "'. Width and height must be positive multiples of 16, the long side at "
                                            "most 3 times the short one, within 3840x2160."
                                      : "Invalid value: '" + size +
                                            "'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                            "invalid_request_error", "size", "invalid_value")};
}

bool size_ok(const std::string &model, const std::string &size, int &w, int &h) {
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
void check_model(const std::string &model) {
  if (listed_in(kOpenAIRetired, model) || model.rfind("gpt-image-", 0) != 0)
    throw Reject{{404, openai_error("The model `" + model + "` does not exist or you do not have access to it.",
                                    "invalid_request_error", nullptr, "model_not_found")}};
}

// background / output_format, where GPT image models take them (REFERENCE §3.2, §4).
void check_background(const RecordedRequest &rec) {
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

// Input tokens of a picture as OpenAI's vision models count them: fitted within 2048 x 2048, the
// short side brought to 768, then 170 a 512-pixel tile plus 85.
int64_t picture_tokens(int w, int h) {
  double W = w, H = h;
  const double fit = std::min(1.0, 2048.0 / std::max(W, H));
  W *= fit, H *= fit;
  const double shrink = std::min(1.0, 768.0 / std::min(W, H));
  W *= shrink, H *= shrink;
  return 85 + 170 * int64_t(std::ceil(W / 512) * std::ceil(H / 512));
}

// The quality an answer is made at: as asked, "auto" (or none) as high.
std::string answered_quality(const RecordedRequest &rec) {
  return rec.quality.empty() || rec.quality == "auto" ? "high" : rec.quality;
}

// quality: low, medium, high, auto; xhigh and max on gpt-image-2.5 and later.
void check_quality(const RecordedRequest &rec) {
  if (rec.quality.empty()) return;
  const bool later = rec.model.rfind("gpt-image-2.5", 0) == 0 || rec.model.rfind("gpt-image-2.6", 0) == 0;
  for (const char *q : {"low", "medium", "high", "auto"})
    if (rec.quality == q) return;
  if (later && (rec.quality == "xhigh" || rec.quality == "max")) return;
  throw Reject{{400, openai_error("Invalid value: '" + rec.quality + "'. Supported values are: 'low', 'medium', "
                                      "'high', and 'auto'" + std::string(later ? ", 'xhigh' and 'max'." : "."),
                                  "invalid_request_error", "quality", "invalid_value")}};
}

// The usage the Images API reports: text and picture input apart; output by quality, at high
// about 7,000 tokens a megapixel (low 200, medium 1,767), all picture tokens.
struct OpenAiTokens {
  int64_t text_in = 0, image_in = 0, image_out = 0;
};

OpenAiTokens openai_tokens(const RecordedRequest &rec, int out_w, int out_h) {
  OpenAiTokens t;
  t.text_in = std::max<int64_t>(1, int64_t(rec.prompt.size() / 4));
  for (const auto &[w, h] : rec.image_sizes) t.image_in += picture_tokens(w, h);
  const std::string q = answered_quality(rec);
  const double per_mp = q == "low" ? 200 : q == "medium" ? 1767 : q == "xhigh" ? 10536 : q == "max" ? 14048 : 7024;
  t.image_out = int64_t(std::llround(per_mp * out_w * out_h / (1024.0 * 1024.0))) * std::max(1, rec.n);
  return t;
}

Answer openai_images(const std::string &png_b64, int n, const std::string &size, const OpenAiTokens &tokens,
                            const std::string &background, const std::string &quality) {
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
            json::add(b, "quality", quality);
            json_builder_set_member_name(b, "usage");
            json_builder_begin_object(b);
            const int64_t in = tokens.text_in + tokens.image_in;
            json::add(b, "input_tokens", in);
            json_builder_set_member_name(b, "input_tokens_details");
            json_builder_begin_object(b);
            json::add(b, "text_tokens", tokens.text_in);
            json::add(b, "image_tokens", tokens.image_in);
            json_builder_end_object(b);
            json::add(b, "output_tokens", tokens.image_out);
            json_builder_set_member_name(b, "output_tokens_details");
            json_builder_begin_object(b);
            json::add(b, "image_tokens", tokens.image_out);
            json::add(b, "text_tokens", int64_t(0));
            json_builder_end_object(b);
            json::add(b, "total_tokens", in + tokens.image_out);
            json_builder_end_object(b);
          })};
}

}  // namespace

// stream=true (REFERENCE §3.6, openai-python 3.3.1 types): partial_images events with drafts,
// then the completed event, each "event: TYPE" + "data: JSON" + a blank line.
Answer FakeServer::Impl::openai(SoupServerMessage *msg, bool edits, const std::string &body, RecordedRequest &rec,
                                const FakeReply *reply) {
  int w = 0, hh = 0;
  Answer plain = openai_answer(msg, edits, body, rec, reply, w, hh);
  if (!rec.stream || plain.status != 200) return plain;
  auto invalid = [](const std::string &m, const char *param, const char *code) {
    return Answer{400, openai_error(m, "invalid_request_error", param, code)};
  };
  if (reply && reply->no_stream)
    return invalid("Streaming is not supported for model '" + rec.model + "'.", "stream", "unsupported_value");
  if (rec.partial_images < -1 || rec.partial_images > 3)
    return invalid("Invalid 'partial_images': integer must be between 0 and 3.", "partial_images", "integer_out_of_range");
  if (rec.n != 1) return invalid("Streaming supports only n=1.", "n", "unsupported_value");
  json::Doc doc = json::try_parse(plain.body);
  JsonObject *root = doc.object();
  const std::string kind = edits ? "image_edit" : "image_generation";
  const std::string b64 = json::string(json::element_object(json::array(root, "data"), 0), "b64_json");
  std::vector<std::string> events;
  auto event = [&](const std::string &type, const Build &members) {
    events.push_back("event: " + type + "\ndata: " + build_object([&](JsonBuilder *b) {
                       json::add(b, "type", type);
                       members(b);
                       json::add(b, "created_at", int64_t(1767225600));
                       for (const char *m : {"size", "quality", "background", "output_format"})
                         json::add(b, m, json::string(root, m));
                     }) + "\n\n");
  };
  const uint32_t greys[] = {0x808080, 0x606060, 0x404040};
  for (int k = 0; k < std::max(0, rec.partial_images); ++k) {
    const std::string draft = draft_b64(w, hh, greys[k]);
    event(kind + ".partial_image", [&](JsonBuilder *b) {
      json::add(b, "b64_json", draft);
      json::add(b, "partial_image_index", int64_t(k));
    });
  }
  event(kind + ".completed", [&](JsonBuilder *b) {
    json::add(b, "b64_json", b64);
    // The completed event's usage has no output_tokens_details (openai-python ImageEditCompletedEvent).
    JsonObject *u = json::object(root, "usage");
    json_builder_set_member_name(b, "usage");
    json_builder_begin_object(b);
    json::add(b, "input_tokens", json::integer(u, "input_tokens"));
    json_builder_set_member_name(b, "input_tokens_details");
    json_builder_begin_object(b);
    JsonObject *d = json::object(u, "input_tokens_details");
    json::add(b, "image_tokens", json::integer(d, "image_tokens"));
    json::add(b, "text_tokens", json::integer(d, "text_tokens"));
    json_builder_end_object(b);
    json::add(b, "output_tokens", json::integer(u, "output_tokens"));
    json::add(b, "total_tokens", json::integer(u, "total_tokens"));
    json_builder_end_object(b);
  });
  return event_stream(std::move(events),
                      "event: error\ndata: " +
                          openai_error("The server had an error processing your request.", "server_error", nullptr,
                                       "server_error") +
                          "\n\n");
}

Answer FakeServer::Impl::openai_answer(SoupServerMessage *msg, bool edits, const std::string &body,
                                       RecordedRequest &rec, const FakeReply *reply, int &w, int &hh) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  const char *auth = soup_message_headers_get_one(h, "Authorization");
  rec.has_key = auth && g_str_has_prefix(auth, "Bearer ") && strlen(auth) > 7;
  rec.key_in_query = query_has(msg, {"key", "api_key"});
  if (!rec.has_key || g_str_has_prefix(auth + 7, "bad"))
    return {401, load_fixture("openai/error_401_invalid_api_key.json")};
  auto invalid = [](const std::string &m, const char *param, const char *code = nullptr) {
    return Reject{{400, openai_error(m, "invalid_request_error", param, code)}};
  };

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
    rec.quality = json::string(root, "quality");
    if (JsonNode *st = json_object_get_member(root, "stream")) {
      if (json_node_get_value_type(st) != G_TYPE_BOOLEAN) throw invalid("Invalid type for 'stream': expected a boolean.", "stream");
      rec.stream = json_node_get_boolean(st);
    }
    rec.partial_images = int(json::integer(root, "partial_images", -1));
    if (rec.model.empty()) throw invalid("You must provide a model parameter.", "model");
    check_model(rec.model);
    if (rec.prompt.empty()) throw invalid("Missing required parameter: 'prompt'.", "prompt");
    if (json_object_has_member(root, "response_format"))
      return {400, load_fixture("openai/error_400_unknown_parameter_response_format.json")};
    if (rec.n < 1 || rec.n > 10) throw invalid("Invalid 'n': integer must be between 1 and 10.", "n", "integer_out_of_range");
    if (!size_ok(rec.model, rec.size, w, hh)) return bad_size(rec.model, rec.size);
    check_background(rec);
    check_quality(rec);
    if (reply && reply->text_only) return {200, R"({"created":1767225600,"data":[]})"};
    const bool clear = rec.background == "transparent";
    return openai_images(picture_b64(w, hh, color_for(reply), reply, nullptr, clear), rec.n, rec.size,
                         openai_tokens(rec, w, hh), clear ? "transparent" : "opaque", answered_quality(rec));
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
    } else if (name == "quality") {
      rec.quality = value;
    } else if (name == "background") {
      rec.background = value;
    } else if (name == "output_format") {
      rec.output_format = value;
    } else if (name == "stream") {  // as the SDKs write a boolean in a form
      if (value != "true" && value != "false") throw invalid("Invalid value for 'stream': expected a boolean.", "stream");
      rec.stream = value == "true";
    } else if (name == "partial_images") {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
        throw invalid("Invalid type for 'partial_images': expected an integer.", "partial_images");
      rec.partial_images = std::atoi(value.c_str());
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
  check_quality(rec);
  if (reply && reply->text_only) return {200, R"({"created":1767225600,"data":[]})"};
  const bool clear = rec.background == "transparent";
  return openai_images(picture_b64(w, hh, color_for(reply), reply, &upload, clear), rec.n, rec.size,
                       openai_tokens(rec, w, hh), clear ? "transparent" : "opaque", answered_quality(rec));
}

// GET /v1/models (OpenAI), Bearer key.
Answer FakeServer::Impl::openai_models(SoupServerMessage *msg, RecordedRequest &rec) {
  const char *auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  rec.has_key = auth && g_str_has_prefix(auth, "Bearer ") && strlen(auth) > 7;
  rec.key_in_query = query_has(msg, {"key", "api_key"});
  if (!rec.has_key || g_str_has_prefix(auth + 7, "bad"))
    return {401, load_fixture("openai/error_401_invalid_api_key.json")};
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

}  // namespace genfill::test
