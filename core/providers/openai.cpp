// OpenAI Images API (REFERENCE §3): {base}/images/generations (JSON) and {base}/images/edits
// (multipart), key as a Bearer token.
#include <algorithm>
#include <memory>

#include <glib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/common.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

namespace {

constexpr const char *kService = "OpenAI";

std::string size_param(const Request &req) {
  if (req.width <= 0 || req.height <= 0) return "auto";
  return std::to_string(req.width) + "x" + std::to_string(req.height);
}

std::string file_name(const std::string &mime, size_t index) {
  std::string ext = mime == "image/jpeg" ? "jpg" : mime == "image/webp" ? "webp" : "png";
  return (index == 0 ? std::string("image") : "reference-" + std::to_string(index)) + "." + ext;
}

// OpenAI's mask: an RGBA PNG of the image's size whose transparent pixels mark the area to
// change. Alpha is the inverse of genfill's coverage (alpha = 255 - coverage), so the selected
// area is fully transparent and a soft edge stays soft.
std::vector<uint8_t> openai_mask_png(const Mask &mask) {
  Image rgba(mask.width, mask.height);
  for (size_t i = 0; i < mask.values.size(); ++i) {
    uint8_t *p = &rgba.pixels[i * 4];
    p[0] = p[1] = p[2] = 0;
    p[3] = uint8_t(255 - mask.values[i]);
  }
  return encode_png(rgba, 3, PngAlpha::Always);  // OpenAI refuses a mask without alpha, even an opaque one
}

// OpenAI's error body: {"error": {message, type, param, code}} (REFERENCE §3.7).
struct ErrorBody {
  bool found = false;
  std::string message, type, code, stage;
};

ErrorBody read_error(const std::string &body) {
  ErrorBody e;
  json::Doc doc = json::try_parse(body);
  JsonObject *err = json::object(doc.object(), "error");
  if (!err) return e;
  e.found = true;
  e.message = json::string(err, "message");
  e.type = json::string(err, "type");
  e.code = json::string(err, "code");
  e.stage = json::string(json::object(err, "moderation_details"), "moderation_stage");
  return e;
}

// An error body (or a body that is not JSON at all, e.g. a proxy's page) -> Error.
Error status_error(const HttpResponse &resp) {
  const ErrorBody e = read_error(resp.body);
  const std::string message = e.found ? json::excerpt(e.message) : json::plain_text_message(resp.body);
  int status = resp.status;
  if (status >= 200 && status < 300)  // an error event inside a 200 stream: its code says what it is
    status = e.code == "invalid_api_key"                                         ? 401
             : e.code == "rate_limit_exceeded" || e.code == "insufficient_quota" ? 429
             : e.code == "model_not_found"                                       ? 404
             : e.code == "server_error" || e.type == "server_error"              ? 500
                                                                                 : status;
  const std::string detail = "HTTP " + std::to_string(resp.status) + (e.type.empty() ? "" : " " + e.type) +
                             (e.code.empty() ? "" : " " + e.code) + ": " +
                             (e.found ? json::excerpt(e.message) : json::excerpt(resp.body, 120));

  if (e.code == "moderation_blocked" || e.code == "content_policy_violation") {
    const std::string what = e.stage == "output" ? _("the picture it made was blocked by its safety system")
                                                 : _("the request was blocked by its safety system");
    return Error(ErrorCode::Refused,
                 format(_("%s refused: %s. Rephrase the prompt or choose another area."), kService, what.c_str()),
                 detail, status);
  }
  if (status == 401)
    return Error(ErrorCode::BadKey,
                 format(_("%s rejected the API key. Check %s or the key stored in your keyring."), kService,
                        "OPENAI_API_KEY"),
                 detail, status);
  if (status == 403) {
    // Organization verification comes with code null: its message is the only sign.
    if (e.message.find("verif") != std::string::npos)
      return Error(ErrorCode::PermissionDenied,
                   _("OpenAI requires your organization to be verified before it can use this model."), detail,
                   status);
    if (e.code == "unsupported_country_region_territory")
      return Error(ErrorCode::PermissionDenied, _("OpenAI is not available in your country or region."), detail,
                   status);
    return Error(ErrorCode::PermissionDenied,
                 format(_("%s refused access with this key: %s"), kService,
                        message.empty() ? format(_("error %d"), status).c_str() : message.c_str()),
                 detail, status);
  }
  if (status == 404) {
    // OpenAI names a model it does not serve with code model_not_found; any other 404 is an
    // address that is not OpenAI's Images API.
    if (e.code == "model_not_found" || (e.message.find("model") != std::string::npos && e.code.empty() &&
                                         e.message.find("does not exist") != std::string::npos))
      return Error(ErrorCode::ModelNotFound,
                   format(_("%s does not offer this model: it was retired, or the name is wrong. (%s)"), kService,
                          json::excerpt(message, 160).c_str()),
                   detail, status);
    return Error(ErrorCode::BadRequest,
                 format(_("%s found nothing at this address (error 404). Check the endpoint."), kService), detail,
                 status);
  }
  if (status == 429) {
    if (e.code == "insufficient_quota")
      return Error(ErrorCode::QuotaExhausted,
                   _("Your OpenAI account has no credit left. Check your plan and billing details."), detail, status);
    return Error(ErrorCode::RateLimited,
                 format(_("%s is receiving too many requests from this key. Wait a minute and try again."), kService),
                 detail, status);
  }
  return common_status_error(kService, status, message, detail);
}

// The type of a returned picture: from its bytes, else from the answer's output_format.
std::string answer_mime(const std::vector<uint8_t> &bytes, const std::string &output_format) {
  std::string mime = sniff_image_mime(bytes);
  if (mime.empty() && (output_format == "png" || output_format == "jpeg" || output_format == "webp"))
    mime = "image/" + output_format;
  return mime;
}

// "Earlier instructions ... 1. make it red 2. add a hat. Now: make it yellow".
Request with_history_folded(const Request &in) {
  Request out = in;
  out.history.clear();
  std::string earlier;
  int k = 0;
  for (const Turn &turn : in.history) {
    if (turn.role != "user") continue;
    for (const TurnPart &part : turn.parts)
      if (!part.image && !part.text.empty()) earlier += "\n" + std::to_string(++k) + ". " + part.text;
  }
  if (k > 0)
    out.prompt = "This picture is the result of earlier instructions, already carried out:" + earlier +
                 "\n\nNow, keeping those changes: " + in.prompt;
  return out;
}

// An Images API answer ({"data": [{"b64_json"}...], "usage", "output_format"}) -> Result.
Result parse_answer(JsonObject *root, int status) {
  Result result;
  JsonObject *usage = json::object(root, "usage");
  result.usage.input_tokens = json::integer(usage, "input_tokens");
  result.usage.output_tokens = json::integer(usage, "output_tokens");
  result.usage.total_tokens = json::integer(usage, "total_tokens");
  JsonObject *in = json::object(usage, "input_tokens_details");
  result.usage.input_text_tokens = json::integer(in, "text_tokens");
  result.usage.input_image_tokens = json::integer(in, "image_tokens");
  JsonObject *out = json::object(usage, "output_tokens_details");  // optional
  result.usage.output_text_tokens = json::integer(out, "text_tokens");
  result.usage.output_image_tokens = json::integer(out, "image_tokens");
  const std::string output_format = json::string(root, "output_format");
  JsonArray *data = json::array(root, "data");
  bool url_only = false;
  for (guint i = 0; data && i < json_array_get_length(data); ++i) {
    JsonObject *item = json::element_object(data, i);
    const std::string b64 = json::string(item, "b64_json");
    if (b64.empty()) {
      url_only = url_only || !json::string(item, "url").empty();
      continue;
    }
    EncodedImage img;
    img.bytes = json::base64_decode(b64, kService);
    img.mime = answer_mime(img.bytes, output_format);
    result.images.push_back(std::move(img));
    const std::string revised = json::string(item, "revised_prompt");  // dall-e-3 only
    if (!revised.empty()) result.text += (result.text.empty() ? "" : "\n") + revised;
  }
  if (result.images.empty()) {
    if (url_only)  // dall-e models answer with links unless asked otherwise; genfill never fetches them
      throw Error(ErrorCode::BadResponse,
                  _("The service answered with a link instead of the picture itself; genfill needs base64 answers "
                    "(GPT image models send them)."),
                  "data[].url only", status);
    throw Error(ErrorCode::BadResponse, format(_("%s answered without a picture."), kService), "no data[].b64_json",
                status);
  }
  result.finish_reason = "stop";
  return result;
}

// A streamed answer (stream=true, REFERENCE §3.6): events image_generation.partial_image /
// image_edit.partial_image (drafts), then ….completed with the picture and the usage, which
// parse_answer reads as the plain answer. The final picture may come before all partials: a
// partial after it is no draft. An error comes as an "error" event or data with an "error" key.
class OpenAIStream final : public StreamReader {
public:
  std::optional<EncodedImage> take(const SseEvent &event) override {
    if (!error_.empty() || completed_ || event.data == "[DONE]") return std::nullopt;
    json::Doc doc = json::try_parse(event.data);
    JsonObject *root = doc.object();
    if (!root) {
      unreadable_ = json::excerpt(event.data, 120);
      return std::nullopt;
    }
    if (json::object(root, "error")) {
      error_ = event.data;
      return std::nullopt;
    }
    if (event.type == "error") {  // the error object itself, as openai-node also reads it
      error_ = "{\"error\": " + event.data + "}";
      return std::nullopt;
    }
    const std::string type = json::string(root, "type", event.type);
    auto ends_with = [&type](const char *suffix) {
      const size_t n = std::char_traits<char>::length(suffix);
      return type.size() >= n && type.compare(type.size() - n, n, suffix) == 0;
    };
    if (ends_with(".completed")) {
      completed_ = true;
      answer_ = adopt(json_node_copy(doc.root()));
      return std::nullopt;
    }
    if (!ends_with(".partial_image")) return std::nullopt;
    try {
      EncodedImage img;
      img.bytes = json::base64_decode(json::string(root, "b64_json"), kService);
      img.mime = answer_mime(img.bytes, json::string(root, "output_format"));
      return img;
    } catch (const Error &) {  // a broken draft is no answer: skipped
      return std::nullopt;
    }
  }

