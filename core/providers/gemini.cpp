// Google Gemini API, generateContent with image output.
// POST {base}/v1beta/models/{model}:generateContent, key in x-goog-api-key.
#include <glib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/registry.hpp"
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

void add_inline_image(JsonBuilder *b, const std::string &mime, const std::vector<uint8_t> &bytes) {
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "inlineData");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "mimeType");
  json_builder_add_string_value(b, mime.c_str());
  json_builder_set_member_name(b, "data");
  json_builder_add_string_value(b, json::base64_encode(bytes).c_str());
  json_builder_end_object(b);
  json_builder_end_object(b);
}

// Reasons that mean "refused by safety filters".
bool is_refusal(const std::string &reason) {
  static const char *refusals[] = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
                                   "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};
  for (const char *r : refusals)
    if (reason == r) return true;
  return false;
}

std::string refusal_words(const std::string &reason) {
  if (reason.rfind("IMAGE_", 0) == 0) return _("the picture it made was blocked by its safety filters");
  if (reason == "RECITATION") return _("the answer was too close to existing material");
  return _("it was blocked by its safety filters");
}

// google.rpc.Status -> Error.
Error status_error(const HttpResponse &resp) {
  json::Doc doc = json::try_parse(resp.body);
  JsonObject *root = doc.object();
  if (!root && doc.root() && JSON_NODE_HOLDS_ARRAY(doc.root()))  // streaming form: [ {"error": ...} ]
    root = json::element_object(json_node_get_array(doc.root()), 0);
  JsonObject *err = json::object(root, "error");
  const std::string status = json::string(err, "status");
  const std::string message = json::string(err, "message", err ? "" : json::excerpt(resp.body));
  std::string reason, quota_id;
  if (JsonArray *details = json::array(err, "details")) {
    for (guint i = 0; i < json_array_get_length(details); ++i) {
      JsonObject *d = json::element_object(details, i);
      const std::string type = json::string(d, "@type");
      if (type.find("ErrorInfo") != std::string::npos && reason.empty()) reason = json::string(d, "reason");
      if (type.find("QuotaFailure") != std::string::npos) {
        JsonObject *v = json::element_object(json::array(d, "violations"), 0);
        quota_id = json::string(v, "quotaId");
      }
    }
  }
  const int code = resp.status;
  std::string detail = "HTTP " + std::to_string(code) + (status.empty() ? "" : " " + status) +
                       (reason.empty() ? "" : " " + reason) + ": " + json::excerpt(message);

  if (reason == "API_KEY_INVALID" || code == 401)
    return Error(ErrorCode::BadKey,
                 format(_("%s rejected the API key. Check %s or the key stored in your keyring."), kService,
                        "GEMINI_API_KEY"),
                 detail, code);
  if (code == 403) {
    if (reason == "CONSUMER_SUSPENDED")
      return Error(ErrorCode::PermissionDenied,
                   _("Gemini has suspended this API key. Use another key or check your Google project."), detail,
                   code);
    if (message.find("unregistered callers") != std::string::npos)
      return Error(ErrorCode::MissingKey, format(_("%s received no API key. Set %s."), kService, "GEMINI_API_KEY"),
                   detail, code);
    return Error(ErrorCode::PermissionDenied,
                 format(_("%s refused access with this key: %s"), kService, json::excerpt(message).c_str()), detail,
                 code);
  }
  if (code == 400 && status == "FAILED_PRECONDITION")
    return Error(ErrorCode::PermissionDenied,
                 format(_("Gemini is not available for this account or location: %s"), json::excerpt(message).c_str()),
                 detail, code);
  if (code == 404)
    return Error(ErrorCode::ModelNotFound,
                 format(_("%s does not know this model, or it was retired. Choose another model. (%s)"), kService,
                        json::excerpt(message, 160).c_str()),
                 detail, code);
  if (code == 429) {
    if (quota_id.find("PerDay") != std::string::npos)
      return Error(ErrorCode::QuotaExhausted,
                   _("The daily Gemini quota of this key is used up. Try again tomorrow or use a paid key."), detail,
                   code);
    return Error(ErrorCode::RateLimited,
                 format(_("%s is receiving too many requests from this key. Wait a minute and try again."), kService),
                 detail, code);
  }
  return common_status_error("Gemini", code, json::excerpt(message), std::move(detail));
}

