// Image models behind an OpenAI-compatible chat-completions relay, in the form OpenRouter
// documents (and others copy). What was verified, and where:
//  * openrouter.ai/docs/features/multimodal/image-generation (read 2026 through the docs and
//    pages indexes, several mirrored copies agreeing): POST {base}/chat/completions with
//    "modalities": ["image", "text"]; optional "image_config": {"aspect_ratio": "16:9"} (also
//    "image_size"); pictures come back in choices[0].message.images[] as
//    {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}, text in
//    message.content.
//  * OpenRouter's image-inputs guide: input pictures are "image_url" content parts whose url is
//    a public URL or a base64 data URL (png, jpeg, webp, gif), text part first, then pictures.
//  * openrouter.ai/docs/api/reference/errors-and-debugging: {"error": {"code": <int>, "message",
//    "metadata"?}} with the same HTTP status: 400, 401 key, 402 credits, 403 moderation (metadata
//    reasons, flagged_input, provider_name, model_slug), 408, 429, 502 model down, 503 no
//    provider; an error met once the model is working comes in a 200 body. Retry-After may be set.
//  * Authorization: Bearer <key>; base https://openrouter.ai/api/v1.
// Not verified: whether assistant turns may carry pictures back, so earlier turns go back as
// text (the user turns with their pictures); relays that put pictures into message.content as
// image_url parts (seen in third-party relays' docs) are read too.
#include <optional>

#include <glib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/common.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