  Result finish() override {
    if (!error_.empty()) throw status_error(HttpResponse{200, {}, error_});
    if (!unreadable_.empty())
      throw Error(ErrorCode::BadResponse,
                  format(_("%s sent a piece of its answer that genfill could not read. genfill did not ask again, "
                           "as the service may already have billed it."),
                         kService),
                  "stream event not JSON: " + unreadable_, 200);
    if (!completed_)
      throw Error(ErrorCode::BadResponse,
                  format(_("%s's answer ended before the finished picture. genfill did not ask again, as the "
                           "service may already have billed it."),
                         kService),
                  "stream without a completed event", 200);
    // The completed event as the plain answer holds it: {"data": [{"b64_json"}], "usage", "output_format"}.
    JsonObject *event = json_node_get_object(answer_.get());
    GPtr<JsonObject> root = adopt(json_object_new());
    JsonObject *item = json_object_new();
    json_object_set_string_member(item, "b64_json", json::string(event, "b64_json").c_str());
    JsonArray *data = json_array_new();
    json_array_add_object_element(data, item);
    json_object_set_array_member(root.get(), "data", data);
    for (const char *member : {"usage", "output_format", "size", "quality", "background"})
      if (JsonNode *n = json_object_get_member(event, member))
        json_object_set_member(root.get(), member, json_node_copy(n));
    Result result = parse_answer(root.get(), 200);
    // The completed event's usage has no output_tokens_details (openai-python 3.3.1,
    // ImageEditCompletedEvent); what an Images API call puts out is its picture.
    if (result.usage.output_tokens >= 0 && result.usage.output_image_tokens < 0) {
      result.usage.output_image_tokens = result.usage.output_tokens;
      result.usage.output_text_tokens = 0;
    }
    return result;
  }

private:
  bool completed_ = false;
  GPtr<JsonNode> answer_;
  std::string error_, unreadable_;
};

class OpenAI final : public Provider {
public:
  std::string_view name() const override { return "openai"; }
  std::string_view display_name() const override { return "OpenAI"; }
  std::string_view default_base_url() const override { return "https://api.openai.com/v1"; }
  std::vector<std::string> key_env_vars() const override { return {"OPENAI_API_KEY"}; }

