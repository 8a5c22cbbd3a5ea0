// Which models a service serves today: its list (live or cached) merged with the catalog.
#include "core/util/i18n.hpp"
#include "core/served/served.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "core/keys/keys.hpp"
#include "core/providers/json.hpp"
#include "core/util/day.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "core/util/text.hpp"

namespace genfill {

namespace {

constexpr int kMaxPages = 50;          // Google's pages hold up to 1000 models: a list never needs more
constexpr size_t kMaxModels = 20000;   // a list longer than this is not a model list
constexpr gsize kMaxCacheBytes = 8u << 20;

// ---------- the cache ----------

struct Cached {
  int64_t fetched = 0;
  std::vector<ServedModel> models;
};

std::optional<Cached> read_cache(const std::string &path, std::string_view provider, const std::string &base_url) {
  gchar *data = nullptr;
  gsize len = 0;
  if (!g_file_get_contents(path.c_str(), &data, &len, nullptr)) return std::nullopt;
  GCharPtr holder(data);
  if (len > kMaxCacheBytes) return std::nullopt;
  json::Doc doc = json::try_parse(std::string_view(data, len));
  JsonObject *root = doc.object();
  // A file for another list (a hash collision, a hand edit) or a broken one is no cache.
  if (!root || json::string(root, "provider") != provider || json::string(root, "endpoint") != base_url)
    return std::nullopt;
  Cached c;
  c.fetched = json::integer(root, "fetched", 0);
  if (c.fetched <= 0) return std::nullopt;
  JsonArray *models = json::array(root, "models");
  for (guint i = 0; models && i < json_array_get_length(models) && c.models.size() < kMaxModels; ++i) {
    JsonObject *m = json::element_object(models, i);
    ServedModel s;
    s.id = json::string(m, "id");
    if (s.id.empty() || printable(s.id) != s.id) continue;
    s.display_name = printable(json::string(m, "name"));
    s.image = json::boolean(m, "image");
    s.shutdown = json::string(m, "shutdown");
    if (!s.shutdown.empty() && !is_iso_day(s.shutdown)) s.shutdown.clear();
    c.models.push_back(std::move(s));
  }
  return c;
}

// Written whole or not at all (g_file_set_contents renames a complete file into place). A
// cache that cannot be written is only a slower next time.
void write_cache(const std::string &path, std::string_view provider, const std::string &base_url,
                 const Cached &c) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  json::add(b.get(), "provider", std::string(provider));
  json::add(b.get(), "endpoint", base_url);
  json::add(b.get(), "fetched", c.fetched);
  json_builder_set_member_name(b.get(), "models");
  json_builder_begin_array(b.get());
  for (const ServedModel &m : c.models) {
    json_builder_begin_object(b.get());
    json::add(b.get(), "id", m.id);
    if (!m.display_name.empty()) json::add(b.get(), "name", m.display_name);
    json_builder_set_member_name(b.get(), "image");
    json_builder_add_boolean_value(b.get(), m.image);
    if (!m.shutdown.empty()) json::add(b.get(), "shutdown", m.shutdown);
    json_builder_end_object(b.get());
  }
  json_builder_end_array(b.get());
  json_builder_end_object(b.get());
  const std::string text = json::to_string(b.get());
  GCharPtr dir(g_path_get_dirname(path.c_str()));
  if (g_mkdir_with_parents(dir.get(), 0700) != 0) {
    g_debug("model list not cached: cannot create %s", dir.get());
    return;
  }
  GErrorOut err;
  if (!g_file_set_contents_full(path.c_str(), text.data(), gssize(text.size()),
                                GFileSetContentsFlags(G_FILE_SET_CONTENTS_CONSISTENT), 0600, err.out()))
    g_debug("model list not cached: %s", err.message().c_str());
}

// ---------- asking the service ----------

std::vector<ServedModel> fetch_list(const Provider &p, const std::string &base_url, const std::string &key,
                                    const TransportOptions &transport_options, GCancellable *cancel) {
  Transport transport(transport_options);
  std::vector<ServedModel> all;
  std::set<std::string> tokens_seen;
  std::string token;
  for (int page = 0;; ++page) {
    if (page == kMaxPages)
      throw Error(ErrorCode::BadResponse,
                  format(_("%s's model list did not come to an end."), service_name(p).c_str()),
                  "more than " + std::to_string(kMaxPages) + " pages");
    std::optional<HttpRequest> req = p.build_model_list(base_url, key, token);
    if (!req) break;
    auto outcomes = transport.send_all({*req}, [&p](const HttpResponse &r) { return p.retry_advice(r); }, cancel);
    if (cancel && g_cancellable_is_cancelled(cancel)) throw Error(ErrorCode::Cancelled, _("Cancelled."));
    Outcome &o = outcomes.front();
    ModelPage got;
    try {
      if (o.error) throw *o.error;
      got = p.parse_model_list(*o.response);
    } catch (const Error &e) {
      throw redacted(e, key);  // a service may echo the key in its error answer
    }
    for (ServedModel &m : got.models) {
      // Ids and names are printed: an id with control characters is no model to ask for.
      if (printable(m.id) != m.id) continue;
      m.display_name = printable(m.display_name);
      if (all.size() < kMaxModels) all.push_back(std::move(m));
    }
    if (got.next_page.empty()) break;
    if (!tokens_seen.insert(got.next_page).second)  // a page token seen before: the list goes round
      throw Error(ErrorCode::BadResponse,
                  format(_("%s's model list did not come to an end."), service_name(p).c_str()),
                  "page token repeated");
    token = std::move(got.next_page);
  }
  return all;
}

}  // namespace