namespace {

// These relays mostly serve Gemini image models, which take no mask: as in gemini.cpp, the mask
// travels as a second picture with an instruction, and genfill's compositing keeps the rest.
constexpr const char *kMaskInstruction =
    "\n\nThe second image is a mask of the first: change only the area that is white in the mask "
    "and keep everything else exactly as it is, with the same framing, size and perspective. "
    "Answer with the edited first image.";

std::string data_url(const std::string &mime, const std::vector<uint8_t> &bytes) {
  return "data:" + mime + ";base64," + json::base64_encode(bytes);
}

void add_text_part(JsonBuilder *b, const std::string &text) {
  json_builder_begin_object(b);
  json::add(b, "type", std::string("text"));
  json::add(b, "text", text);
  json_builder_end_object(b);
}

void add_image_part(JsonBuilder *b, const std::string &mime, const std::vector<uint8_t> &bytes) {
  json_builder_begin_object(b);
  json::add(b, "type", std::string("image_url"));
  json_builder_set_member_name(b, "image_url");
  json_builder_begin_object(b);
  json::add(b, "url", data_url(mime, bytes));
  json_builder_end_object(b);
  json_builder_end_object(b);
}

std::vector<uint8_t> mask_png(const Mask &mask) {  // white = change, cut at half coverage
  Mask bw = mask;
  for (uint8_t &v : bw.values) v = v >= 128 ? 255 : 0;
  return encode_png(bw);
}

// An earlier turn: the user's words and pictures as sent; the model's words only.
void add_turn(JsonBuilder *b, const Turn &turn) {
  json_builder_begin_object(b);
  if (turn.role == "model") {
    std::string text;
    for (const TurnPart &part : turn.parts)
      if (!part.image && !part.text.empty()) text += (text.empty() ? "" : "\n") + part.text;
    json::add(b, "role", std::string("assistant"));
    json::add(b, "content", text.empty() ? std::string("(a picture)") : text);
    json_builder_end_object(b);
    return;
  }
  json::add(b, "role", std::string("user"));
  json_builder_set_member_name(b, "content");
  json_builder_begin_array(b);
  for (const TurnPart &part : turn.parts)
    if (!part.image && !part.text.empty()) add_text_part(b, part.text);
  for (const TurnPart &part : turn.parts)
    if (part.image) add_image_part(b, upload_mime(*part.image), part.image->bytes);
  json_builder_end_array(b);
  json_builder_end_object(b);
}

// {"error": {code, message, metadata}}: code is a number at OpenRouter, a string at some relays.
struct ErrorBody {
  bool found = false;
  int code = 0;
  std::string code_text, message, provider;
  bool moderation = false;
};

ErrorBody read_error(const std::string &body) {
  ErrorBody e;
  json::Doc doc = json::try_parse(body);
  JsonObject *err = json::object(doc.object(), "error");
  if (!err) return e;
  e.found = true;
  const int64_t code = json::integer(err, "code", 0);
  e.code = code >= 100 && code <= 599 ? int(code) : 0;
  e.code_text = json::string(err, "code");
  e.message = json::string(err, "message");
  JsonObject *meta = json::object(err, "metadata");
  e.provider = json::string(meta, "provider_name");
  e.moderation = json::array(meta, "reasons") || json_object_has_member(meta ? meta : err, "flagged_input");
  return e;
}

Error status_error(const HttpResponse &resp) {
  const ErrorBody e = read_error(resp.body);
  // An error met once the model was at work arrives in a 200: its code says what it is.
  const int status = resp.status >= 200 && resp.status < 300 && e.code >= 400 ? e.code : resp.status;
  const std::string message = e.found ? json::excerpt(e.message) : json::plain_text_message(resp.body);
  const std::string words = message.empty() ? format(_("error %d"), status) : message;
  const std::string detail = "HTTP " + std::to_string(resp.status) +
                             (e.code ? " code " + std::to_string(e.code) : e.code_text.empty() ? "" : " " + e.code_text) +
                             (e.provider.empty() ? "" : " via " + e.provider) + ": " +
                             (e.found ? json::excerpt(e.message) : json::excerpt(resp.body, 120));

  if (status == 401 || e.code_text == "invalid_api_key")
    return Error(ErrorCode::BadKey,
                 format(_("The relay rejected the API key. Check %s or the key stored in your keyring."),
                        "GENFILL_CHAT_API_KEY"),
                 detail, status);
  if (status == 402)
    return Error(ErrorCode::QuotaExhausted,
                 _("The relay account has too little credit for this request. Add credit or choose a cheaper model."),
                 detail, status);
  if (status == 403) {
    if (e.moderation)
      return Error(ErrorCode::Refused,
                   format(_("The relay's moderation refused the request (%s). Rephrase the prompt or choose another "
                            "area."),
                          words.c_str()),
                   detail, status);
    return Error(ErrorCode::PermissionDenied, format(_("The relay refused access with this key: %s"), words.c_str()),
                 detail, status);
  }
  if (status == 404)
    return Error(ErrorCode::ModelNotFound,
                 format(_("The relay does not offer this model, or it was retired. Choose another model. (%s)"),
                        json::excerpt(words, 160).c_str()),
                 detail, status);
  if (status == 408)
    return Error(ErrorCode::Timeout, _("The relay gave up waiting for the model. Try again in a moment."), detail,
                 status);
  if (status == 413)
    return Error(ErrorCode::BadRequest, _("The picture is too large for the relay. Select a smaller area."), detail,
                 status);
  if (status == 429)
    return Error(ErrorCode::RateLimited,
                 _("The relay is receiving too many requests from this key. Wait a minute and try again."), detail,
                 status);
  if (status == 502)
    return Error(ErrorCode::ServerError,
                 _("The model behind the relay is down or answered badly (error 502). Try again in a moment or "
                   "choose another model."),
                 detail, status);
  if (status == 503)
    return Error(ErrorCode::ServerError,
                 _("The relay has no provider for this model right now (error 503). Try again later or choose "
                   "another model."),
                 detail, status);
  if (status >= 500)
    return Error(ErrorCode::ServerError, format(_("The relay had a problem (error %d). Try again in a moment."), status),
                 detail, status);
  if (status >= 400)
    return Error(ErrorCode::BadRequest, format(_("The relay rejected the request: %s"), words.c_str()), detail,
                 status);
  return Error(ErrorCode::BadResponse, _("The relay sent an answer genfill does not understand."), detail, status);
}

// "data:image/png;base64,AAAA" -> the picture. Links (https://...) are refused: genfill never
// fetches what an answer points to.
std::optional<EncodedImage> picture_from_url(const std::string &url, bool *link) {
  const std::string marker = ";base64,";
  const size_t at = url.find(marker);
  if (url.rfind("data:", 0) != 0 || at == std::string::npos) {
    if (!url.empty()) *link = true;
    return std::nullopt;
  }
  EncodedImage img;
  img.bytes = json::base64_decode(std::string_view(url).substr(at + marker.size()), "The relay");
  img.mime = sniff_image_mime(img.bytes);
  if (img.mime.empty()) img.mime = url.substr(5, at - 5);
  return img;
}

// {"type": "image_url", "image_url": {"url": ...}}; some SDK-shaped relays write imageUrl.
std::string image_url_of(JsonObject *item) {
  JsonObject *u = json::object(item, "image_url");
  if (!u) u = json::object(item, "imageUrl");
  if (u) return json::string(u, "url");
  return json::string(item, "image_url");  // a bare string, as some relays send
}

// Finish reasons that mean "refused": OpenAI's word, and Gemini's own words passed through.
bool is_refusal(const std::string &finish, const std::string &native) {
  static const char *natives[] = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
                                  "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};
  if (finish == "content_filter") return true;
  for (const char *n : natives)
    if (native == n) return true;
  return false;
}

class OpenAIChat final : public Provider {
public:
  std::string_view name() const override { return "openai-chat"; }
  std::string_view display_name() const override { return "Chat relay"; }
  std::string_view default_base_url() const override { return "https://openrouter.ai/api/v1"; }
  std::vector<std::string> key_env_vars() const override { return {"GENFILL_CHAT_API_KEY", "OPENROUTER_API_KEY"}; }

