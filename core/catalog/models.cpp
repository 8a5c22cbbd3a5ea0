// The model catalog: data/models.json (installed with genfill) and the user's own file, read
// with json-glib. Errors name the file and the line, and the entry and field they concern.
#include "core/util/i18n.hpp"
#include "core/catalog/models.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "core/util/day.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

namespace genfill {

namespace {

constexpr int kCatalogVersion = 1;
constexpr gsize kMaxCatalogBytes = 4u << 20;  // a catalog is a few kB; anything this large is a mistake

// ---------- where the catalog lives ----------

std::string exe_path() {
  GCharPtr exe(g_file_read_link("/proc/self/exe", nullptr));
  return exe ? exe.get() : "";
}

bool is_file(const std::string &path) { return !path.empty() && g_file_test(path.c_str(), G_FILE_TEST_IS_REGULAR); }

std::string in_dir(const std::string &dir, const char *a, const char *b = nullptr) {
  GCharPtr p(g_build_filename(dir.c_str(), a, b, nullptr));
  return p.get();
}

// A program run from the build tree reads the source tree's catalog, whatever is installed.
bool running_from_build_tree(const std::string &exe) {
#ifdef GENFILL_BUILD_ROOT
  const std::string root = GENFILL_BUILD_ROOT;
  return !root.empty() && exe.size() > root.size() && exe.compare(0, root.size(), root) == 0 && exe[root.size()] == '/';
#else
  (void)exe;
  return false;
#endif
}

// ---------- reading JSON with line numbers ----------

// json-glib knows lines only while parsing: each member's line is noted as it is read.
struct Lines {
  std::map<std::pair<const JsonObject *, std::string>, int> member;
  int of(const JsonObject *o, const std::string &name) const {
    auto it = member.find({o, name});
    return it == member.end() ? 0 : it->second;
  }
  // Where an object starts: the line of its first member.
  int start(JsonObject *o) const {
    int line = 0;
    GListPtr names(json_object_get_members(o));
    for (GList *n = names.get(); n; n = n->next) {
      int l = of(o, static_cast<const char *>(n->data));
      if (l > 0 && (line == 0 || l < line)) line = l;
    }
    return line;
  }
};

void note_member(JsonParser *parser, JsonObject *object, const char *name, gpointer data) {
  static_cast<Lines *>(data)->member[{object, name}] = int(json_parser_get_current_line(parser));
}

// "<data>:4:15: Parse error: unexpected character" -> line 4, column 15, "unexpected character".
void split_parse_error(const std::string &message, int *line, int *column, std::string *what) {
  *line = *column = 0;
  *what = message;
  const size_t at = message.find(">:");
  const char *rest = message.c_str() + (at == std::string::npos ? 0 : at + 2);
  int consumed = 0;
  if (std::sscanf(rest, "%d:%d: %n", line, column, &consumed) == 2 && consumed > 0) *what = rest + consumed;
  static const std::string kPrefix = "Parse error: ";
  if (what->compare(0, kPrefix.size(), kPrefix) == 0) what->erase(0, kPrefix.size());
}

// Reads one catalog entry, checking every field; errors say file, line, entry and field.
class EntryReader {
public:
  EntryReader(const std::string &file, const Lines &lines, JsonObject *o, int number)
      : file_(file), lines_(lines), o_(o), number_(number) {}

