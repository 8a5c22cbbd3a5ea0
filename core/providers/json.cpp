#include "core/providers/json.hpp"

#include <glib.h>

#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

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
  if (t == G_TYPE_DOUBLE) return int64_t(json_node_get_double(n));
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

std::string to_string(JsonBuilder *b) {
  JsonNode *root = json_builder_get_root(b);
  GPtr<JsonGenerator> gen = adopt(json_generator_new());
  json_generator_set_root(gen.get(), root);
  gsize len = 0;
  GCharPtr text(json_generator_to_data(gen.get(), &len));
  json_node_unref(root);
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
  guchar *data = g_base64_decode(clean.c_str(), &len);
  std::vector<uint8_t> out(data, data + len);
  g_free(data);
  return out;
}

std::string excerpt(std::string_view text, size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace genfill::json
