// genfill — what every provider file may use besides the interface: uploads, the statuses every
// service means the same way, model-list helpers. (Google's own: google.hpp.)
#pragma once

#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

namespace genfill {

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