  HttpRequest build(const Request &req, const std::string &api_key) const override {
    if (req.n != 1)  // one picture per answer: the job sends one request per picture
      throw Error(ErrorCode::InvalidInput, _("The relay makes one picture per request."), "n=" + std::to_string(req.n));
    const bool masked = req.mask && !req.images.empty();

    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_object(b.get());
    json::add(b.get(), "model", req.model);
    json_builder_set_member_name(b.get(), "messages");
    json_builder_begin_array(b.get());
    for (const Turn &turn : req.history) add_turn(b.get(), turn);
    json_builder_begin_object(b.get());
    json::add(b.get(), "role", std::string("user"));
    json_builder_set_member_name(b.get(), "content");
    json_builder_begin_array(b.get());
    // The text first, then the pictures: the picture to edit, its mask (so "the second image" is
    // the mask), then references.
    add_text_part(b.get(), masked ? req.prompt + kMaskInstruction : req.prompt);
    for (size_t i = 0; i < req.images.size(); ++i) {
      add_image_part(b.get(), upload_mime(req.images[i]), req.images[i].bytes);
      if (i == 0 && masked) add_image_part(b.get(), "image/png", mask_png(*req.mask));
    }
    json_builder_end_array(b.get());
    json_builder_end_object(b.get());
    json_builder_end_array(b.get());

    json_builder_set_member_name(b.get(), "modalities");
    json_builder_begin_array(b.get());
    json_builder_add_string_value(b.get(), "image");
    json_builder_add_string_value(b.get(), "text");
    json_builder_end_array(b.get());
    if (!req.aspect.empty() || !req.image_size.empty()) {
      json_builder_set_member_name(b.get(), "image_config");
      json_builder_begin_object(b.get());
      if (!req.aspect.empty()) json::add(b.get(), "aspect_ratio", req.aspect);
      // Gemini 3 behind the relay: the named size the catalog chose ("2K"), as the relay names it.
      if (!req.image_size.empty()) json::add(b.get(), "image_size", req.image_size);
      json_builder_end_object(b.get());
    }
    if (req.seed) json::add(b.get(), "seed", int64_t(*req.seed & 0x7fffffff));
    json_builder_end_object(b.get());

    HttpRequest http;
    http.url = req.base_url + "/chat/completions";
    http.headers = {{"Authorization", "Bearer " + api_key}};
    http.content_type = "application/json";
    http.body = json::to_string(b.get());
    return http;
  }