  ModelInfo read() {
    ModelInfo m;
    m.id = text("id");
    if (m.id.empty()) fail("id", _("expected text"));
    who_ = format(_("model \"%s\""), m.id.c_str());
    m.provider = text("provider");
    if (m.provider.empty()) fail("provider", _("expected text"));
    m.display_name = text("name");
    if (m.display_name.empty()) fail("name", _("expected text"));
    m.is_default = flag("default", false);
    m.legacy = flag("legacy", false);
    if (member("retired")) {
      m.retired = text("retired");
      if (!is_iso_day(m.retired)) fail("retired", _("expected a date such as \"2026-10-02\""));
    }
    if (member("replacement")) {
      m.replacement = text("replacement");
      if (m.replacement.empty() || m.replacement == m.id) fail("replacement", _("expected the id of another model"));
    }
    m.takes_mask = flag("mask");
    m.can_edit = flag("edit");
    m.max_input_images = whole("max_input_images", m.can_edit ? 1 : 0, 64);
    m.max_images_per_call = whole("images_per_call", 1, 10);
    m.thought_images = flag("thought_images", false);
    m.streams = flag("stream", false);
    m.partial_images = member("partial_images") ? whole("partial_images", 0, 3) : 0;
    m.input_fidelity = flag("input_fidelity", false);
    m.transparent = flag("transparent", false);
    const std::string size_param = text("size_param");
    if (size_param != "aspect" && size_param != "pixels") fail("size_param", _("expected \"aspect\" or \"pixels\""));
    m.exact_size = size_param == "pixels";
    m.aspects = aspects();
    m.image_sizes = image_sizes();
    if (member("default_image_size")) {
      m.default_image_size = text("default_image_size");
      if (std::none_of(m.image_sizes.begin(), m.image_sizes.end(),
                       [&](const ImageSize &s) { return s.name == m.default_image_size; }))
        fail("default_image_size", _("not one of its image_sizes"));
    } else if (!m.image_sizes.empty()) {
      auto one = std::find_if(m.image_sizes.begin(), m.image_sizes.end(), [](const ImageSize &s) { return s.scale == 1; });
      m.default_image_size = (one != m.image_sizes.end() ? *one : m.image_sizes.front()).name;
    }
    if (member("free_size")) {
      m.free_size = free_size();
      if (!m.exact_size) fail("free_size", _("free sizes need \"size_param\": \"pixels\""));
    }
    if (member("response_modalities")) {
      JsonArray *a = array("response_modalities");
      bool image = false;
      for (guint i = 0; i < json_array_get_length(a); ++i) {
        JsonNode *n = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING || !*json_node_get_string(n))
          fail("response_modalities", _("expected a list of words such as \"TEXT\" and \"IMAGE\""));
        m.response_modalities.push_back(json_node_get_string(n));
        image = image || m.response_modalities.back() == "IMAGE";
      }
      if (!image) fail("response_modalities", _("must include \"IMAGE\""));
    }
    if (member("qualities")) {
      JsonArray *a = array("qualities");
      for (guint i = 0; i < json_array_get_length(a); ++i) {
        JsonNode *n = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING || !*json_node_get_string(n))
          fail("qualities", _("expected a list of words such as \"low\" and \"high\""));
        m.qualities.push_back(json_node_get_string(n));
      }
    }
    if (member("prices")) m.prices = prices();
    // Fields this genfill does not know are mistakes (a typo would otherwise pass unnoticed);
    // names starting with "_" are comments.
    static const std::set<std::string> known = {
        "id", "provider", "name", "default", "legacy", "retired", "replacement", "mask", "edit", "max_input_images", "images_per_call",
        "thought_images", "stream", "partial_images", "input_fidelity", "transparent", "size_param", "aspects", "image_sizes",
        "default_image_size", "free_size", "response_modalities", "qualities", "prices"};
    GListPtr names(json_object_get_members(o_));
    std::string unknown;
    for (GList *n = names.get(); n && unknown.empty(); n = n->next) {
      const char *name = static_cast<const char *>(n->data);
      if (name[0] != '_' && !known.count(name)) unknown = name;
    }
    if (!unknown.empty())
      throw Error(ErrorCode::InvalidInput, format(_("%s, line %d: %s has an unknown field \"%s\"."), file_.c_str(),
                                                  line_of(unknown.c_str()), who_.c_str(), unknown.c_str()));
    return m;
  }

  int line() const { return lines_.start(o_); }
  const std::string &who() const { return who_; }

private:
  int line_of(const char *field) const {
    int l = lines_.of(o_, field);
    return l > 0 ? l : lines_.start(o_);
  }

  [[noreturn]] void missing(const char *field) const {
    throw Error(ErrorCode::InvalidInput, format(_("%s, line %d: %s has no \"%s\" field."), file_.c_str(),
                                                lines_.start(o_), who_.c_str(), field));
  }

