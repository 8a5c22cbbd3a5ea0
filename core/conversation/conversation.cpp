#include "core/conversation/conversation.hpp"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "core/image/image.hpp"
#include "core/util/gjson.hpp"
#include "core/util/gobj.hpp"

namespace genfill {

namespace {

constexpr const char *kFile = "conversation.json";

const char *extension(const std::string &mime) {
  if (mime == "image/jpeg") return "jpg";
  if (mime == "image/webp") return "webp";
  return "png";
}

bool safe_file_name(const std::string &name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!g_ascii_isalnum(c) && c != '-' && c != '.') return false;
  return name[0] != '.';
}

std::string member_string(JsonObject *o, const char *name) {
  if (!o || !json_object_has_member(o, name)) return {};
  JsonNode *n = json_object_get_member(o, name);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) return {};
  return json_node_get_string(n);
}

// A member that is an array; nullptr when absent or of another type.
JsonArray *member_array(JsonObject *o, const char *name) {
  if (!o || !json_object_has_member(o, name)) return nullptr;
  JsonNode *n = json_object_get_member(o, name);
  return JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : nullptr;
}

}  // namespace

std::string new_conversation_id() {
  GCharPtr uuid(g_uuid_string_random());
  std::string id;
  for (const char *c = uuid.get(); *c; ++c)
    if (*c != '-') id += g_ascii_tolower(*c);
  return id;
}

bool valid_conversation_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!g_ascii_isxdigit(c) || g_ascii_isupper(c)) return false;
  return true;
}

std::string conversation_dir(const std::string &id) {
  GCharPtr dir(g_build_filename(g_get_user_cache_dir(), "genfill", "conversations", id.c_str(), nullptr));
  return dir.get();
}

std::string conversation_in_record(std::string_view record) {
  if (record.empty() || record.size() > (size_t(1) << 20)) return {};
  GPtr<JsonParser> parser = adopt(json_parser_new());
  if (!json_parser_load_from_data(parser.get(), record.data(), gssize(record.size()), nullptr)) return {};
  JsonNode *root = json_parser_get_root(parser.get());
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return {};
  std::string id = member_string(json_node_get_object(root), "conversation");
  return valid_conversation_id(id) ? id : std::string();
}

std::optional<Conversation> load_conversation(const std::string &id) {
  if (!valid_conversation_id(id)) return std::nullopt;
  const std::string dir = conversation_dir(id);
  GCharPtr path(g_build_filename(dir.c_str(), kFile, nullptr));
  GPtr<JsonParser> parser = adopt(json_parser_new());
  if (!json_parser_load_from_file(parser.get(), path.get(), nullptr)) return std::nullopt;
  JsonNode *root = json_parser_get_root(parser.get());
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return std::nullopt;
  JsonObject *o = json_node_get_object(root);
  Conversation c;
  c.id = id;
  c.provider = member_string(o, "provider");
  c.model = member_string(o, "model");
  JsonArray *turns = member_array(o, "turns");
  // What save_conversation writes never holds more; a longer list was not written by genfill.
  if (!turns || json_array_get_length(turns) > 2 * kMaxExchanges) return std::nullopt;
  for (guint i = 0; i < json_array_get_length(turns); ++i) {
    JsonNode *tn = json_array_get_element(turns, i);
    if (!JSON_NODE_HOLDS_OBJECT(tn)) return std::nullopt;
    JsonObject *to = json_node_get_object(tn);
    Turn turn;
    turn.role = member_string(to, "role") == "model" ? "model" : "user";
    JsonArray *parts = member_array(to, "parts");
    for (guint k = 0; parts && k < json_array_get_length(parts); ++k) {
      JsonNode *pn = json_array_get_element(parts, k);
      if (!JSON_NODE_HOLDS_OBJECT(pn)) return std::nullopt;
      JsonObject *po = json_node_get_object(pn);
      TurnPart part;
      part.text = member_string(po, "text");
      part.thought_signature = member_string(po, "thoughtSignature");
      const std::string file = member_string(po, "image");
      if (!file.empty()) {
        if (!safe_file_name(file)) return std::nullopt;
        GCharPtr fpath(g_build_filename(dir.c_str(), file.c_str(), nullptr));
        gchar *data = nullptr;
        gsize len = 0;
        if (!g_file_get_contents(fpath.get(), &data, &len, nullptr)) return std::nullopt;
        GCharPtr owned(data);
        EncodedImage img;
        img.bytes.assign(reinterpret_cast<uint8_t *>(data), reinterpret_cast<uint8_t *>(data) + len);
        img.mime = member_string(po, "mime");
        if (img.mime.empty()) img.mime = "image/png";
        part.image = std::move(img);
      }
      turn.parts.push_back(std::move(part));
    }
    c.turns.push_back(std::move(turn));
  }
  if (c.turns.empty()) return std::nullopt;
  return c;
}

