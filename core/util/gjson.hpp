// genfill — json-glib ownership and output, shared by core and hosts: GPtr<JsonNode>, and a
// builder's document as text.
#pragma once

#include <string>

#include <json-glib/json-glib.h>

#include "core/util/gobj.hpp"

namespace genfill {

GENFILL_GREF_TYPE(JsonNode, json_node_ref, json_node_unref);
GENFILL_GREF_TYPE(JsonObject, json_object_ref, json_object_unref);
GENFILL_GREF_TYPE(JsonArray, json_array_ref, json_array_unref);

// The document `b` built, as JSON text (indented when `pretty`).
inline std::string json_text(JsonBuilder *b, bool pretty = false) {
  GPtr<JsonNode> root = adopt(json_builder_get_root(b));
  GPtr<JsonGenerator> gen = adopt(json_generator_new());
  json_generator_set_pretty(gen.get(), pretty);
  json_generator_set_root(gen.get(), root.get());
  GCharPtr text(json_generator_to_data(gen.get(), nullptr));
  return text ? text.get() : "";
}

}  // namespace genfill