class Gemini final : public Provider {
public:
  std::string_view name() const override { return "gemini"; }
  std::string_view display_name() const override { return "Google Gemini"; }
  std::string_view default_model() const override { return "gemini-2.5-flash-image"; }
  std::string_view default_base_url() const override { return "https://generativelanguage.googleapis.com"; }
  std::vector<std::string> key_env_vars() const override { return {"GEMINI_API_KEY", "GOOGLE_API_KEY"}; }

  HttpRequest build(const Request &req, const std::string &api_key) const override {
    if (req.n != 1)
      throw Error(ErrorCode::InvalidInput, _("Gemini makes one picture per request."), "n=" + std::to_string(req.n));
    std::string model = req.model.rfind("models/", 0) == 0 ? req.model.substr(7) : req.model;
    GCharPtr escaped(g_uri_escape_string(model.c_str(), "-._~", FALSE));

    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "contents");
    json_builder_begin_array(b.get());
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "role");
    json_builder_add_string_value(b.get(), "user");
    json_builder_set_member_name(b.get(), "parts");
    json_builder_begin_array(b.get());
    std::string text = req.prompt;
    if (req.mask && !req.images.empty()) text += kMaskInstruction;
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "text");
    json_builder_add_string_value(b.get(), text.c_str());
    json_builder_end_object(b.get());
    for (size_t i = 0; i < req.images.size(); ++i) {
      add_inline_image(b.get(), req.images[i].mime, req.images[i].bytes);
      if (i == 0 && req.mask) add_inline_image(b.get(), "image/png", encode_png(*req.mask));
    }
    json_builder_end_array(b.get());
    json_builder_end_object(b.get());
    json_builder_end_array(b.get());

    json_builder_set_member_name(b.get(), "generationConfig");
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "responseModalities");
    json_builder_begin_array(b.get());
    json_builder_add_string_value(b.get(), "TEXT");
    json_builder_add_string_value(b.get(), "IMAGE");
    json_builder_end_array(b.get());
    if (req.seed) {
      json_builder_set_member_name(b.get(), "seed");
      json_builder_add_int_value(b.get(), *req.seed & 0x7fffffff);
    }
    if (!req.aspect.empty()) {
      json_builder_set_member_name(b.get(), "imageConfig");
      json_builder_begin_object(b.get());
      json_builder_set_member_name(b.get(), "aspectRatio");
      json_builder_add_string_value(b.get(), req.aspect.c_str());
      json_builder_end_object(b.get());
    }
    json_builder_end_object(b.get());
    json_builder_end_object(b.get());

    HttpRequest http;
    http.url = req.base_url + "/v1beta/models/" + escaped.get() + ":generateContent";
    http.headers = {{"x-goog-api-key", api_key}};
    http.content_type = "application/json";
    http.body = json::to_string(b.get());
    return http;
  }

  Result parse(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::try_parse(resp.body);
    JsonObject *root = doc.object();
    if (!root)
      throw Error(ErrorCode::BadResponse, format(_("%s sent an answer genfill does not understand."), kService),
                  "not a JSON object: " + json::excerpt(resp.body, 80));
    if (json::object(root, "error")) throw status_error(resp);

    Result result;
    JsonObject *usage = json::object(root, "usageMetadata");
    result.usage.input_tokens = json::integer(usage, "promptTokenCount");
    result.usage.output_tokens = json::integer(usage, "candidatesTokenCount");
    result.usage.total_tokens = json::integer(usage, "totalTokenCount");

    JsonObject *cand = json::element_object(json::array(root, "candidates"), 0);
    if (!cand) {
      std::string block = json::string(json::object(root, "promptFeedback"), "blockReason");
      if (!block.empty())
        throw Error(ErrorCode::Refused,
                    format(_("Gemini refused the prompt (%s). Rephrase it or choose another area."), block.c_str()),
                    "promptFeedback.blockReason=" + block, resp.status);
      throw Error(ErrorCode::BadResponse, format(_("%s answered without a picture."), kService), "no candidates",
                  resp.status);
    }
    result.finish_reason = json::string(cand, "finishReason");
    JsonArray *parts = json::array(json::object(cand, "content"), "parts");
    const EncodedImage *last = nullptr;
    std::vector<EncodedImage> images;
    for (guint i = 0; parts && i < json_array_get_length(parts); ++i) {
      JsonObject *part = json::element_object(parts, i);
      if (json::boolean(part, "thought")) continue;  // draft pictures and reasoning
      if (json_object_has_member(part, "text")) {
        std::string t = json::string(part, "text");
        if (!t.empty()) result.text += (result.text.empty() ? "" : "\n") + t;
        continue;
      }
      JsonObject *data = json::object(part, "inlineData");
      if (!data) data = json::object(part, "inline_data");  // relays that echo proto names
      if (!data) continue;
      std::string mime = json::string(data, "mimeType", json::string(data, "mime_type"));
      if (mime.rfind("image/", 0) != 0) continue;
      EncodedImage img;
      img.mime = mime;
      img.bytes = json::base64_decode(json::string(data, "data"), kService);
      images.push_back(std::move(img));
      last = &images.back();
    }
    if (last) {  // the deliverable is the last non-thought picture
      result.images.push_back(std::move(images.back()));
      return result;
    }
    const std::string &reason = result.finish_reason;
    if (is_refusal(reason)) {
      std::string msg = format(_("%s refused: %s (%s). Rephrase the prompt or choose another area."), kService,
                               refusal_words(reason).c_str(), reason.c_str());
      Error e(ErrorCode::Refused, msg, "finishReason=" + reason, resp.status);
      if (!result.text.empty()) e.with_text(result.text);
      throw e;
    }
    if (reason == "MAX_TOKENS")
      throw Error(ErrorCode::BadResponse, _("Gemini stopped before it finished the picture. Try again."),
                  "finishReason=MAX_TOKENS", resp.status);
    if (!result.text.empty())
      throw Error(ErrorCode::TextOnly,
                  format(_("%s answered with text instead of a picture: %s"), kService,
                         json::excerpt(result.text, 300).c_str()),
                  "finishReason=" + reason, resp.status)
          .with_text(result.text);
    throw Error(ErrorCode::BadResponse,
                format(_("Gemini answered without a picture (%s). Try again or rephrase the prompt."),
                       reason.empty() ? _("no reason given") : reason.c_str()),
                "finishReason=" + reason, resp.status);
  }

  RetryAdvice retry_advice(const HttpResponse &resp) const override {
    RetryAdvice advice = http_retry_advice(resp);
    if (!advice.retry) return advice;
    json::Doc doc = json::try_parse(resp.body);
    JsonObject *root = doc.object();
    if (!root && doc.root() && JSON_NODE_HOLDS_ARRAY(doc.root()))
      root = json::element_object(json_node_get_array(doc.root()), 0);
    JsonArray *details = json::array(json::object(root, "error"), "details");
    for (guint i = 0; details && i < json_array_get_length(details); ++i) {
      JsonObject *d = json::element_object(details, i);
      const std::string type = json::string(d, "@type");
      if (type.find("RetryInfo") != std::string::npos && advice.delay_s < 0) {
        std::string delay = json::string(d, "retryDelay");  // protobuf Duration: "37s", "0.5s"
        char *end = nullptr;
        double v = g_ascii_strtod(delay.c_str(), &end);
        if (end && *end == 's' && v >= 0) advice.delay_s = v;
      }
      if (type.find("QuotaFailure") != std::string::npos) {
        JsonArray *violations = json::array(d, "violations");
        for (guint k = 0; violations && k < json_array_get_length(violations); ++k)
          if (json::string(json::element_object(violations, k), "quotaId").find("PerDay") != std::string::npos)
            advice.retry = false;  // a daily quota does not clear by waiting a little
      }
    }
    return advice;
  }
};

}  // namespace

const Provider &gemini_provider() {
  static const Gemini provider;
  return provider;
}

}  // namespace genfill