bool save_conversation(const Conversation &c, std::string *why) {
  auto failed = [&](const std::string &what) {
    if (why) *why = what;
    return false;
  };
  if (!valid_conversation_id(c.id)) return failed("invalid conversation id");
  const std::string dir = conversation_dir(c.id);
  if (g_mkdir_with_parents(dir.c_str(), 0700) != 0) return failed("cannot create " + dir);

  // Old images go first: the turns are written afresh (at most 2 * kMaxExchanges of them).
  if (GDir *d = g_dir_open(dir.c_str(), 0, nullptr)) {
    while (const char *name = g_dir_read_name(d)) {
      if (g_strcmp0(name, kFile) == 0) continue;
      GCharPtr p(g_build_filename(dir.c_str(), name, nullptr));
      g_remove(p.get());
    }
    g_dir_close(d);
  }

  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  auto str = [&](const char *k, const std::string &v) {
    json_builder_set_member_name(b.get(), k);
    json_builder_add_string_value(b.get(), v.c_str());
  };
  json_builder_set_member_name(b.get(), "version");
  json_builder_add_int_value(b.get(), 1);
  str("provider", c.provider);
  str("model", c.model);
  json_builder_set_member_name(b.get(), "turns");
  json_builder_begin_array(b.get());
  for (size_t t = 0; t < c.turns.size(); ++t) {
    const Turn &turn = c.turns[t];
    json_builder_begin_object(b.get());
    str("role", turn.role);
    json_builder_set_member_name(b.get(), "parts");
    json_builder_begin_array(b.get());
    for (size_t k = 0; k < turn.parts.size(); ++k) {
      const TurnPart &part = turn.parts[k];
      json_builder_begin_object(b.get());
      if (part.image) {
        const std::string file =
            "turn" + std::to_string(t) + "-part" + std::to_string(k) + "." + extension(part.image->mime);
        GCharPtr p(g_build_filename(dir.c_str(), file.c_str(), nullptr));
        if (!g_file_set_contents(p.get(), reinterpret_cast<const gchar *>(part.image->bytes.data()),
                                 gssize(part.image->bytes.size()), nullptr))
          return failed("cannot write " + std::string(p.get()));
        str("image", file);
        str("mime", part.image->mime.empty() ? "image/png" : part.image->mime);
      } else {
        str("text", part.text);
      }
      if (!part.thought_signature.empty()) str("thoughtSignature", part.thought_signature);
      json_builder_end_object(b.get());
    }
    json_builder_end_array(b.get());
    json_builder_end_object(b.get());
  }
  json_builder_end_array(b.get());
  json_builder_end_object(b.get());
  GPtr<JsonNode> root = adopt(json_builder_get_root(b.get()));
  GCharPtr text(json_to_string(root.get(), TRUE));
  GCharPtr path(g_build_filename(dir.c_str(), kFile, nullptr));
  if (!g_file_set_contents(path.get(), text.get(), -1, nullptr)) return failed("cannot write " + std::string(path.get()));
  return true;
}

void add_exchange(Conversation &c, Turn user, Turn model) {
  c.turns.push_back(std::move(user));
  c.turns.push_back(std::move(model));
  while (c.turns.size() > 2 * kMaxExchanges) c.turns.erase(c.turns.begin(), c.turns.begin() + 2);
}

void prune_conversations(int days) {
  GCharPtr root(g_build_filename(g_get_user_cache_dir(), "genfill", "conversations", nullptr));
  GDir *d = g_dir_open(root.get(), 0, nullptr);
  if (!d) return;
  const gint64 cutoff = g_get_real_time() / G_USEC_PER_SEC - gint64(days) * 24 * 3600;
  std::vector<std::string> old;
  while (const char *name = g_dir_read_name(d)) {
    if (!valid_conversation_id(name)) continue;
    GCharPtr file(g_build_filename(root.get(), name, kFile, nullptr));
    GStatBuf st;
    if (g_stat(file.get(), &st) == 0 && gint64(st.st_mtime) >= cutoff) continue;
    old.push_back(name);
  }
  g_dir_close(d);
  for (const std::string &id : old) {
    const std::string dir = conversation_dir(id);
    if (GDir *cd = g_dir_open(dir.c_str(), 0, nullptr)) {
      while (const char *name = g_dir_read_name(cd)) {
        GCharPtr p(g_build_filename(dir.c_str(), name, nullptr));
        g_remove(p.get());
      }
      g_dir_close(cd);
    }
    g_rmdir(dir.c_str());
  }
}

std::string remember_exchange(std::optional<Conversation> c, const std::string &provider, const std::string &model,
                              Turn user, Turn model_turn, std::string *why) {
  if (!c) {
    c = Conversation{};
    c->id = new_conversation_id();
  }
  c->provider = provider;
  c->model = model;
  add_exchange(*c, std::move(user), std::move(model_turn));
  const bool saved = save_conversation(*c, why);
  prune_conversations();
  return saved ? c->id : std::string();
}

}  // namespace genfill