  [[noreturn]] void fail(const char *field, const std::string &problem) const {
    throw Error(ErrorCode::InvalidInput, format(_("%s, line %d: %s, field \"%s\": %s"), file_.c_str(),
                                                line_of(field), who_.c_str(), field, problem.c_str()));
  }

  JsonNode *member(const char *field) const { return json_object_get_member(o_, field); }

  JsonNode *required(const char *field) const {
    JsonNode *n = member(field);
    if (!n) missing(field);
    return n;
  }

  std::string text(const char *field) const {
    JsonNode *n = required(field);
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) fail(field, _("expected text"));
    return json_node_get_string(n);
  }

  bool flag(const char *field, std::optional<bool> fallback = std::nullopt) const {
    JsonNode *n = member(field);
    if (!n && fallback) return *fallback;
    if (!n) missing(field);
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
      fail(field, _("expected true or false"));
    return json_node_get_boolean(n);
  }

  static bool whole_value(JsonNode *n, int64_t *v) {
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64) return false;
    *v = json_node_get_int(n);
    return true;
  }

  static bool number_value(JsonNode *n, double *v) {
    if (!n || !JSON_NODE_HOLDS_VALUE(n)) return false;
    const GType t = json_node_get_value_type(n);
    if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) return false;
    *v = json_node_get_double(n);
    return std::isfinite(*v);
  }

  int whole(const char *field, int lo, int hi) const {
    int64_t v = 0;
    if (!whole_value(required(field), &v) || v < lo || v > hi)
      fail(field, format(_("expected a whole number from %d to %d"), lo, hi));
    return int(v);
  }

  JsonArray *array(const char *field) const {
    JsonNode *n = required(field);
    if (!JSON_NODE_HOLDS_ARRAY(n) || json_array_get_length(json_node_get_array(n)) == 0)
      fail(field, _("expected a list that is not empty"));
    return json_node_get_array(n);
  }

  // "16:9" (sep ':') or "1024x768" (sep 'x'): two positive whole numbers and nothing else.
  static bool parse_pair(const char *s, char sep, int *a, int *b) {
    const char *mid = std::strchr(s, sep);
    if (!mid) return false;
    auto number = [](const char *from, const char *to, int *out) {
      if (from == to || to - from > 6) return false;
      int v = 0;
      for (const char *c = from; c < to; ++c) {
        if (!g_ascii_isdigit(*c)) return false;
        v = v * 10 + (*c - '0');
      }
      *out = v;
      return true;
    };
    return number(s, mid, a) && number(mid + 1, mid + std::strlen(mid), b);
  }

  std::vector<Aspect> aspects() const {
    JsonArray *a = array("aspects");
    std::vector<Aspect> out;
    for (guint i = 0; i < json_array_get_length(a); ++i) {
      JsonNode *n = json_array_get_element(a, i);
      JsonObject *e = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : nullptr;
      JsonNode *ratio = e ? json_object_get_member(e, "ratio") : nullptr;
      JsonNode *size = e ? json_object_get_member(e, "size") : nullptr;
      auto str = [](JsonNode *v) {
        return v && JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING ? json_node_get_string(v)
                                                                                              : nullptr;
      };
      if (!str(ratio) || !str(size))
        fail("aspects", _("expected a list of {\"ratio\": \"W:H\", \"size\": \"WxH\"}"));
      Aspect asp;
      if (!parse_pair(str(ratio), ':', &asp.w, &asp.h) || asp.w < 1 || asp.h < 1 || asp.w > 100 || asp.h > 100)
        fail("aspects", format(_("\"%s\" is not a ratio such as \"16:9\""), str(ratio)));
      if (!parse_pair(str(size), 'x', &asp.out_w, &asp.out_h) || asp.out_w < 1 || asp.out_h < 1 || asp.out_w > 16384 ||
          asp.out_h > 16384)
        fail("aspects", format(_("\"%s\" is not a size such as \"1024x768\""), str(size)));
      out.push_back(asp);
    }
    return out;
  }

  // {"usd_per_million": {"text_in": .., "image_in": .., "text_out": .., "image_out": ..},
  //  "image_in_tokens": N, "image_out_tokens": {"1K": N, ...}, "as_of": "YYYY-MM-DD", "source": ".."}
  Prices prices() const {
    JsonNode *n = member("prices");
    JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : nullptr;
    const char *shape = N_("expected {\"usd_per_million\": {\"text_in\", \"image_in\", \"text_out\", \"image_out\"}, "
                           "\"image_in_tokens\", \"image_out_tokens\": {\"NAME\": tokens}, \"as_of\", \"source\"}");
    if (!o) fail("prices", _(shape));
    Prices p;
    JsonNode *rates = json_object_get_member(o, "usd_per_million");
    JsonObject *r = rates && JSON_NODE_HOLDS_OBJECT(rates) ? json_node_get_object(rates) : nullptr;
    if (!r) fail("prices", _(shape));
    const std::pair<const char *, double *> kinds[] = {
        {"text_in", &p.text_in}, {"image_in", &p.image_in}, {"text_out", &p.text_out}, {"image_out", &p.image_out}};
    for (const auto &[kind, into] : kinds)
      if (!number_value(json_object_get_member(r, kind), into) || *into < 0 || *into > 10000)
        fail("prices", format(_("usd_per_million.%s: expected a price from 0 to 10000"), kind));
    int64_t in_tokens = 0;
    if (!whole_value(json_object_get_member(o, "image_in_tokens"), &in_tokens) || in_tokens < 0 || in_tokens > 1000000)
      fail("prices", _("image_in_tokens: expected a whole number from 0 to 1000000"));
    p.image_in_tokens = int(in_tokens);
    JsonNode *outs = json_object_get_member(o, "image_out_tokens");
    JsonObject *t = outs && JSON_NODE_HOLDS_OBJECT(outs) ? json_node_get_object(outs) : nullptr;
    if (!t || json_object_get_size(t) == 0) fail("prices", _(shape));
    GListPtr names(json_object_get_members(t));
    for (GList *k = names.get(); k; k = k->next) {
      const char *name = static_cast<const char *>(k->data);
      int64_t v = 0;
      if (!whole_value(json_object_get_member(t, name), &v) || v < 1 || v > 1000000)
        fail("prices", format(_("image_out_tokens.%s: expected a whole number from 1 to 1000000"), name));
      p.image_out_tokens.emplace_back(name, int(v));
    }
    auto str = [&](const char *name) {
      JsonNode *v = json_object_get_member(o, name);
      return v && JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING ? std::string(json_node_get_string(v))
                                                                                            : std::string();
    };
    p.as_of = str("as_of");
    if (!is_iso_day(p.as_of)) fail("prices", _("as_of: expected a date such as \"2026-10-02\""));
    p.source = str("source");
    if (p.source.empty()) fail("prices", _("source: expected where the prices were read"));
    return p;
  }

  std::vector<ImageSize> image_sizes() const {
    if (!member("image_sizes")) return {};
    JsonArray *a = array("image_sizes");
    std::vector<ImageSize> out;
    for (guint i = 0; i < json_array_get_length(a); ++i) {
      JsonNode *n = json_array_get_element(a, i);
      JsonObject *e = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : nullptr;
      JsonNode *name = e ? json_object_get_member(e, "name") : nullptr;
      double scale = 0;
      if (!name || !JSON_NODE_HOLDS_VALUE(name) || json_node_get_value_type(name) != G_TYPE_STRING ||
          !*json_node_get_string(name) || !number_value(e ? json_object_get_member(e, "scale") : nullptr, &scale) ||
          scale < 0.125 || scale > 16)
        fail("image_sizes", _("expected a list of {\"name\": \"2K\", \"scale\": 2} (scale 0.125 to 16)"));
      out.push_back(ImageSize{json_node_get_string(name), scale});
    }
    return out;
  }

  FreeSize free_size() const {
    JsonNode *n = member("free_size");
    if (!JSON_NODE_HOLDS_OBJECT(n)) fail("free_size", _("expected an object"));
    JsonObject *f = json_node_get_object(n);
    FreeSize s;
    auto whole_in = [&](const char *name, int64_t lo, int64_t hi, int64_t fallback) {
      JsonNode *v = json_object_get_member(f, name);
      if (!v) return fallback;
      int64_t x = 0;
      if (!whole_value(v, &x) || x < lo || x > hi)
        fail("free_size", format(_("\"%s\" must be a whole number from %s to %s"), name, std::to_string(lo).c_str(),
                                 std::to_string(hi).c_str()));
      return x;
    };
    s.multiple = int(whole_in("multiple", 1, 256, 16));
    s.max_side = int(whole_in("max_side", 0, 16384, 0));
    s.min_pixels = whole_in("min_pixels", 0, int64_t(1) << 28, 0);
    s.max_pixels = whole_in("max_pixels", 0, int64_t(1) << 28, 0);
    s.default_pixels = whole_in("default_pixels", 1, int64_t(1) << 28, 1048576);
    JsonNode *r = json_object_get_member(f, "max_ratio");
    if (r && (!number_value(r, &s.max_ratio) || s.max_ratio < 1 || s.max_ratio > 100))
      fail("free_size", _("\"max_ratio\" must be a number from 1 to 100"));
    if (s.max_pixels > 0 && s.min_pixels > s.max_pixels)
      fail("free_size", _("\"min_pixels\" is larger than \"max_pixels\""));
    GListPtr names(json_object_get_members(f));
    std::string unknown;
    for (GList *m = names.get(); m && unknown.empty(); m = m->next) {
      const std::string name = static_cast<const char *>(m->data);
      if (name[0] != '_' && name != "multiple" && name != "max_side" && name != "min_pixels" && name != "max_pixels" &&
          name != "default_pixels" && name != "max_ratio")
        unknown = name;
    }
    if (!unknown.empty()) fail("free_size", format(_("unknown field \"%s\""), unknown.c_str()));
    return s;
  }

  const std::string &file_;
  const Lines &lines_;
  JsonObject *o_;
  int number_;
  std::string who_ = format(_("entry %d"), number_);
};

