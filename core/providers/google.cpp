// What Google's APIs (Gemini, Imagen) share (see google.hpp). REFERENCE §1.10.
#include "core/providers/google.hpp"

#include <glib.h>

#include "core/providers/common.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

namespace {

// "models/gemini-9-image is not found for API version v1beta, ..." -> "gemini-9-image".
std::string model_in(const std::string &message) {
  size_t at = message.find("models/");
  if (at == std::string::npos) return {};
  at += 7;
  size_t end = at;
  while (end < message.size() && (g_ascii_isalnum(message[end]) || message[end] == '-' || message[end] == '.' ||
                                  message[end] == '_'))
    ++end;
  return message.substr(at, end - at);
}

}  // namespace

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

Error google_status_error(const HttpResponse &resp, const GoogleService &service) {
  const GoogleError g = read_google_error(resp);
  const json::RpcStatus &st = g.st;
  const int code = g.code;  // an error inside a 200 (a streamed chunk) carries its code in the body
  const std::string &message = g.message, &detail = g.detail;
  const char *name = service.name;

  if (st.reason == "API_KEY_INVALID" || code == 401)
    return Error(ErrorCode::BadKey,
                 format(_("%s rejected the API key. Check %s or the key stored in your keyring."), name,
                        "GEMINI_API_KEY"),
                 detail, code);
  if (service.own)
    if (std::optional<Error> own = service.own(g)) return std::move(*own);
  if (code == 403)
    return Error(ErrorCode::PermissionDenied,
                 format(_("%s refused access with this key: %s"), name,
                        message.empty() ? format(_("error %d"), code).c_str() : message.c_str()),
                 detail, code);
  if (code == 404) {
    // Google's answer for a model it does not serve (retired, misspelt, or not for this method)
    // names the model; any other 404 is an address that is not the service's.
    const std::string model = model_in(st.message);
    if (!model.empty())
      return Error(ErrorCode::ModelNotFound,
                   format(_("%s does not offer the model %s: it was retired, or the name is wrong."), name,
                          model.c_str()),
                   detail, code);
    return Error(ErrorCode::BadRequest,
                 format(_("%s found nothing at this address (error 404). Check the endpoint."), name), detail, code);
  }
  if (code == 429) {
    if (st.per_day_quota()) return Error(ErrorCode::QuotaExhausted, _(service.daily_quota), detail, code);
    return Error(ErrorCode::RateLimited,
                 format(_("%s is receiving too many requests from this key. Wait a minute and try again."), name),
                 detail, code);
  }
  return common_status_error(name, code, message, detail);
}

RetryAdvice google_retry_advice(const HttpResponse &resp) {
  RetryAdvice advice = http_retry_advice(resp);
  if (!advice.retry) return advice;
  const json::RpcStatus st = json::read_rpc_status(resp.body);
  if (st.per_day_quota()) return RetryAdvice{false, -1};
  if (advice.delay_s < 0) advice.delay_s = st.retry_delay_s;
  return advice;
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

ModelPage google_model_list(const HttpResponse &resp, const GoogleService &service,
                            bool (*image)(const ServedModel &, JsonArray *methods)) {
  if (resp.status < 200 || resp.status >= 300) throw google_status_error(resp, service);
  json::Doc doc = json::parse_object(resp.body, service.name, resp.status);
  if (json::object(doc.object(), "error")) throw google_status_error(resp, service);
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

}  // namespace genfill