  HttpRequest build(const Request &req_in, const std::string &api_key) const override {
    // OpenAI's image endpoints keep no conversation: the picture sent is already the previous
    // result, and the earlier instructions are folded into the prompt.
    Request folded;
    if (!req_in.history.empty()) folded = with_history_folded(req_in);
    const Request &req = req_in.history.empty() ? req_in : folded;
    if (req.n < 1 || req.n > 10)
      throw Error(ErrorCode::InvalidInput, _("OpenAI makes 1 to 10 pictures per request."), "n=" + std::to_string(req.n));
    // OpenAI takes no seed and no ratio: req.seed and req.aspect are left out.
    // Streamed only for one picture: the stream's events carry no picture's index.
    const bool stream = req.stream && req.n == 1;
    const int partials = std::clamp(req.partial_images, 0, 3);
    HttpRequest http;
    http.headers = {{"Authorization", "Bearer " + api_key}};
    if (req.images.empty()) {
      GPtr<JsonBuilder> b = adopt(json_builder_new());
      json_builder_begin_object(b.get());
      json::add(b.get(), "model", req.model);
      json::add(b.get(), "prompt", req.prompt);
      json::add(b.get(), "n", int64_t(req.n));
      json::add(b.get(), "size", size_param(req));
      if (!req.quality.empty()) json::add(b.get(), "quality", req.quality);
      if (req.transparent) {  // only PNG (or WebP) keeps the alpha channel
        json::add(b.get(), "background", std::string("transparent"));
        json::add(b.get(), "output_format", std::string("png"));
      }
      if (stream) {
        json_builder_set_member_name(b.get(), "stream");
        json_builder_add_boolean_value(b.get(), TRUE);
        json::add(b.get(), "partial_images", int64_t(partials));
      }
      json_builder_end_object(b.get());  // no response_format: GPT image models refuse it
      http.url = req.base_url + "/images/generations";
      http.content_type = "application/json";
      http.body = json::to_string(b.get());
      return http;
    }

    // Edits are multipart: one picture as "image", several as repeated "image[]", each a file
    // part with its real type (application/octet-stream is refused).
    http.url = req.base_url + "/images/edits";
    const bool several = req.images.size() > 1;
    for (size_t i = 0; i < req.images.size(); ++i) {
      const EncodedImage &img = req.images[i];
      const std::string mime = upload_mime(img);
      http.form.push_back(FormPart{several ? "image[]" : "image", std::string(img.bytes.begin(), img.bytes.end()),
                                   file_name(mime, i), mime});
    }
    if (req.mask) {
      std::vector<uint8_t> png = openai_mask_png(*req.mask);
      http.form.push_back(FormPart{"mask", std::string(png.begin(), png.end()), "mask.png", "image/png"});
    }
    http.form.push_back(FormPart{"model", req.model, "", ""});
    http.form.push_back(FormPart{"prompt", req.prompt, "", ""});
    http.form.push_back(FormPart{"n", std::to_string(req.n), "", ""});
    http.form.push_back(FormPart{"size", size_param(req), "", ""});
    if (!req.quality.empty()) http.form.push_back(FormPart{"quality", req.quality, "", ""});
    if (req.input_fidelity_high) http.form.push_back(FormPart{"input_fidelity", "high", "", ""});
    if (req.transparent) {
      http.form.push_back(FormPart{"background", "transparent", "", ""});
      http.form.push_back(FormPart{"output_format", "png", "", ""});
    }
    if (stream) {  // as the SDKs send them in a form: "true", "2"
      http.form.push_back(FormPart{"stream", "true", "", ""});
      http.form.push_back(FormPart{"partial_images", std::to_string(partials), "", ""});
    }
    return http;
  }