  Result parse(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::parse_object(resp.body, "The relay", resp.status);
    JsonObject *root = doc.object();
    if (json::object(root, "error")) throw status_error(resp);

    Result result;
    JsonObject *usage = json::object(root, "usage");
    result.usage.input_tokens = json::integer(usage, "prompt_tokens");
    result.usage.output_tokens = json::integer(usage, "completion_tokens");
    result.usage.total_tokens = json::integer(usage, "total_tokens");

    JsonObject *choice = json::element_object(json::array(root, "choices"), 0);
    if (!choice)
      throw Error(ErrorCode::BadResponse, _("The relay answered without a picture."), "no choices", resp.status);
    result.finish_reason = json::string(choice, "finish_reason");
    const std::string native = json::string(choice, "native_finish_reason");
    JsonObject *message = json::object(choice, "message");

    std::optional<EncodedImage> last;  // one picture per answer: the last, as for Gemini
    bool link = false;
    auto take = [&](JsonObject *item) {
      if (auto img = picture_from_url(image_url_of(item), &link)) last = std::move(img);
    };
    JsonArray *images = json::array(message, "images");
    for (guint i = 0; images && i < json_array_get_length(images); ++i) take(json::element_object(images, i));
    result.text = json::string(message, "content");
    if (JsonArray *parts = json::array(message, "content")) {  // content as parts (some relays)
      for (guint i = 0; i < json_array_get_length(parts); ++i) {
        JsonObject *part = json::element_object(parts, i);
        const std::string type = json::string(part, "type");
        if (type == "image_url") take(part);
        if (type == "text" && !json::string(part, "text").empty())
          result.text += (result.text.empty() ? "" : "\n") + json::string(part, "text");
      }
    }

    if (last) {
      if (!result.text.empty()) result.model_parts.push_back(TurnPart{result.text, std::nullopt, {}});
      result.model_parts.push_back(TurnPart{{}, *last, {}});
      result.images.push_back(std::move(*last));
      return result;
    }
    const std::string reason = native.empty() ? result.finish_reason : native;
    if (is_refusal(result.finish_reason, native)) {
      Error e(ErrorCode::Refused,
              format(_("The model refused through the relay (%s). Rephrase the prompt or choose another area."),
                     reason.c_str()),
              "finish_reason=" + result.finish_reason + " native=" + native, resp.status);
      if (!result.text.empty()) e.with_text(result.text);
      throw e;
    }
    if (link)
      throw Error(ErrorCode::BadResponse,
                  _("The relay answered with a link instead of the picture itself; genfill needs the picture in the "
                    "answer."),
                  "image_url is not a data URL", resp.status);
    if (!result.text.empty())
      throw Error(ErrorCode::TextOnly,
                  format(_("The model answered with text instead of a picture: %s"),
                         json::excerpt(result.text, 300).c_str()),
                  "finish_reason=" + result.finish_reason, resp.status)
          .with_text(result.text);
    throw Error(ErrorCode::BadResponse, _("The relay answered without a picture."),
                "finish_reason=" + result.finish_reason + " native=" + native, resp.status);
  }

  std::optional<HttpRequest> build_model_list(const std::string &base_url, const std::string &api_key,
                                              const std::string &) const override {
    // One page; OpenRouter lists only text models unless asked for others.
    return bearer_get(base_url + "/models?output_modalities=image", api_key);
  }

  // {"data": [{"id", "name", "architecture": {"output_modalities": ["image", "text"]}, ...}]}.
  ModelPage parse_model_list(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::parse_object(resp.body, "The relay", resp.status);
    if (json::object(doc.object(), "error")) throw status_error(resp);
    ModelPage page;
    JsonArray *data = json::array(doc.object(), "data");
    for (guint i = 0; data && i < json_array_get_length(data); ++i) {
      JsonObject *m = json::element_object(data, i);
      ServedModel served;
      served.id = json::string(m, "id");
      if (served.id.empty()) continue;
      served.display_name = json::string(m, "name");
      JsonArray *out = json::array(json::object(m, "architecture"), "output_modalities");
      // Relays that describe no modalities: judge by the id, as for OpenAI's own list.
      served.image = out ? has_word(out, "image") : served.id.find("image") != std::string::npos;
      served.shutdown = json::date(m, "expiration_date");
      page.models.push_back(std::move(served));
    }
    return page;
  }
};

}  // namespace

const Provider &openai_chat_provider() {
  static const OpenAIChat provider;
  return provider;
}

}  // namespace genfill
