#include "core/providers/provider.hpp"

#include <functional>

#include <glib.h>

#include "core/providers/registry.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
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

HttpRequest google_model_list_request(const std::string &base_url, const std::string &api_key,
                                      const std::string &page_token) {
  HttpRequest http;
  http.method = "GET";
  // The largest page Google serves: one or two calls for the whole list.
  http.url = base_url + "/v1beta/models?pageSize=1000";
  if (!page_token.empty()) {
    GCharPtr token(g_uri_escape_string(page_token.c_str(), nullptr, FALSE));
    http.url += std::string("&pageToken=") + token.get();
  }
  http.headers = {{"x-goog-api-key", api_key}};  // never in the URL
  return http;
}

ModelPage google_model_list(const json::Doc &doc, const std::function<bool(const ServedModel &, JsonArray *)> &image) {
  ModelPage page;
  JsonObject *root = doc.object();
  JsonArray *models = json::array(root, "models");
  for (guint i = 0; models && i < json_array_get_length(models); ++i) {
    JsonObject *m = json::element_object(models, i);
    std::string id = json::string(m, "name");
    if (id.rfind("models/", 0) == 0) id.erase(0, 7);
    if (id.empty()) continue;
    ServedModel served;
    served.id = std::move(id);
    served.display_name = json::string(m, "displayName");
    served.image = image(served, json::array(m, "supportedGenerationMethods"));
    page.models.push_back(std::move(served));
  }
  page.next_page = json::string(root, "nextPageToken");
  return page;
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

GoogleError read_google_error(const HttpResponse &resp) {
  GoogleError e;
  e.st = json::read_rpc_status(resp.body);
  const json::RpcStatus &st = e.st;
  e.code = resp.status >= 200 && resp.status < 300 && st.code >= 400 ? st.code : resp.status;
  e.message = st.found ? json::excerpt(st.message) : json::plain_text_message(resp.body);
  e.detail = "HTTP " + std::to_string(resp.status) + (st.status.empty() ? "" : " " + st.status) +
             (st.reason.empty() ? "" : " " + st.reason) + ": " +
             (st.found ? json::excerpt(st.message) : json::excerpt(resp.body, 120));
  return e;
}

RetryAdvice google_retry_advice(const HttpResponse &resp) {
  RetryAdvice advice = http_retry_advice(resp);
  if (!advice.retry) return advice;
  const json::RpcStatus st = json::read_rpc_status(resp.body);
  if (st.per_day_quota()) return RetryAdvice{false, -1};
  if (advice.delay_s < 0) advice.delay_s = st.retry_delay_s;
  return advice;
}

std::string service_name(const Provider &p) {
  std::string name(p.display_name());
  if (name.rfind("Google ", 0) == 0) name.erase(0, 7);
  return name;
}

const std::vector<const Provider *> &all_providers() {
  // One line per provider, in the order users see them.
  static const std::vector<const Provider *> providers = {
      &gemini_provider(),
      &openai_provider(),
      &imagen_provider(),
      &openai_chat_provider(),
  };
  return providers;
}

const Provider *find_provider(std::string_view name) {
  for (const Provider *p : all_providers())
    if (p->name() == name) return p;
  return nullptr;
}

}  // namespace genfill
