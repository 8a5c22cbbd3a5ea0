// Shared helpers for providers: JSON over json-glib, strict base64, Google error bodies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <json-glib/json-glib.h>

#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

namespace genfill::json {

// Owns a parsed document.
class Doc {
public:
  Doc() = default;
  explicit Doc(JsonNode *root) : root_(root) {}
  Doc(Doc &&o) noexcept : root_(o.root_) { o.root_ = nullptr; }
  Doc &operator=(Doc &&o) noexcept { std::swap(root_, o.root_); return *this; }
  Doc(const Doc &) = delete;
  Doc &operator=(const Doc &) = delete;
  ~Doc() { if (root_) json_node_unref(root_); }
  JsonNode *root() const { return root_; }
  JsonObject *object() const { return root_ && JSON_NODE_HOLDS_OBJECT(root_) ? json_node_get_object(root_) : nullptr; }

private:
  JsonNode *root_ = nullptr;
};

// Parses text; nullopt-like empty Doc (root()==nullptr) when it is not JSON.
Doc try_parse(std::string_view text);

// Safe readers: wrong type or absent => fallback.
JsonObject *object(JsonObject *o, const char *name);
JsonArray *array(JsonObject *o, const char *name);
std::string string(JsonObject *o, const char *name, std::string fallback = {});
int64_t integer(JsonObject *o, const char *name, int64_t fallback = -1);
bool boolean(JsonObject *o, const char *name, bool fallback = false);
JsonObject *element_object(JsonArray *a, guint i);

// Serialises a builder's root.
std::string to_string(JsonBuilder *b);

// Standard base64 with padding; decode rejects anything else (whitespace and line breaks aside).
std::string base64_encode(const std::vector<uint8_t> &bytes);
std::vector<uint8_t> base64_decode(std::string_view text, const char *service);

// The part of an error body worth showing: at most `max` characters of one line.
std::string excerpt(std::string_view text, size_t max = 200);

}  // namespace genfill::json
