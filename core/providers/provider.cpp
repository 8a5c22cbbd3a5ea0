// The interface's defaults, and what every provider file shares (common.hpp).
#include "core/providers/provider.hpp"

#include <glib.h>

#include "core/providers/common.hpp"
#include "core/util/error.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

std::string upload_mime(const EncodedImage &img) {
  const std::string mime = img.mime.empty() ? sniff_image_mime(img.bytes) : img.mime;
  if (mime == "image/png" || mime == "image/jpeg" || mime == "image/webp") return mime;
  throw Error(ErrorCode::InvalidInput, _("Could not prepare the picture."),
              "unsupported upload type \"" + (mime.empty() ? std::string("unknown") : mime) + "\"");
}

Error common_status_error(const std::string &service, int status, const std::string &message, std::string detail) {
  if (status >= 500)
    return Error(ErrorCode::ServerError,
                 status == 503 ? format(_("%s is overloaded right now. Try again in a moment."), service.c_str())
                               : format(_("%s had a problem (error %d). Try again in a moment."), service.c_str(), status),
                 std::move(detail), status);
  if (status == 413)
    return Error(ErrorCode::BadRequest, format(_("The picture is too large for %s. Select a smaller area."), service.c_str()),
                 std::move(detail), status);
  if (status >= 400)
    return Error(ErrorCode::BadRequest,
                 format(_("%s rejected the request: %s"), service.c_str(),
                        message.empty() ? format(_("error %d"), status).c_str() : message.c_str()),
                 std::move(detail), status);
  return Error(ErrorCode::BadResponse, format(_("%s sent an answer genfill does not understand."), service.c_str()),
               std::move(detail),
               status);
}

RetryAdvice Provider::retry_advice(const HttpResponse &resp) const { return http_retry_advice(resp); }

std::optional<HttpRequest> Provider::build_model_list(const std::string &, const std::string &,
                                                      const std::string &) const {
  return std::nullopt;
}

ModelPage Provider::parse_model_list(const HttpResponse &resp) const {
  throw Error(ErrorCode::BadResponse, format(_("%s sent an answer genfill does not understand."),
                                             std::string(display_name()).c_str()),
              "no model list for " + std::string(name()), resp.status);
}

std::optional<HttpRequest> Provider::build_batch(const std::string &, const std::string &,
                                                 const std::vector<std::pair<std::string, HttpRequest>> &,
                                                 const std::string &, const std::string &) const {
  return std::nullopt;
}

std::optional<HttpRequest> Provider::build_batch_get(const std::string &, const std::string &,
                                                     const std::string &) const {
  return std::nullopt;
}

BatchJob Provider::parse_batch(const HttpResponse &resp) const {
  throw Error(ErrorCode::BadResponse, format(_("%s sent an answer genfill does not understand."),
                                             std::string(display_name()).c_str()),
              "no batch mode for " + std::string(name()), resp.status);
}

HttpRequest bearer_get(std::string url, const std::string &api_key) {
  HttpRequest http;
  http.method = "GET";
  http.url = std::move(url);
  http.headers = {{"Authorization", "Bearer " + api_key}};
  return http;
}

bool has_word(JsonArray *words, const char *word) {
  for (guint i = 0; words && i < json_array_get_length(words); ++i) {
    JsonNode *n = json_array_get_element(words, i);
    if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING &&
        g_strcmp0(json_node_get_string(n), word) == 0)
      return true;
  }
  return false;
}

std::string service_name(const Provider &p) {
  std::string name(p.display_name());
  if (name.rfind("Google ", 0) == 0) name.erase(0, 7);
  return name;
}

}  // namespace genfill
