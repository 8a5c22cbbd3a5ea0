// Each provider file defines one accessor; the registry lists them in provider.cpp.
#pragma once

#include "core/providers/provider.hpp"

namespace genfill {

const Provider &gemini_provider();
const Provider &openai_provider();

// Shared by providers: Retry-After / retry-after-ms / x-should-retry, and the status codes
// worth another try.
RetryAdvice http_retry_advice(const HttpResponse &resp);

}  // namespace genfill
