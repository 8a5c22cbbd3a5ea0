// genfill — what travels over HTTP: requests filled by providers and sent by core/transport,
// the answers it hands back, and the generic rules for trying again. No libsoup here: providers
// include this header for the types.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace genfill {

struct FormPart {             // one part of a multipart/form-data body
  std::string name;           // field name, e.g. "image", "image[]", "mask", "prompt"
  std::string value;          // text value, or the file's bytes when filename is set
  std::string filename;       // set for file parts
  std::string content_type;   // set for file parts, e.g. "image/png"
};

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // may hold the key: never log them
  std::string content_type;   // for `body`, e.g. "application/json"
  std::string body;           // used when `form` is empty
  std::vector<FormPart> form; // when non-empty the body is multipart/form-data built from these
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string header(std::string_view name) const;            // "" when absent
};

// What to do about a failed try.
struct RetryAdvice {
  bool retry = false;
  double delay_s = -1;  // server's hint (Retry-After, RetryInfo); <0 = use backoff
};

// The only statuses another try is ever made for: 408, 429, 500, 502, 503, 504. They are whole
// error answers, so nothing was made (or billed) yet. Never a 2xx: its picture may be billed.
bool retry_is_safe(int status);

// The generic rules: retry_is_safe's statuses, x-should-retry: false heeded, and the server's
// wait from retry-after-ms or Retry-After (seconds or an HTTP date). Providers refine it.
RetryAdvice http_retry_advice(const HttpResponse &resp);

}  // namespace genfill