// The one catalog of this process, read on first use.
std::mutex g_mu;
std::optional<std::vector<ModelInfo>> g_catalog;

// The catalog's top-level "date" (the day its facts were read): the day, "" when there is
// none, nullopt when there is one that is not a day.
std::optional<std::string> catalog_date(JsonObject *top) {
  JsonNode *d = json_object_get_member(top, "date");
  if (!d) return std::string();
  if (!JSON_NODE_HOLDS_VALUE(d) || json_node_get_value_type(d) != G_TYPE_STRING || !is_iso_day(json_node_get_string(d)))
    return std::nullopt;
  return std::string(json_node_get_string(d));
}

}  // namespace

std::vector<ModelInfo> parse_catalog(std::string_view text, const std::string &file) {
  // A mutable parser: the immutable one aborts on some malformed input (see core/providers/json.cpp).
  GPtr<JsonParser> parser = adopt(json_parser_new());
  Lines lines;
  g_signal_connect(parser.get(), "object-member", G_CALLBACK(note_member), &lines);
  GErrorOut err;
  if (!json_parser_load_from_data(parser.get(), text.data(), gssize(text.size()), err.out())) {
    int line = 0, column = 0;
    std::string what;
    split_parse_error(err.message(), &line, &column, &what);
    throw Error(ErrorCode::InvalidInput,
                format(_("The model list %s is not valid JSON: line %d, column %d: %s"), file.c_str(), line, column,
                       what.c_str()));
  }
  JsonNode *root = json_parser_get_root(parser.get());
  JsonObject *top = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : nullptr;
  JsonNode *models = top ? json_object_get_member(top, "models") : nullptr;
  if (!models || !JSON_NODE_HOLDS_ARRAY(models))
    throw Error(ErrorCode::InvalidInput,
                format(_("The model list %s must be a JSON object with a \"models\" list."), file.c_str()));
  if (!catalog_date(top))
    throw Error(ErrorCode::InvalidInput, format(_("%s, line %d: \"date\" must be a day such as \"2026-12-05\"."),
                                                file.c_str(), lines.of(top, "date")));
  if (JsonNode *v = json_object_get_member(top, "version")) {
    if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_INT64 ||
        json_node_get_int(v) != kCatalogVersion)
      throw Error(ErrorCode::InvalidInput,
                  format(_("%s, line %d: this genfill reads model lists of version %d."), file.c_str(),
                         lines.of(top, "version"), kCatalogVersion));
  }

  std::vector<ModelInfo> out;
  std::set<std::string> ids, defaults;
  JsonArray *list = json_node_get_array(models);
  for (guint i = 0; i < json_array_get_length(list); ++i) {
    JsonNode *n = json_array_get_element(list, i);
    if (!JSON_NODE_HOLDS_OBJECT(n))
      throw Error(ErrorCode::InvalidInput, format(_("%s, line %d: entry %d of \"models\" is not an object."),
                                                  file.c_str(), lines.of(top, "models"), int(i) + 1));
    EntryReader reader(file, lines, json_node_get_object(n), int(i) + 1);
    ModelInfo m = reader.read();
    if (!ids.insert(m.id).second)
      throw Error(ErrorCode::InvalidInput, format(_("%s, line %d: %s is listed twice."), file.c_str(), reader.line(),
                                                  reader.who().c_str()));
    if (m.is_default && !defaults.insert(m.provider).second)
      throw Error(ErrorCode::InvalidInput,
                  format(_("%s, line %d: %s is a second default model for \"%s\"."), file.c_str(), reader.line(),
                         reader.who().c_str(), m.provider.c_str()));
    out.push_back(std::move(m));
  }
  return out;
}

