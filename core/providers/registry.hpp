// Each provider file defines one accessor; the registry lists them in provider.cpp.
#pragma once

#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

namespace genfill {

const Provider &gemini_provider();
const Provider &openai_provider();
const Provider &imagen_provider();
const Provider &openai_chat_provider();

// Shared by providers: Retry-After / retry-after-ms / x-should-retry, and the status codes
// worth another try.
RetryAdvice http_retry_advice(const HttpResponse &resp);

// The MIME type to send a picture with: its own when it is PNG, JPEG or WebP, else what its
// bytes are. Throws Error{InvalidInput} for anything else (the services refuse other types).
std::string upload_mime(const EncodedImage &img);

// The statuses every service means the same way: 5xx (503 = overloaded), 413, other 4xx
// (with the server's own words), anything else = not understood. `service` is the name users
// know ("Gemini", "OpenAI").
Error common_status_error(const std::string &service, int status, const std::string &message, std::string detail);

}  // namespace genfill