const char *model_status_name(ModelStatus status) {
  switch (status) {
  case ModelStatus::Available: return "available";
  case ModelStatus::New: return "new";
  case ModelStatus::Unlisted: return "unlisted";
  case ModelStatus::Retired: return "retired";
  case ModelStatus::Unchecked: return "unchecked";
  }
  return "unchecked";
}

const char *list_source_name(ListSource source) {
  switch (source) {
  case ListSource::Live: return "live";
  case ListSource::Cache: return "cache";
  case ListSource::Catalog: return "catalog";
  }
  return "catalog";
}

std::vector<ListedModel> merge_models(std::string_view provider, const std::vector<ModelInfo> &catalog,
                                      const std::vector<ServedModel> *served, const std::string &today) {
  auto served_entry = [&](const std::string &id) -> const ServedModel * {
    if (!served) return nullptr;
    for (const ServedModel &m : *served)
      if (m.id == id) return &m;
    return nullptr;
  };
  const std::string default_id = default_model_id(catalog, provider, today);
  std::vector<ListedModel> out;
  std::set<std::string> listed;
  for (const ModelInfo &m : catalog) {
    if (m.provider != provider) continue;
    ListedModel l;
    l.id = m.id;
    l.provider = m.provider;
    l.name = m.display_name;
    l.replacement = m.replacement;
    l.shutdown = m.retired;
    const ServedModel *s = served_entry(m.id);
    if (s && !s->shutdown.empty()) l.shutdown = s->shutdown;  // the service's own word wins
    const bool past = !l.shutdown.empty() && l.shutdown <= today;
    if (s) l.status = past ? ModelStatus::Retired : ModelStatus::Available;
    else if (is_retired(m, today)) l.status = ModelStatus::Retired;
    else l.status = served ? ModelStatus::Unlisted : ModelStatus::Unchecked;
    l.is_default = m.id == default_id && l.usable();
    listed.insert(m.id);
    out.push_back(std::move(l));
  }
  for (const ServedModel &s : served ? *served : std::vector<ServedModel>{}) {
    if (!s.image || listed.count(s.id)) continue;
    ListedModel l;
    l.id = s.id;
    l.provider = std::string(provider);
    l.name = s.display_name.empty() ? s.id : s.display_name;
    l.shutdown = s.shutdown;
    l.status = !s.shutdown.empty() && s.shutdown <= today ? ModelStatus::Retired : ModelStatus::New;
    listed.insert(s.id);
    out.push_back(std::move(l));
  }
  return out;
}

std::string model_list_cache_path(std::string_view provider, const std::string &base_url) {
  GCharPtr hash(g_compute_checksum_for_string(G_CHECKSUM_SHA256, base_url.c_str(), -1));
  const std::string name = std::string(provider) + "-" + std::string(hash.get()).substr(0, 16) + ".json";
  GCharPtr path(g_build_filename(g_get_user_cache_dir(), "genfill", "models", name.c_str(), nullptr));
  return path.get();
}

ModelListing list_models(const ListOptions &opts, GCancellable *cancel) {
  const Provider *p = find_provider(opts.provider);
  if (!p) {
    std::string names;
    for (const Provider *q : all_providers()) names += (names.empty() ? "" : ", ") + std::string(q->name());
    throw Error(ErrorCode::InvalidInput,
                format(_("Unknown provider \"%s\". Choose one of: %s."), opts.provider.c_str(), names.c_str()));
  }
  ModelListing out;
  out.provider = std::string(p->name());
  out.endpoint = base_url_for(opts.endpoint.empty() ? std::string(p->default_base_url()) : opts.endpoint);
  validate(opts.transport);
  const std::vector<ModelInfo> &catalog = known_models();
  const std::string today = today_utc();
  const std::string cache_path = model_list_cache_path(out.provider, out.endpoint);
  std::optional<Cached> cached = read_cache(cache_path, out.provider, out.endpoint);
  const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  const bool fresh = cached && cached->fetched <= now && now - cached->fetched < kModelListMaxAgeSeconds;
  const std::string service = service_name(*p);

  std::optional<Cached> live;
  std::string why;  // why the service was not asked, or what it answered
  if (fresh && !opts.refresh) {
    out.source = ListSource::Cache;
  } else if (opts.cache_only) {
    why = format(_("%s was not asked."), service.c_str());
  } else if (!p->build_model_list(out.endpoint, "", "")) {
    why = format(_("%s has no list of its models."), service.c_str());
  } else {
    std::string key = opts.api_key;
    if (key.empty())
      if (std::optional<FoundKey> found = find_api_key(*p)) key = found->key;
    if (key.empty()) {
      why = format(_("No API key for %s is set, so it was not asked."), service.c_str());
    } else {
      try {
        Cached got;
        got.models = fetch_list(*p, out.endpoint, key, opts.transport, cancel);
        got.fetched = now;
        write_cache(cache_path, out.provider, out.endpoint, got);
        live = std::move(got);
        out.source = ListSource::Live;
      } catch (const Error &e) {
        if (e.code() == ErrorCode::Cancelled) throw;
        g_debug("model list of %s: %s", out.provider.c_str(), e.detail().c_str());
        why = format(_("Could not get %s's list of models: %s"), service.c_str(), e.message());
      }
    }
  }

  const Cached *used = live ? &*live : cached ? &*cached : nullptr;
  if (!live && cached) {
    out.source = ListSource::Cache;
    if (!why.empty())
      out.note = why + " " + format(_("This is the list %s gave on %s."), service.c_str(), utc_minute_text(cached->fetched).c_str());
  } else if (!live) {
    out.source = ListSource::Catalog;
    out.note = why + " " + format(_("This is genfill's own list of %s models, not checked with the service."),
                                  service.c_str());
  }
  out.fetched = used ? used->fetched : 0;
  out.models = merge_models(out.provider, catalog, used ? &used->models : nullptr, today);
  return out;
}

}  // namespace genfill