CatalogStamp shipped_catalog_stamp() {
  CatalogStamp stamp;
  try {
    stamp.path = catalog_files().shipped;
  } catch (const Error &) {
    return stamp;
  }
  gchar *data = nullptr;
  gsize len = 0;
  if (!g_file_get_contents(stamp.path.c_str(), &data, &len, nullptr)) return stamp;
  GCharPtr holder(data);
  GPtr<JsonParser> parser = adopt(json_parser_new());
  if (len > kMaxCatalogBytes || !json_parser_load_from_data(parser.get(), data, gssize(len), nullptr)) return stamp;
  JsonNode *root = json_parser_get_root(parser.get());
  if (root && JSON_NODE_HOLDS_OBJECT(root)) stamp.date = catalog_date(json_node_get_object(root)).value_or("");
  return stamp;
}

namespace {

std::vector<ModelInfo> read_catalog_file(const std::string &path) {
  gchar *data = nullptr;
  gsize len = 0;
  GErrorOut err;
  if (!g_file_get_contents(path.c_str(), &data, &len, err.out()))
    throw Error(ErrorCode::InvalidInput, format(_("Could not read the model list %s: %s"), path.c_str(),
                                                err.message().c_str()));
  GCharPtr holder(data);
  if (len > kMaxCatalogBytes)
    throw Error(ErrorCode::InvalidInput, format(_("The model list %s is too large to be one."), path.c_str()));
  return parse_catalog(std::string_view(data, len), path);
}

}  // namespace

