// Shared helpers for providers: JSON over json-glib, strict base64, Google error bodies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <json-glib/json-glib.h>

#include "core/providers/provider.hpp"
#include "core/util/error.hpp"
#include "core/util/gjson.hpp"
#include "core/util/gobj.hpp"

namespace genfill::json {

// Owns a parsed document.
class Doc {
public:
  Doc() = default;
  explicit Doc(JsonNode *root) : root_(adopt(root)) {}
  Doc(Doc &&) noexcept = default;
  Doc &operator=(Doc &&) noexcept = default;
  Doc(const Doc &) = delete;
  Doc &operator=(const Doc &) = delete;
  JsonNode *root() const { return root_.get(); }
  JsonObject *object() const {
    return root_ && JSON_NODE_HOLDS_OBJECT(root_.get()) ? json_node_get_object(root_.get()) : nullptr;
  }

private:
  GPtr<JsonNode> root_;
};

// Parses text; an empty Doc (root()==nullptr) when it is not JSON.
Doc try_parse(std::string_view text);
// Parses an answer that must be one JSON object; throws Error{BadResponse} naming `service`
// ("Gemini", "OpenAI") when it is not.
Doc parse_object(std::string_view text, const char *service, int http_status = 0);

// Safe readers: wrong type or absent => fallback.
JsonObject *object(JsonObject *o, const char *name);
JsonArray *array(JsonObject *o, const char *name);
std::string string(JsonObject *o, const char *name, std::string fallback = {});
int64_t integer(JsonObject *o, const char *name, int64_t fallback = -1);
bool boolean(JsonObject *o, const char *name, bool fallback = false);
JsonObject *element_object(JsonArray *a, guint i);
// A day as "YYYY-MM-DD", from a date or date-time text ("2026-12-01", "2026-12-01T00:00:00Z")
// or a Unix time in seconds; "" when absent, null or not a day.
std::string date(JsonObject *o, const char *name);

// Builder shorthands: one member of the object being built.
void add(JsonBuilder *b, const char *name, const std::string &value);
void add(JsonBuilder *b, const char *name, int64_t value);
// Serialises a builder's root.
std::string to_string(JsonBuilder *b);

// Standard base64 with padding; decode rejects anything else (whitespace and line breaks aside).
std::string base64_encode(const std::vector<uint8_t> &bytes);
std::vector<uint8_t> base64_decode(std::string_view text, const char *service);

// The part of an error body worth showing: at most `max` characters of one line, with
// anything that looks like an API key replaced by "[hidden]" (some services quote the key).
std::string excerpt(std::string_view text, size_t max = 200);
// What a body that is not JSON may tell a user: one line of plain text, or "" when it is
// markup (a proxy's HTML page) or empty.
std::string plain_text_message(std::string_view body);

// A google.rpc.Status error body: {"error": {code, message, status, details[]}}, also when
// wrapped in a one-element array (streaming without SSE).
struct RpcStatus {
  bool found = false;                  // the body held an "error" object
  int code = 0;                        // error.code (0 when absent)
  std::string status;                  // e.g. "RESOURCE_EXHAUSTED"
  std::string message;                 // error.message as sent
  std::string reason;                  // the first google.rpc.ErrorInfo reason
  std::vector<std::string> quota_ids;  // google.rpc.QuotaFailure violations[].quotaId
  double retry_delay_s = -1;           // google.rpc.RetryInfo retryDelay ("37s", "0.5s"); <0 = none
  bool per_day_quota() const;          // a violated quota counts per day: waiting a little won't help
};
RpcStatus read_rpc_status(std::string_view body);

}  // namespace genfill::json
