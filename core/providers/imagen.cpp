// Google Imagen, the legacy `:predict` format (REFERENCE §2), for the relays and legacy
// endpoints that still serve it: Google shut Imagen down on its own API in 2026.
// POST {base}/v1beta/models/{model}:predict, key in x-goog-api-key (never in the URL);
// {"instances":[{"prompt"}],"parameters":{"sampleCount","aspectRatio","includeRaiReason"}} ->
// {"predictions":[{"bytesBase64Encoded","mimeType"} | {"raiFilteredReason"}]}; errors are
// google.rpc.Status bodies as for Gemini (§1.10). Text to image only: no input pictures, no seed
// (the Gemini API mapper refuses seed and negativePrompt).
#include <glib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/common.hpp"
#include "core/providers/google.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

namespace {

constexpr const char *kService = "Imagen";
constexpr int kMaxSamples = 4;  // sampleCount 1..4

// What only Imagen says about an error: every id is gone since the shutdown; the rest is
// Google's shared reading.
std::optional<Error> own_error(const GoogleError &g) {
  if (g.code == 404)  // what Google answers for every Imagen id since the shutdown
    return Error(ErrorCode::ModelNotFound,
                 _("This service no longer offers this Imagen model: its owner retired it."), g.detail, g.code);
  return std::nullopt;
}

const GoogleService kGoogle{
    kService, N_("The daily Imagen quota of this key is used up. Try again tomorrow or use a paid key."), own_error};

// google.rpc.Status (or a body that is not JSON at all) -> Error.
Error status_error(const HttpResponse &resp) { return google_status_error(resp, kGoogle); }

class Imagen final : public Provider {
  // Imagen models in Google's list: ids "imagen-…", served by :predict.
  static bool is_imagen(const ServedModel &m, JsonArray *methods) {
    return m.id.rfind("imagen", 0) == 0 && has_word(methods, "predict");
  }

public:
  std::string_view name() const override { return "imagen"; }
  std::string_view display_name() const override { return "Google Imagen"; }
  std::string_view default_base_url() const override { return "https://generativelanguage.googleapis.com"; }
  std::vector<std::string> key_env_vars() const override { return {"GEMINI_API_KEY", "GOOGLE_API_KEY"}; }

  HttpRequest build(const Request &req, const std::string &api_key) const override {
    if (!req.images.empty() || req.mask)
      throw Error(ErrorCode::InvalidInput,
                  _("Imagen only creates new pictures from a prompt: it cannot edit a picture or take reference "
                    "pictures. Choose a Gemini image model to edit."),
                  "imagen: " + std::to_string(req.images.size()) + " input pictures");
    if (req.n < 1 || req.n > kMaxSamples)
      throw Error(ErrorCode::InvalidInput, _("Imagen makes 1 to 4 pictures per request."), "n=" + std::to_string(req.n));
    const std::string model = req.model.rfind("models/", 0) == 0 ? req.model.substr(7) : req.model;
    GCharPtr escaped(g_uri_escape_string(model.c_str(), "-._~", FALSE));

    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "instances");
    json_builder_begin_array(b.get());
    json_builder_begin_object(b.get());
    json::add(b.get(), "prompt", req.prompt);
    json_builder_end_object(b.get());
    json_builder_end_array(b.get());
    json_builder_set_member_name(b.get(), "parameters");
    json_builder_begin_object(b.get());
    json::add(b.get(), "sampleCount", int64_t(req.n));
    if (!req.aspect.empty()) json::add(b.get(), "aspectRatio", req.aspect);
    if (!req.image_size.empty()) json::add(b.get(), "sampleImageSize", req.image_size);  // Imagen 4: "1K", "2K"
    // A filtered picture then comes back as {"raiFilteredReason": ...} instead of silently
    // missing, so users learn why they got fewer pictures.
    json_builder_set_member_name(b.get(), "includeRaiReason");
    json_builder_add_boolean_value(b.get(), TRUE);
    json_builder_end_object(b.get());  // no seed: the Gemini API refuses it for Imagen
    json_builder_end_object(b.get());

    HttpRequest http;
    http.url = req.base_url + "/v1beta/models/" + escaped.get() + ":predict";
    http.headers = {{"x-goog-api-key", api_key}};  // never in the URL
    http.content_type = "application/json";
    http.body = json::to_string(b.get());
    return http;
  }

  Result parse(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::parse_object(resp.body, kService, resp.status);
    JsonObject *root = doc.object();
    if (json::object(root, "error")) throw status_error(resp);

    Result result;
    JsonArray *predictions = json::array(root, "predictions");
    int filtered = 0;
    std::string reason;
    for (guint i = 0; predictions && i < json_array_get_length(predictions); ++i) {
      JsonObject *p = json::element_object(predictions, i);
      const std::string b64 = json::string(p, "bytesBase64Encoded");
      if (b64.empty()) {
        const std::string why = json::string(p, "raiFilteredReason");
        if (!why.empty()) {
          ++filtered;
          if (reason.empty()) reason = why;
        }
        continue;
      }
      EncodedImage img;
      img.bytes = json::base64_decode(b64, kService);
      img.mime = sniff_image_mime(img.bytes);
      if (img.mime.empty()) img.mime = json::string(p, "mimeType");
      result.images.push_back(std::move(img));
    }
    if (result.images.empty()) {
      // Everything filtered: with includeRaiReason each picture says why; without it they are
      // dropped and the answer is {} (REFERENCE §2).
      throw Error(ErrorCode::Refused,
              reason.empty()
                  ? _("Imagen answered without a picture: its safety filters removed what it made. Rephrase the "
                      "prompt.")
                  : format(_("Imagen's safety filters removed every picture it made (%s). Rephrase the prompt."),
                           json::excerpt(reason, 300).c_str()),
              filtered ? "raiFilteredReason x" + std::to_string(filtered) : std::string("no predictions"),
              resp.status);
    }
    if (filtered > 0)
      result.text = format(g_dngettext(GETTEXT_PACKAGE, "Imagen's safety filters removed %d picture.",
                                       "Imagen's safety filters removed %d pictures.", gulong(filtered)),
                           filtered);
    result.finish_reason = filtered > 0 ? "filtered" : "stop";
    return result;
  }

  std::optional<HttpRequest> build_model_list(const std::string &base_url, const std::string &api_key,
                                              const std::string &page_token) const override {
    return google_model_list_request(base_url, api_key, page_token);
  }

  ModelPage parse_model_list(const HttpResponse &resp) const override {
    return google_model_list(resp, kGoogle, is_imagen);
  }

  // As for Gemini: RetryInfo.retryDelay, and no retry once a daily quota is used up.
  RetryAdvice retry_advice(const HttpResponse &resp) const override { return google_retry_advice(resp); }
};

}  // namespace

const Provider &imagen_provider() {
  static const Imagen provider;
  return provider;
}

}  // namespace genfill
