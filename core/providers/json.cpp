#include "core/providers/json.hpp"

#include <glib.h>

#include "core/util/day.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"
#include "core/util/text.hpp"

namespace genfill::json {

Doc try_parse(std::string_view text) {
  // A mutable parser: the immutable one aborts on some malformed input (e.g. "{}{}"),
  // found by fuzz/fuzz_provider.cpp with json-glib 1.10.
  GPtr<JsonParser> parser = adopt(json_parser_new());
  GErrorOut err;
  if (!json_parser_load_from_data(parser.get(), text.data(), gssize(text.size()), err.out())) return Doc();
  JsonNode *root = json_parser_get_root(parser.get());
  return root ? Doc(json_node_copy(root)) : Doc();
}

Doc parse_object(std::string_view text, const char *service, int http_status) {
  Doc doc = try_parse(text);
  if (!doc.object())
    throw Error(ErrorCode::BadResponse, format(_("%s sent an answer genfill does not understand."), service),
                std::string(doc.root() ? "not a JSON object: " : "not JSON: ") + excerpt(text, 80), http_status);
  return doc;
}

JsonObject *object(JsonObject *o, const char *name) {
  if (!o) return nullptr;
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : nullptr;
}

JsonArray *array(JsonObject *o, const char *name) {
  if (!o) return nullptr;
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : nullptr;
}

std::string string(JsonObject *o, const char *name, std::string fallback) {
  if (!o) return fallback;
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) return fallback;
  return json_node_get_string(n);
}

int64_t integer(JsonObject *o, const char *name, int64_t fallback) {
  if (!o) return fallback;
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n)) return fallback;
  GType t = json_node_get_value_type(n);
  if (t == G_TYPE_INT64) return json_node_get_int(n);
  if (t == G_TYPE_DOUBLE) {
    double d = json_node_get_double(n);
    return d >= -9.2e18 && d <= 9.2e18 ? int64_t(d) : fallback;  // NaN and huge values: absent
  }
  if (t == G_TYPE_STRING) {  // int64 fields travel as strings in Google's JSON mapping
    char *end = nullptr;
    const char *s = json_node_get_string(n);
    gint64 v = g_ascii_strtoll(s, &end, 10);
    return end && end != s && *end == 0 ? v : fallback;
  }
  return fallback;
}

bool boolean(JsonObject *o, const char *name, bool fallback) {
  if (!o) return fallback;
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN) return fallback;
  return json_node_get_boolean(n);
}

JsonObject *element_object(JsonArray *a, guint i) {
  if (!a || i >= json_array_get_length(a)) return nullptr;
  JsonNode *n = json_array_get_element(a, i);
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : nullptr;
}

std::string date(JsonObject *o, const char *name) {
  JsonNode *n = o ? json_object_get_member(o, name) : nullptr;
  if (!n || !JSON_NODE_HOLDS_VALUE(n)) return {};
  if (json_node_get_value_type(n) == G_TYPE_INT64) {
    const int64_t t = json_node_get_int(n);
    if (t <= 0 || t > int64_t(253402300799)) return {};  // after 9999-12-31: not a day
    GPtr<GDateTime> when = adopt(g_date_time_new_from_unix_utc(t));
    if (!when) return {};
    GCharPtr text(g_date_time_format(when.get(), "%Y-%m-%d"));
    return text ? text.get() : "";
  }
  if (json_node_get_value_type(n) != G_TYPE_STRING) return {};
  const std::string s = json_node_get_string(n);
  if (s.size() > 10 && s[10] != 'T' && s[10] != ' ') return {};
  if (!is_iso_day(std::string_view(s).substr(0, 10))) return {};
  return s.substr(0, 10);
}

void add(JsonBuilder *b, const char *name, const std::string &value) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, value.c_str());
}

void add(JsonBuilder *b, const char *name, int64_t value) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, value);
}

std::string to_string(JsonBuilder *b) {
  GPtr<JsonNode> root = adopt(json_builder_get_root(b));
  GPtr<JsonGenerator> gen = adopt(json_generator_new());
  json_generator_set_root(gen.get(), root.get());
  gsize len = 0;
  GCharPtr text(json_generator_to_data(gen.get(), &len));
  return std::string(text.get(), len);
}

std::string base64_encode(const std::vector<uint8_t> &bytes) {
  GCharPtr text(g_base64_encode(bytes.data(), bytes.size()));
  return text.get();
}