std::vector<ModelInfo> load_catalog(const std::string &shipped, const std::string &user) {
  std::vector<ModelInfo> models = read_catalog_file(shipped);
  if (user.empty() || !g_file_test(user.c_str(), G_FILE_TEST_EXISTS)) return models;
  for (ModelInfo &m : read_catalog_file(user)) {
    if (m.is_default)  // the user's default wins over the shipped one
      for (ModelInfo &other : models)
        if (other.provider == m.provider) other.is_default = false;
    auto same = std::find_if(models.begin(), models.end(), [&](const ModelInfo &o) { return o.id == m.id; });
    if (same != models.end()) *same = std::move(m);
    else models.push_back(std::move(m));
  }
  return models;
}

CatalogFiles catalog_files() {
  CatalogFiles files;
  files.user = in_dir(g_get_user_config_dir(), "genfill", "models.json");
  if (const char *env = g_getenv("GENFILL_MODELS_FILE"); env && *env) {
    files.shipped = env;  // used as it is: a missing file is an error, not a silent fallback
    return files;
  }
  const std::string exe = exe_path();
  std::vector<std::string> candidates;
#ifdef GENFILL_SOURCE_MODELS
  if (running_from_build_tree(exe)) candidates.push_back(GENFILL_SOURCE_MODELS);
#endif
  // Beside the program: how a plug-in installed in the user's GIMP folder carries it.
  if (!exe.empty()) {
    GCharPtr dir(g_path_get_dirname(exe.c_str()));
    candidates.push_back(in_dir(dir.get(), "models.json"));
  }
#ifdef GENFILL_DATADIR
  candidates.push_back(in_dir(GENFILL_DATADIR, "genfill", "models.json"));
#endif
  for (const gchar *const *d = g_get_system_data_dirs(); d && *d; ++d)
    candidates.push_back(in_dir(*d, "genfill", "models.json"));
#ifdef GENFILL_SOURCE_MODELS
  candidates.push_back(GENFILL_SOURCE_MODELS);
#endif
  for (const std::string &c : candidates)
    if (is_file(c)) {
      files.shipped = c;
      return files;
    }
  std::string looked;
  for (const std::string &c : candidates) looked += "\n  " + c;
  throw Error(ErrorCode::InvalidInput,
              format(_("genfill's model list (models.json) is missing; it looked in:%s\nReinstall genfill or set "
                       "GENFILL_MODELS_FILE."),
                     looked.c_str()));
}

