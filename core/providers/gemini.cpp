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
    http.url = req.base_url + "/v1beta/models/" + escaped.get() + ":generateContent";
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
                    "promptFeedback.blockReason=" + block, resp.status);
      throw Error(ErrorCode::BadResponse, format(_("%s answered without a picture."), kService), "no candidates",
                  resp.status);
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
      Error e(ErrorCode::Refused, refusal_message(reason), "finishReason=" + reason, resp.status);
      if (!result.text.empty()) e.with_text(result.text);
      throw e;
    }
    if (reason == "IMAGE_OTHER") {
      Error e(ErrorCode::BadResponse,
              _("Gemini could not make the picture and gave no reason. Try again, or rephrase the prompt."),
              "finishReason=IMAGE_OTHER", resp.status);
      if (!result.text.empty()) e.with_text(result.text);
      throw e;
    }
    if (reason == "NO_IMAGE") {  // the model chose not to draw: say so, with its words if it gave any
      if (result.text.empty())
        throw Error(ErrorCode::BadResponse,
                    _("Gemini answered without making a picture. Ask for the change directly (\"replace the sky "
                      "with …\") and try again."),
                    "finishReason=NO_IMAGE", resp.status);
      throw Error(ErrorCode::TextOnly,
                  format(_("Gemini answered with words instead of a picture: %s Ask for the change directly "
                           "(\"replace the sky with …\") and try again."),
                         json::excerpt(result.text, 300).c_str()),
                  "finishReason=NO_IMAGE", resp.status)
          .with_text(result.text);
    }
    if (reason == "MAX_TOKENS")
      throw Error(ErrorCode::BadResponse, _("Gemini stopped before it finished the picture. Try again."),
                  "finishReason=MAX_TOKENS", resp.status);
    if (!result.text.empty())  // STOP, ... with words only
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

  std::optional<HttpRequest> build_model_list(const std::string &base_url, const std::string &api_key,
                                              const std::string &page_token) const override {
    return google_model_list_request(base_url, api_key, page_token);
  }

  ModelPage parse_model_list(const HttpResponse &resp) const override {
    return google_model_list(resp, kGoogle, is_image_model);
  }

  // Besides the HTTP hints: RetryInfo.retryDelay, and no retry once a daily quota is used up.
  RetryAdvice retry_advice(const HttpResponse &resp) const override { return google_retry_advice(resp); }
};

}  // namespace

const Provider &gemini_provider() {
  static const Gemini provider;
  return provider;
}

}  // namespace genfill