std::vector<uint8_t> base64_decode(std::string_view text, const char *service) {
  // g_base64_decode skips invalid characters silently; validate first.
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '=';
    if (!ok)
      throw Error(ErrorCode::BadResponse, format(_("%s sent a picture that is damaged."), service),
                  "invalid base64 character");
    clean.push_back(c);
  }
  size_t pad = clean.find('=');
  bool bad = clean.empty() || clean.size() % 4 != 0 ||
             (pad != std::string::npos && (clean.size() - pad > 2 || clean.find_first_not_of('=', pad) != std::string::npos));
  if (bad)
    throw Error(ErrorCode::BadResponse, format(_("%s sent a picture that is damaged."), service),
                "invalid base64 length or padding");
  gsize len = 0;
  std::unique_ptr<guchar, GFreeDeleter> data(g_base64_decode(clean.c_str(), &len));
  return std::vector<uint8_t>(data.get(), data.get() + len);
}

namespace {

// Google API keys, OpenAI keys (even partly masked) and "api_key:<key>" as Google's
// CONSUMER_SUSPENDED message quotes it.
std::string redact_keys(std::string_view text) {
  static GRegex *keys = g_regex_new("AIza[0-9A-Za-z_\\-]{20,}|\\bsk-[0-9A-Za-z_\\-*]{6,}|(?<=api_key:)[^\\s'\"]+",
                                    G_REGEX_OPTIMIZE, GRegexMatchFlags(0), nullptr);
  std::string in(text);
  GCharPtr out(g_regex_replace_literal(keys, in.c_str(), gssize(in.size()), 0, "[hidden]", GRegexMatchFlags(0), nullptr));
  return out ? std::string(out.get()) : std::string();
}

}  // namespace

std::string excerpt(std::string_view text, size_t max) {
  // Valid UTF-8 without control characters first (a body may hold anything), then cut on a
  // character boundary.
  const std::string clean = redact_keys(printable(text));
  std::string out;
  size_t chars = 0;
  for (const char *p = clean.c_str(); *p; p = g_utf8_next_char(p)) {
    if (chars++ >= max) {
      out += "…";
      break;
    }
    const char *next = g_utf8_next_char(p);
    if (*p == '\n' || *p == '\r' || *p == '\t')
      out.push_back(' ');
    else
      out.append(p, size_t(next - p));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string plain_text_message(std::string_view body) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || body[start] == '<') return {};
  return excerpt(body.substr(start));
}

bool RpcStatus::per_day_quota() const {
  for (const std::string &id : quota_ids)
    if (id.find("PerDay") != std::string::npos) return true;
  return false;
}

RpcStatus read_rpc_status(std::string_view body) {
  RpcStatus st;
  Doc doc = try_parse(body);
  JsonObject *root = doc.object();
  if (!root && doc.root() && JSON_NODE_HOLDS_ARRAY(doc.root())) {
    JsonArray *a = json_node_get_array(doc.root());
    if (json_array_get_length(a) == 1) root = element_object(a, 0);
  }
  JsonObject *err = object(root, "error");
  if (!err) return st;
  st.found = true;
  int64_t code = integer(err, "code", 0);
  st.code = code >= 100 && code <= 599 ? int(code) : 0;
  st.status = string(err, "status");
  st.message = string(err, "message");
  JsonArray *details = array(err, "details");
  for (guint i = 0; details && i < json_array_get_length(details); ++i) {
    JsonObject *d = element_object(details, i);
    const std::string type = string(d, "@type");
    if (type.ends_with("google.rpc.ErrorInfo") && st.reason.empty()) {
      st.reason = string(d, "reason");
    } else if (type.ends_with("google.rpc.QuotaFailure")) {
      JsonArray *violations = array(d, "violations");
      for (guint k = 0; violations && k < json_array_get_length(violations); ++k) {
        std::string id = string(element_object(violations, k), "quotaId");
        if (!id.empty()) st.quota_ids.push_back(std::move(id));
      }
    } else if (type.ends_with("google.rpc.RetryInfo") && st.retry_delay_s < 0) {
      // A protobuf Duration in JSON: decimal seconds followed by "s".
      const std::string delay = string(d, "retryDelay");
      char *end = nullptr;
      double v = g_ascii_strtod(delay.c_str(), &end);
      if (end && end != delay.c_str() && end[0] == 's' && end[1] == 0 && v >= 0 && v < 1e9) st.retry_delay_s = v;
    }
  }
  return st;
}

}  // namespace genfill::json
