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
  }
  return "unknown";
}

}  // namespace genfill
