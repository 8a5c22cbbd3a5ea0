#include "core/util/error.hpp"

namespace genfill {

const char *error_code_name(ErrorCode code) {
  switch (code) {
  case ErrorCode::InvalidInput: return "invalid-input";
  case ErrorCode::MissingKey: return "missing-key";
  case ErrorCode::BadKey: return "bad-key";
  case ErrorCode::PermissionDenied: return "permission-denied";
  case ErrorCode::RateLimited: return "rate-limited";
  case ErrorCode::QuotaExhausted: return "quota-exhausted";
  case ErrorCode::Refused: return "refused";
  case ErrorCode::BadRequest: return "bad-request";
  case ErrorCode::ModelNotFound: return "model-not-found";
  case ErrorCode::ServerError: return "server-error";
  case ErrorCode::Network: return "network";
  case ErrorCode::Timeout: return "timeout";
  case ErrorCode::Cancelled: return "cancelled";
  case ErrorCode::BadResponse: return "bad-response";
  case ErrorCode::TooLarge: return "too-large";
  case ErrorCode::TextOnly: return "text-only";
  case ErrorCode::OverBudget: return "over-budget";
  }
  return "unknown";
}

namespace {

// Where a web address written in free text ends: at a blank, a quote or an angle bracket.
bool ends_address(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '<' || c == '>' ||
         c == '`';
}

bool scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
         c == '.';
}

}  // namespace

std::string redact(std::string text, const std::string &secret) {
  if (secret.size() >= kMinSecret)
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 5))
      text.replace(at, secret.size(), "[key]");
  // Each "scheme://": credentials and query go; the rest of the address (host, port, path) stays.
  for (size_t at = text.find("://"); at != std::string::npos; at = text.find("://", at + 3)) {
    if (at == 0 || !scheme_char(text[at - 1])) continue;
    const size_t start = at + 3;
    size_t end = start;
    while (end < text.size() && !ends_address(text[end])) ++end;
    // The query (and fragment) begins at the first '?' or '#'; credentials end at the last '@'
    // before it (a password is not always escaped as it should be).
    size_t query = text.find_first_of("?#", start);
    if (query >= end) query = end;
    const size_t userinfo_end = text.rfind('@', query == 0 ? 0 : query - 1);
    if (userinfo_end != std::string::npos && userinfo_end >= start) {
      text.erase(start, userinfo_end + 1 - start);
      const size_t removed = userinfo_end + 1 - start;
      query -= removed;
      end -= removed;
    }
    if (query < end) text.erase(query, end - query);
  }
  return text;
}

Error redacted(const Error &e, const std::string &secret) {
  Error out(e.code(), redact(e.message(), secret), redact(e.detail(), secret), e.http_status());
  if (!e.text().empty()) out.with_text(redact(e.text(), secret));
  if (!e.replacement().empty()) out.with_replacement(e.replacement());  // an id from the catalog
  return out;
}

}  // namespace genfill