const std::vector<ModelInfo> &known_models() {
  std::lock_guard lock(g_mu);
  if (!g_catalog) {
    const CatalogFiles files = catalog_files();
    g_catalog = load_catalog(files.shipped, files.user);
  }
  return *g_catalog;
}

std::vector<ModelInfo> models_of(std::string_view provider) {
  std::vector<ModelInfo> out;
  for (const ModelInfo &m : known_models())
    if (m.provider == provider) out.push_back(m);
  return out;
}

std::string today_utc() {
  GPtr<GDateTime> now = adopt(g_date_time_new_now_utc());
  GCharPtr text(g_date_time_format(now.get(), "%Y-%m-%d"));
  return text ? text.get() : "";
}

bool is_retired(const ModelInfo &m, const std::string &today) {
  return !m.retired.empty() && m.retired <= today;  // ISO dates compare as text
}

std::string default_model_id(const std::vector<ModelInfo> &catalog, std::string_view provider,
                             const std::string &today) {
  const ModelInfo *first = nullptr;
  for (const ModelInfo &m : catalog) {
    if (m.provider != provider || is_retired(m, today)) continue;
    if (m.is_default) return m.id;
    if (!first) first = &m;
  }
  return first ? first->id : std::string();
}

std::string default_model_id(std::string_view provider, const std::string &today) {
  return default_model_id(known_models(), provider, today);
}

const ModelInfo *find_model(std::string_view provider, std::string_view model_id) {
  for (const ModelInfo &m : known_models())
    if (m.provider == provider && m.id == model_id) return &m;
  return nullptr;
}

ModelInfo model_info(std::string_view provider, std::string_view model_id) {
  if (const ModelInfo *m = find_model(provider, model_id)) return *m;
  // Unknown model: users try new models before genfill knows them; assume what the provider's
  // default takes (or, when all its models are retired, its first entry).
  std::string fallback = default_model_id(provider);
  for (const ModelInfo &m : known_models())
    if (fallback.empty() && m.provider == provider) fallback = m.id;
  if (fallback.empty())
    throw Error(ErrorCode::InvalidInput, format(_("Unknown provider \"%s\"."), std::string(provider).c_str()));
  ModelInfo m = *find_model(provider, fallback);
  m.id = std::string(model_id);
  m.display_name = std::string(model_id);
  m.is_default = false;
  m.retired.clear();
  m.replacement.clear();
  return m;
}

}  // namespace genfill
