// genfill — one error type for the whole core.
#pragma once

#include <stdexcept>
#include <string>

#include "core/util/text.hpp"

namespace genfill {

// What went wrong, in the terms a user acts on. Hosts branch on this, never on text.
enum class ErrorCode {
  InvalidInput,      // bad arguments or files given by the user
  MissingKey,        // no API key found
  BadKey,            // the service rejected the key
  PermissionDenied,  // key valid but not allowed (region, verification, suspended)
  RateLimited,       // too many requests right now (retryable later)
  QuotaExhausted,    // billing or daily quota used up (not retryable soon)
  Refused,           // prompt or image refused by the service's safety filters
  BadRequest,        // the service rejected the request for another reason
  ModelNotFound,     // unknown or retired model
  ServerError,       // the service failed (5xx)
  Network,           // could not connect, connection reset, TLS failure
  Timeout,           // no answer in time
  Cancelled,         // the user cancelled
  BadResponse,       // the answer could not be understood (malformed JSON, bad image, ...)
  TooLarge,          // the answer exceeded the size cap
  TextOnly,          // the model answered with text and no image; text() has it
  OverBudget,        // the run would take this month's spending over the user's budget (nothing sent)
};

const char *error_code_name(ErrorCode code);

class Error;

// `text` made safe to show or log: every web address in it loses its credentials (user:password@)
// and its query and fragment (?…, #…), either of which can carry a key; and `secret` (an API key),
// when given, is replaced wherever it appears by "[key]", so that a service echoing the key in
// its error answer never gets it printed. Secrets shorter than kMinSecret are not searched for:
// they would mangle ordinary words, and a real key is never that short.
constexpr size_t kMinSecret = 8;
std::string redact(std::string text, const std::string &secret = {});
// The same error (code, status) with its message, detail and text redacted.
Error redacted(const Error &e, const std::string &secret);

class Error : public std::runtime_error {
public:
  // message: one or two sentences for the user. detail: for logs (status, provider code);
  // never contains a secret. text: what the model said, when it said something. All three are
  // kept printable (see printable()): they often quote a service's own words.
  Error(ErrorCode code, std::string message, std::string detail = {}, int http_status = 0)
      : std::runtime_error(printable(message)), code_(code), detail_(printable(detail)), http_status_(http_status) {}

  ErrorCode code() const noexcept { return code_; }
  const char *message() const noexcept { return what(); }
  const std::string &detail() const noexcept { return detail_; }
  int http_status() const noexcept { return http_status_; }
  const std::string &text() const noexcept { return text_; }
  Error &with_text(std::string t) { text_ = printable(t); return *this; }
  // A way out the host can offer: the model of the same service to use instead (ModelNotFound).
  const std::string &replacement() const noexcept { return replacement_; }
  Error &with_replacement(std::string model_id) { replacement_ = printable(model_id); return *this; }

private:
  ErrorCode code_;
  std::string detail_;
  int http_status_;
  std::string text_;
  std::string replacement_;
};

}  // namespace genfill