  Result parse(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::parse_object(resp.body, kService, resp.status);
    JsonObject *root = doc.object();
    if (json::object(root, "error")) throw status_error(resp);
    return parse_answer(root, resp.status);
  }

  std::unique_ptr<StreamReader> stream_reader() const override;

  // A model that does not stream names the parameter it refuses.
  bool refuses_streaming(const HttpResponse &resp) const override {
    if (resp.status != 400) return false;
    json::Doc doc = json::try_parse(resp.body);
    JsonObject *err = json::object(doc.object(), "error");
    const std::string param = json::string(err, "param");
    return param == "stream" || param == "partial_images";
  }

  std::optional<HttpRequest> build_model_list(const std::string &base_url, const std::string &api_key,
                                              const std::string &) const override {
    return bearer_get(base_url + "/models", api_key);  // one page: OpenAI answers the whole list at once
  }

  // {"object": "list", "data": [{"id", "object": "model", "created", "owned_by", "shutdown_date"?}]}.
  // Image models have "image" in their ids (gpt-image-…, chatgpt-image-latest).
  ModelPage parse_model_list(const HttpResponse &resp) const override {
    if (resp.status < 200 || resp.status >= 300) throw status_error(resp);
    json::Doc doc = json::parse_object(resp.body, kService, resp.status);
    if (json::object(doc.object(), "error")) throw status_error(resp);
    ModelPage page;
    JsonArray *data = json::array(doc.object(), "data");
    for (guint i = 0; data && i < json_array_get_length(data); ++i) {
      JsonObject *m = json::element_object(data, i);
      ServedModel served;
      served.id = json::string(m, "id");
      if (served.id.empty()) continue;
      served.image = served.id.find("image") != std::string::npos;
      served.shutdown = json::date(m, "shutdown_date");
      page.models.push_back(std::move(served));
    }
    return page;
  }

  RetryAdvice retry_advice(const HttpResponse &resp) const override {
    RetryAdvice advice = http_retry_advice(resp);
    if (advice.retry && read_error(resp.body).code == "insufficient_quota") return RetryAdvice{false, -1};  // billing
    return advice;
  }
};

}  // namespace

std::unique_ptr<StreamReader> OpenAI::stream_reader() const { return std::make_unique<OpenAIStream>(); }

const Provider &openai_provider() {
  static const OpenAI provider;
  return provider;
}

}  // namespace genfill
