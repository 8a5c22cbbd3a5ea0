// Each provider file defines one accessor; the registry lists them in provider.cpp.
#pragma once

#include <functional>

#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

namespace genfill {

const Provider &gemini_provider();
const Provider &openai_provider();
const Provider &imagen_provider();
const Provider &openai_chat_provider();

// Shared by providers: the generic retry rules (http_retry_advice) are core/transport's.

// Google's APIs (Gemini, Imagen): a google.rpc.Status error body read once: the status (a body
// that is not JSON gives found = false), the code it means (an error inside a 200 carries its own),
// the service's words and a detail line for logs.
struct GoogleError {
  json::RpcStatus st;
  int code = 0;
  std::string message, detail;
};
GoogleError read_google_error(const HttpResponse &resp);
// Google's retry advice: the HTTP rules, no retry once the daily quota is spent, and the
// RetryInfo delay when there is no Retry-After.
RetryAdvice google_retry_advice(const HttpResponse &resp);

// Google's model list (Gemini, Imagen): GET {base}/v1beta/models, key in the header, paged by
// pageToken / nextPageToken. `image` tells from an entry (and its supportedGenerationMethods)
// whether it is a model of the provider's kind.
HttpRequest google_model_list_request(const std::string &base_url, const std::string &api_key,
                                      const std::string &page_token);
ModelPage google_model_list(const json::Doc &doc, const std::function<bool(const ServedModel &, JsonArray *)> &image);
// A GET with the key as a Bearer token (OpenAI's and the relays' model lists).
HttpRequest bearer_get(std::string url, const std::string &api_key);
// Whether a JSON array of strings holds `word`.
bool has_word(JsonArray *words, const char *word);

// The MIME type to send a picture with: its own when it is PNG, JPEG or WebP, else what its
// bytes are. Throws Error{InvalidInput} for anything else (the services refuse other types).
std::string upload_mime(const EncodedImage &img);

// The statuses every service means the same way: 5xx (503 = overloaded), 413, other 4xx
// (with the server's own words), anything else = not understood. `service` is the name users
// know ("Gemini", "OpenAI").
Error common_status_error(const std::string &service, int status, const std::string &message, std::string detail);

}  // namespace genfill
