// Google Gemini API, generateContent with image output (REFERENCE §1).
// POST {base}/v1beta/models/{model}:generateContent, key in x-goog-api-key.
#include <algorithm>
#include <optional>

#include <glib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/common.hpp"
#include "core/providers/google.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

namespace {

constexpr const char *kService = "Gemini";

// Gemini has no mask parameter: the mask travels as a second picture with an instruction,
// and genfill's own compositing keeps everything outside the selection as it was.
constexpr const char *kMaskInstruction =
    "\n\nThe second image is a mask of the first: change only the area that is white in the mask "
    "and keep everything else exactly as it is, with the same framing, size and perspective. "
    "Answer with the edited first image.";

void add_inline_image(JsonBuilder *b, const std::string &mime, const std::vector<uint8_t> &bytes,
                      const std::string &signature = {}) {
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "inlineData");
  json_builder_begin_object(b);
  json::add(b, "mimeType", mime);
  json::add(b, "data", json::base64_encode(bytes));  // bare base64, no data: URL
  json_builder_end_object(b);
  if (!signature.empty()) json::add(b, "thoughtSignature", signature);
  json_builder_end_object(b);
}

// An earlier turn, as it was sent or received (REFERENCE §1.9): the model's parts go back in
// the same order with the same thoughtSignature on the same part.
void add_turn(JsonBuilder *b, const Turn &turn) {
  json_builder_begin_object(b);
  json::add(b, "role", turn.role == "model" ? std::string("model") : std::string("user"));
  json_builder_set_member_name(b, "parts");
  json_builder_begin_array(b);
  for (const TurnPart &part : turn.parts) {
    if (part.image) {
      add_inline_image(b, part.image->mime.empty() ? "image/png" : part.image->mime, part.image->bytes,
                       part.thought_signature);
      continue;
    }
    json_builder_begin_object(b);
    json::add(b, "text", part.text);
    if (!part.thought_signature.empty()) json::add(b, "thoughtSignature", part.thought_signature);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
}

// The mask as the model sees it: black and white, white = the area to change. Soft edges are
// cut at half coverage; genfill's own compositing keeps them soft in the result.
std::vector<uint8_t> mask_png(const Mask &mask) {
  Mask bw = mask;
  for (uint8_t &v : bw.values) v = v >= 128 ? 255 : 0;
  return encode_png(bw);
}

// Reasons that mean "refused by safety filters".
bool is_refusal(const std::string &reason) {
  static const char *refusals[] = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
                                   "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};
  for (const char *r : refusals)
    if (reason == r) return true;
  return false;
}

// What a refusal means, in plain words; each of the picture reasons has its own.
std::string refusal_message(const std::string &reason) {
  if (reason == "IMAGE_SAFETY")
    return _("Gemini made a picture, but its safety filters blocked it. Rephrase the prompt or choose another area.");
  if (reason == "IMAGE_PROHIBITED_CONTENT")
    return _("Gemini will not make this picture: Google does not allow this kind of content. Change the prompt.");
  if (reason == "IMAGE_RECITATION")
    return _("Gemini blocked the picture it made because it came too close to an existing work. Rephrase the "
             "prompt so it asks for something of your own.");
  if (reason == "RECITATION")
    return format(_("%s refused: %s (%s). Rephrase the prompt or choose another area."), kService,
                  _("the answer was too close to existing material"), reason.c_str());
  return format(_("%s refused: %s (%s). Rephrase the prompt or choose another area."), kService,
                _("it was blocked by its safety filters"), reason.c_str());
}

// What only Gemini says about an error: a suspended key, no key at all, a service not offered
// here (REFERENCE §1.10); the rest is Google's shared reading.
std::optional<Error> own_error(const GoogleError &g) {
  const json::RpcStatus &st = g.st;
  const int code = g.code;
  const std::string &message = g.message, &detail = g.detail;
  if (code == 403) {
    if (st.reason == "CONSUMER_SUSPENDED")
      return Error(ErrorCode::PermissionDenied,
                   _("Gemini has suspended this API key. Use another key or check your Google project."), detail,
                   code);
    // Google sends no ErrorInfo when the key is missing; its message is the only sign (a relay
    // in between may have dropped the header).
    if (message.find("unregistered callers") != std::string::npos)
      return Error(ErrorCode::PermissionDenied, format(_("%s received no API key. Set %s."), kService, "GEMINI_API_KEY"),
                   detail, code);
  }
  if (code == 400 && st.status == "FAILED_PRECONDITION")
    return Error(ErrorCode::PermissionDenied,
                 format(_("Gemini is not available for this account or location: %s"),
                        message.empty() ? format(_("error %d"), code).c_str() : message.c_str()),
                 detail, code);
  return std::nullopt;
}

const GoogleService kGoogle{
    kService, N_("The daily Gemini quota of this key is used up. Try again tomorrow or use a paid key."), own_error};

// google.rpc.Status (or a body that is not JSON at all) -> Error.
Error status_error(const HttpResponse &resp) { return google_status_error(resp, kGoogle); }

// Image models: "image" in the id and served by generateContent (text, embedding, speech and
// video models are left out).
bool is_image_model(const ServedModel &m, JsonArray *methods) {
  return m.id.find("image") != std::string::npos && m.id.rfind("imagen", 0) != 0 &&
         has_word(methods, "generateContent");
}

// A GenerateContentResponse (one answer, or a stream's chunks merged) -> Result.
Result parse_answer(JsonObject *root, int status) {
  Result result;
  JsonObject *usage = json::object(root, "usageMetadata");
  result.usage.input_tokens = json::integer(usage, "promptTokenCount");
  result.usage.output_tokens = json::integer(usage, "candidatesTokenCount");
  result.usage.total_tokens = json::integer(usage, "totalTokenCount");
  result.usage.thoughts_tokens = json::integer(usage, "thoughtsTokenCount");
  // By modality ({"modality": "IMAGE", "tokenCount": 1120}); no modality means TEXT.
  auto by_modality = [usage](const char *details, int64_t &text, int64_t &image) {
    JsonArray *a = json::array(usage, details);
    for (guint i = 0; a && i < json_array_get_length(a); ++i) {
      JsonObject *d = json::element_object(a, i);
      const int64_t n = json::integer(d, "tokenCount");
      if (n < 0) continue;
      const std::string modality = json::string(d, "modality", "TEXT");
      int64_t &into = modality == "IMAGE" ? image : text;  // (audio, video: not asked for)
      into = std::max<int64_t>(into, 0) + n;
    }
  };
  by_modality("promptTokensDetails", result.usage.input_text_tokens, result.usage.input_image_tokens);
  by_modality("candidatesTokensDetails", result.usage.output_text_tokens, result.usage.output_image_tokens);

  JsonObject *cand = json::element_object(json::array(root, "candidates"), 0);
  if (!cand) {
    const std::string block = json::string(json::object(root, "promptFeedback"), "blockReason");
    if (!block.empty())
      throw Error(ErrorCode::Refused,
                  format(_("Gemini refused the prompt (%s). Rephrase it or choose another area."), block.c_str()),
                  "promptFeedback.blockReason=" + block, status);
    throw Error(ErrorCode::BadResponse, format(_("%s answered without a picture."), kService), "no candidates",
                status);
  }
  result.finish_reason = json::string(cand, "finishReason");
  JsonArray *parts = json::array(json::object(cand, "content"), "parts");
  std::optional<EncodedImage> last;  // the deliverable is the last non-thought picture
  for (guint i = 0; parts && i < json_array_get_length(parts); ++i) {
    JsonObject *part = json::element_object(parts, i);
    if (json::boolean(part, "thought")) continue;  // reasoning and draft pictures (may be dropped from history)
    const std::string signature = json::string(part, "thoughtSignature", json::string(part, "thought_signature"));
    if (part && json_object_has_member(part, "text")) {
      const std::string text = json::string(part, "text");
      if (!text.empty()) result.text += (result.text.empty() ? "" : "\n") + text;
      result.model_parts.push_back(TurnPart{text, std::nullopt, signature});
      continue;
    }
    JsonObject *data = json::object(part, "inlineData");
    if (!data) data = json::object(part, "inline_data");  // relays that echo proto names
    if (!data) continue;
    const std::string mime = json::string(data, "mimeType", json::string(data, "mime_type"));
    if (mime.rfind("image/", 0) != 0) continue;
    EncodedImage img;
    img.mime = mime;
    img.bytes = json::base64_decode(json::string(data, "data"), kService);
    result.model_parts.push_back(TurnPart{{}, img, signature});
    last = std::move(img);
  }
  if (last) {
    result.images.push_back(std::move(*last));
    return result;
  }

  const std::string &reason = result.finish_reason;
  if (is_refusal(reason)) {
    Error e(ErrorCode::Refused, refusal_message(reason), "finishReason=" + reason, status);
    if (!result.text.empty()) e.with_text(result.text);
    throw e;
  }
  if (reason == "IMAGE_OTHER") {
    Error e(ErrorCode::BadResponse,
            _("Gemini could not make the picture and gave no reason. Try again, or rephrase the prompt."),
            "finishReason=IMAGE_OTHER", status);
    if (!result.text.empty()) e.with_text(result.text);
    throw e;
  }
  if (reason == "NO_IMAGE") {  // the model chose not to draw: say so, with its words if it gave any
    if (result.text.empty())
      throw Error(ErrorCode::BadResponse,
                  _("Gemini answered without making a picture. Ask for the change directly (\"replace the sky "
                    "with …\") and try again."),
                  "finishReason=NO_IMAGE", status);
    throw Error(ErrorCode::TextOnly,
                format(_("Gemini answered with words instead of a picture: %s Ask for the change directly "
                         "(\"replace the sky with …\") and try again."),
                       json::excerpt(result.text, 300).c_str()),
                "finishReason=NO_IMAGE", status)
        .with_text(result.text);
  }
  if (reason == "MAX_TOKENS")
    throw Error(ErrorCode::BadResponse, _("Gemini stopped before it finished the picture. Try again."),
                "finishReason=MAX_TOKENS", status);
  if (!result.text.empty())  // STOP, ... with words only
    throw Error(ErrorCode::TextOnly,
                format(_("%s answered with text instead of a picture: %s"), kService,
                       json::excerpt(result.text, 300).c_str()),
                "finishReason=" + reason, status)
        .with_text(result.text);
  throw Error(ErrorCode::BadResponse,
              format(_("Gemini answered without a picture (%s). Try again or rephrase the prompt."),
                     reason.empty() ? _("no reason given") : reason.c_str()),
              "finishReason=" + reason, status);
}


// A streamGenerateContent?alt=sse answer (REFERENCE §1.7): each event's data is a
// GenerateContentResponse holding only the new parts. The parts are merged in order (text
// pieces of the same kind joined, as the whole answer would hold them), finishReason and
// usageMetadata come from the last chunk that has them, and the merged answer goes through
// parse_answer: exactly what generateContent would have given. Thought pictures are drafts.
class GeminiStream final : public StreamReader {
public:
  std::optional<EncodedImage> take(const SseEvent &event) override {
    if (!error_.empty() || !unreadable_.empty()) return std::nullopt;  // the stream has failed
    json::Doc doc = json::try_parse(event.data);
    JsonObject *root = doc.object();
    if (!root) {
      unreadable_ = json::excerpt(event.data, 120);
      return std::nullopt;
    }
    if (json::object(root, "error")) {  // an error after the stream began
      error_ = event.data;
      return std::nullopt;
    }
    ++chunks_;
    if (JsonNode *usage = json_object_get_member(root, "usageMetadata")) usage_ = adopt(json_node_copy(usage));
    if (JsonNode *feedback = json_object_get_member(root, "promptFeedback")) feedback_ = adopt(json_node_copy(feedback));
    JsonObject *cand = json::element_object(json::array(root, "candidates"), 0);
    if (!cand) return std::nullopt;
    if (const std::string reason = json::string(cand, "finishReason"); !reason.empty()) finish_reason_ = reason;
    JsonArray *parts = json::array(json::object(cand, "content"), "parts");
    std::optional<EncodedImage> draft;
    for (guint i = 0; parts && i < json_array_get_length(parts); ++i) {
      JsonObject *part = json::element_object(parts, i);
      if (!part) continue;
      if (join_text(part)) continue;
      json_array_add_element(parts_.get(), json_node_copy(json_array_get_element(parts, i)));
      if (!json::boolean(part, "thought")) continue;
      JsonObject *data = json::object(part, "inlineData");
      if (!data) data = json::object(part, "inline_data");
      const std::string mime = json::string(data, "mimeType", json::string(data, "mime_type"));
      if (!data || mime.rfind("image/", 0) != 0) continue;
      try {
        EncodedImage img;
        img.mime = mime;
        img.bytes = json::base64_decode(json::string(data, "data"), kService);
        draft = std::move(img);  // the latest of this chunk
      } catch (const Error &) {  // a broken draft is no answer: skipped; the answer is checked in full
      }
    }
    return draft;
  }

  Result finish() override {
    if (!error_.empty()) {
      HttpResponse resp;
      json::Doc doc = json::try_parse(error_);
      const int64_t code = json::integer(json::object(doc.object(), "error"), "code", 500);
      resp.status = code >= 400 && code < 600 ? int(code) : 500;
      resp.body = error_;
      throw status_error(resp);
    }
    if (!unreadable_.empty())
      throw Error(ErrorCode::BadResponse,
                  format(_("%s sent a piece of its answer that genfill could not read. genfill did not ask again, "
                           "as the service may already have billed it."),
                         kService),
                  "stream chunk not JSON: " + unreadable_, 200);
    if (chunks_ == 0)
      throw Error(ErrorCode::BadResponse,
                  format(_("%s's answer ended before it had begun. genfill did not ask again, as the service may "
                           "already have billed it."),
                         kService),
                  "stream without chunks", 200);
    GPtr<JsonObject> root = adopt(json_object_new());
    if (usage_) json_object_set_member(root.get(), "usageMetadata", json_node_copy(usage_.get()));
    if (feedback_) json_object_set_member(root.get(), "promptFeedback", json_node_copy(feedback_.get()));
    if (json_array_get_length(parts_.get()) > 0 || !finish_reason_.empty()) {
      JsonObject *content = json_object_new();
      json_object_set_string_member(content, "role", "model");
      json_object_set_array_member(content, "parts", json_array_ref(parts_.get()));
      JsonObject *cand = json_object_new();
      json_object_set_object_member(cand, "content", content);
      if (!finish_reason_.empty()) json_object_set_string_member(cand, "finishReason", finish_reason_.c_str());
      JsonArray *cands = json_array_new();
      json_array_add_object_element(cands, cand);
      json_object_set_array_member(root.get(), "candidates", cands);
    }
    // A stream without its last chunk (no finishReason) may hold a picture that is not the
    // final one: it is not the answer (a prompt refused as a whole has no candidate to finish).
    if (finish_reason_.empty() && !feedback_)
      throw Error(ErrorCode::BadResponse,
                  format(_("%s's answer ended before the finished picture. genfill did not ask again, as the "
                           "service may already have billed it."),
                         kService),
                  "stream without finishReason", 200);
    return parse_answer(root.get(), 200);
  }

private:
  // A text part following a text part of the same kind (thought or not) is the same text,
  // streamed in pieces: joined into it, its signature kept. Returns whether it was joined.
  bool join_text(JsonObject *part) {
    if (!json_object_has_member(part, "text")) return false;
    const guint n = json_array_get_length(parts_.get());
    JsonObject *prev = n ? json::element_object(parts_.get(), n - 1) : nullptr;
    if (!prev || !json_object_has_member(prev, "text") ||
        json::boolean(prev, "thought") != json::boolean(part, "thought"))
      return false;
    const std::string joined = json::string(prev, "text") + json::string(part, "text");
    json_object_set_string_member(prev, "text", joined.c_str());
    for (const char *sig : {"thoughtSignature", "thought_signature"})
      if (json_object_has_member(part, sig))
        json_object_set_string_member(prev, sig, json::string(part, sig).c_str());
    return true;
  }

  GPtr<JsonArray> parts_ = adopt(json_array_new());
  GPtr<JsonNode> usage_, feedback_;
  std::string finish_reason_, error_, unreadable_;
  int chunks_ = 0;
};

class Gemini final : public Provider {
public:
  std::string_view name() const override { return "gemini"; }
  std::string_view display_name() const override { return "Google Gemini"; }
  std::string_view default_base_url() const override { return "https://generativelanguage.googleapis.com"; }
  std::vector<std::string> key_env_vars() const override { return {"GEMINI_API_KEY", "GOOGLE_API_KEY"}; }

  HttpRequest build(const Request &req, const std::string &api_key) const override {
    // Image models refuse candidateCount > 1: the job sends one request per picture.
    if (req.n != 1)
      throw Error(ErrorCode::InvalidInput, _("Gemini makes one picture per request."), "n=" + std::to_string(req.n));
    if (req.transparent)
      throw Error(ErrorCode::InvalidInput, _("Gemini cannot make pictures with a transparent background."));
    const std::string model = req.model.rfind("models/", 0) == 0 ? req.model.substr(7) : req.model;
    GCharPtr escaped(g_uri_escape_string(model.c_str(), "-._~", FALSE));
    const bool masked = req.mask && !req.images.empty();

    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "contents");
    json_builder_begin_array(b.get());
    for (const Turn &turn : req.history) add_turn(b.get(), turn);
    json_builder_begin_object(b.get());
    json::add(b.get(), "role", std::string("user"));
    json_builder_set_member_name(b.get(), "parts");
    json_builder_begin_array(b.get());
    json_builder_begin_object(b.get());
    json::add(b.get(), "text", masked ? req.prompt + kMaskInstruction : req.prompt);
    json_builder_end_object(b.get());
    // The picture to edit, then its mask (so "the second image" in the text is the mask), then
    // any reference pictures.
    for (size_t i = 0; i < req.images.size(); ++i) {
      add_inline_image(b.get(), upload_mime(req.images[i]), req.images[i].bytes);
      if (i == 0 && masked) add_inline_image(b.get(), "image/png", mask_png(*req.mask));
    }
    json_builder_end_array(b.get());
    json_builder_end_object(b.get());
    json_builder_end_array(b.get());

    json_builder_set_member_name(b.get(), "generationConfig");
    json_builder_begin_object(b.get());
    // What the model may answer with, as the catalog says (some older models insist on both).
    json_builder_set_member_name(b.get(), "responseModalities");
    json_builder_begin_array(b.get());
    if (req.response_modalities.empty()) {
      json_builder_add_string_value(b.get(), "TEXT");
      json_builder_add_string_value(b.get(), "IMAGE");
    }
    for (const std::string &m : req.response_modalities) json_builder_add_string_value(b.get(), m.c_str());
    json_builder_end_array(b.get());
    if (req.seed) json::add(b.get(), "seed", int64_t(*req.seed & 0x7fffffff));  // an int32 field
    if (!req.aspect.empty() || !req.image_size.empty()) {
      json_builder_set_member_name(b.get(), "imageConfig");
      json_builder_begin_object(b.get());
      if (!req.aspect.empty()) json::add(b.get(), "aspectRatio", req.aspect);
      if (!req.image_size.empty()) json::add(b.get(), "imageSize", req.image_size);  // "1K", "2K", "4K", "512"
      json_builder_end_object(b.get());
    }
    json_builder_end_object(b.get());  // never candidateCount: image models refuse more than one
    json_builder_end_object(b.get());

    HttpRequest http;
    // Streamed: the same request; the answer comes as server-sent events (REFERENCE §1.7).
    http.url = req.base_url + "/v1beta/models/" + escaped.get() +
               (req.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    http.headers = {{"x-goog-api-key", api_key}};  // never in the URL
    http.content_type = "application/json";
    http.body = json::to_string(b.get());
    return http;
  }

  // REFERENCE §1.6, "client algorithm".
  Result parse(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::parse_object(resp.body, kService, resp.status);
    JsonObject *root = doc.object();
    if (json::object(root, "error")) throw status_error(resp);
    return parse_answer(root, resp.status);
  }

  std::unique_ptr<StreamReader> stream_reader() const override;

  std::optional<HttpRequest> build_model_list(const std::string &base_url, const std::string &api_key,
                                              const std::string &page_token) const override {
    return google_model_list_request(base_url, api_key, page_token);
  }

  ModelPage parse_model_list(const HttpResponse &resp) const override {
    return google_model_list(resp, kGoogle, is_image_model);
  }

  // The Batch API (REFERENCE §1.11): POST models/{model}:batchGenerateContent with the requests
  // inlined, each under a key in its metadata; the answer, and GET {name} later, is a
  // long-running operation whose metadata holds the job's state and whose response, once done,
  // the inlined answers in the same form as generateContent's (or an error each).
  std::optional<HttpRequest> build_batch(const std::string &base_url, const std::string &model_id,
                                         const std::vector<std::pair<std::string, HttpRequest>> &requests,
                                         const std::string &display_name, const std::string &api_key) const override {
    const std::string model = model_id.rfind("models/", 0) == 0 ? model_id.substr(7) : model_id;
    GCharPtr escaped(g_uri_escape_string(model.c_str(), "-._~", FALSE));
    GPtr<JsonObject> items_root = adopt(json_object_new());
    JsonArray *items = json_array_new();
    for (const auto &[key, http] : requests) {
      json::Doc body = json::try_parse(http.body);  // the very generateContent body
      if (!body.object()) throw Error(ErrorCode::InvalidInput, _("A request of the batch could not be built."), key);
      JsonObject *item = json_object_new();
      json_object_set_member(item, "request", json_node_copy(body.root()));
      JsonObject *metadata = json_object_new();
      json_object_set_string_member(metadata, "key", key.c_str());
      json_object_set_object_member(item, "metadata", metadata);
      json_array_add_object_element(items, item);
    }
    JsonObject *inner = json_object_new();
    json_object_set_array_member(inner, "requests", items);
    JsonObject *input = json_object_new();
    json_object_set_object_member(input, "requests", inner);
    JsonObject *batch = json_object_new();
    json_object_set_string_member(batch, "displayName", display_name.c_str());
    json_object_set_object_member(batch, "inputConfig", input);
    GPtr<JsonObject> root = adopt(json_object_new());
    json_object_set_object_member(root.get(), "batch", batch);
    GPtr<JsonNode> node = adopt(json_node_new(JSON_NODE_OBJECT));
    json_node_set_object(node.get(), root.get());
    GPtr<JsonGenerator> gen = adopt(json_generator_new());
    json_generator_set_root(gen.get(), node.get());
    GCharPtr text(json_generator_to_data(gen.get(), nullptr));
    HttpRequest http;
    http.url = base_url + "/v1beta/models/" + escaped.get() + ":batchGenerateContent";
    http.headers = {{"x-goog-api-key", api_key}};
    http.content_type = "application/json";
    http.body = text.get();
    return http;
  }

  std::optional<HttpRequest> build_batch_get(const std::string &base_url, const std::string &name,
                                             const std::string &api_key) const override {
    // The job's name as the service gave it ("batches/ID"): its segments escaped, never a query.
    std::string path;
    for (size_t start = 0; start <= name.size();) {
      size_t end = name.find('/', start);
      if (end == std::string::npos) end = name.size();
      GCharPtr seg(g_uri_escape_string(name.substr(start, end - start).c_str(), "-._~", FALSE));
      path += (path.empty() ? "" : "/") + std::string(seg.get());
      start = end + 1;
    }
    HttpRequest http;
    http.method = "GET";
    http.url = base_url + "/v1beta/" + path;
    http.headers = {{"x-goog-api-key", api_key}};
    return http;
  }

  BatchJob parse_batch(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::parse_object(resp.body, kService, resp.status);
    JsonObject *root = doc.object();
    if (json::object(root, "error") && !json::object(root, "metadata")) throw status_error(resp);
    JsonObject *meta = json::object(root, "metadata");
    BatchJob job;
    job.name = json::string(root, "name", json::string(meta, "name"));
    if (job.name.rfind("batches/", 0) != 0)
      throw Error(ErrorCode::BadResponse, format(_("%s sent an answer genfill does not understand."), kService),
                  "batch without a batches/ name", resp.status);
    const std::string state = json::string(meta, "state", json::string(root, "state"));
    static const std::pair<const char *, const char *> states[] = {
        {"BATCH_STATE_PENDING", "pending"},     {"BATCH_STATE_RUNNING", "running"},
        {"BATCH_STATE_SUCCEEDED", "succeeded"}, {"BATCH_STATE_FAILED", "failed"},
        {"BATCH_STATE_CANCELLED", "cancelled"}, {"BATCH_STATE_EXPIRED", "expired"},
        {"JOB_STATE_PENDING", "pending"},       {"JOB_STATE_RUNNING", "running"},
        {"JOB_STATE_SUCCEEDED", "succeeded"},   {"JOB_STATE_FAILED", "failed"},
        {"JOB_STATE_CANCELLED", "cancelled"},   {"JOB_STATE_EXPIRED", "expired"}};
    job.state = "pending";
    for (auto [wire, word] : states)
      if (state == wire) job.state = word;
    job.done = json::boolean(root, "done") || (job.state != "pending" && job.state != "running");
    if (job.done && job.state == "pending") job.state = json::object(root, "error") ? "failed" : "succeeded";
    // The answers: the job's output (where python-genai reads them), or the operation's
    // response, which mirrors it.
    JsonObject *out = json::object(meta, "output");
    if (!json::object(out, "inlinedResponses")) out = json::object(root, "response");
    JsonArray *answers = json::array(json::object(out, "inlinedResponses"), "inlinedResponses");
    for (guint i = 0; answers && i < json_array_get_length(answers); ++i) {
      JsonObject *a = json::element_object(answers, i);
      BatchItem item;
      item.key = json::string(json::object(a, "metadata"), "key", std::to_string(i));
      GPtr<JsonGenerator> gen = adopt(json_generator_new());
      GPtr<JsonNode> node;
      if (JsonObject *r = json::object(a, "response")) {
        item.answer.status = 200;
        node = adopt(json_node_copy(json_object_get_member(a, "response")));
        (void)r;
      } else {
        // An error of this request alone: answered as the plain call's error would have been.
        JsonObject *err = json::object(a, "error");
        const int64_t code = json::integer(err, "code", 500);
        item.answer.status = code >= 400 && code < 600 ? int(code) : 500;
        GPtr<JsonObject> wrap = adopt(json_object_new());
        if (err) json_object_set_member(wrap.get(), "error", json_node_copy(json_object_get_member(a, "error")));
        node = adopt(json_node_new(JSON_NODE_OBJECT));
        json_node_set_object(node.get(), wrap.get());
      }
      json_generator_set_root(gen.get(), node.get());
      item.answer.body = GCharPtr(json_generator_to_data(gen.get(), nullptr)).get();
      job.items.push_back(std::move(item));
    }
    return job;
  }

  // Besides the HTTP hints: RetryInfo.retryDelay, and no retry once a daily quota is used up.
  RetryAdvice retry_advice(const HttpResponse &resp) const override { return google_retry_advice(resp); }
};

}  // namespace

std::unique_ptr<StreamReader> Gemini::stream_reader() const { return std::make_unique<GeminiStream>(); }

const Provider &gemini_provider() {
  static const Gemini provider;
  return provider;
}

}  // namespace genfill
