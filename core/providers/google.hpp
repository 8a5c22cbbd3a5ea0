// genfill — what Google's APIs (Gemini, Imagen) share: google.rpc.Status error bodies and what
// they mean, the retry refinements (daily quota, RetryInfo) and the model list.
#pragma once

#include <optional>
#include <string>

#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

namespace genfill {

// A google.rpc.Status error body read once: the status (a body that is not JSON gives found =
// false), the code it means (an error inside a 200 carries its own), the service's words and a
// detail line for logs.
struct GoogleError {
  json::RpcStatus st;
  int code = 0;
  std::string message, detail;
};
GoogleError read_google_error(const HttpResponse &resp);

// How one Google service words its errors.
struct GoogleService {
  const char *name;         // as users know it: "Gemini", "Imagen"
  const char *daily_quota;  // N_() message for a spent daily quota (translated when used)
  // The service's own reading, asked after a bad key and before everything else; nullptr or
  // nullopt = the shared reading.
  std::optional<Error> (*own)(const GoogleError &) = nullptr;
};

// A Google error answer (or a body that is not JSON at all) -> Error: a bad key, then the
// service's own reading, then access refused (403), a model it does not offer or an address
// that is not Google's (404), the daily quota or too many requests (429), and the statuses every
// service means the same way.
Error google_status_error(const HttpResponse &resp, const GoogleService &service);

// Google's retry advice: the HTTP rules, no retry once the daily quota is spent, and the
// RetryInfo delay when there is no Retry-After.
RetryAdvice google_retry_advice(const HttpResponse &resp);

// Google's model list: GET {base}/v1beta/models, key in the header, paged by pageToken /
// nextPageToken.
HttpRequest google_model_list_request(const std::string &base_url, const std::string &api_key,
                                      const std::string &page_token);
// One page of it; `image` tells from an entry (and its supportedGenerationMethods) whether it is
// a model of the service's kind. Throws the service's Error for an error answer.
ModelPage google_model_list(const HttpResponse &resp, const GoogleService &service,
                            bool (*image)(const ServedModel &, JsonArray *methods));

}  // namespace genfill
