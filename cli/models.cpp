// genfill — command line: genfill providers (the catalog, by service) and genfill models (what
// each service serves today).
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "core/catalog/models.hpp"
#include "core/edit/services.hpp"
#include "core/keys/keys.hpp"
#include "core/served/served.hpp"
#include "core/util/day.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill::cli {

namespace {

// ---------- genfill providers ----------

std::string pixel_size(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

std::string scale_text(double scale) {
  char buf[32];
  g_ascii_formatd(buf, sizeof buf, "%g", scale);
  return buf;
}

void model_json(JsonBuilder *b, const ModelInfo &m) {
  json_builder_begin_object(b);
  json_member(b, "id", m.id);
  json_member(b, "display_name", m.display_name);
  json_flag(b, "default", m.is_default);
  json_flag(b, "legacy", m.legacy);
  json_flag(b, "retired", is_retired(m));
  if (!m.retired.empty()) json_member(b, "shutdown", m.retired);
  if (!m.replacement.empty()) json_member(b, "replacement", m.replacement);
  json_flag(b, "edit", m.can_edit);
  json_flag(b, "mask", m.takes_mask);
  json_member(b, "max_images_per_call", int64_t(m.max_images_per_call));
  json_member(b, "max_input_images", int64_t(m.max_input_images));
  json_flag(b, "thought_images", m.thought_images);
  json_flag(b, "input_fidelity", m.input_fidelity);
  json_flag(b, "transparent", m.transparent);
  json_member(b, "size_param", std::string(m.exact_size ? "pixels" : "aspect"));
  json_builder_set_member_name(b, "aspects");
  json_builder_begin_array(b);
  for (const Aspect &a : m.aspects) {
    json_builder_begin_object(b);
    json_member(b, "ratio", a.label());
    json_member(b, "size", pixel_size(a.out_w, a.out_h));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "image_sizes");
  json_builder_begin_array(b);
  for (const ImageSize &s : m.image_sizes) {
    json_builder_begin_object(b);
    json_member(b, "name", s.name);
    json_builder_set_member_name(b, "scale");
    json_builder_add_double_value(b, s.scale);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  if (!m.default_image_size.empty()) json_member(b, "default_image_size", m.default_image_size);
  if (!m.qualities.empty()) {
    json_builder_set_member_name(b, "qualities");
    json_builder_begin_array(b);
    for (const std::string &q : m.qualities) json_builder_add_string_value(b, q.c_str());
    json_builder_end_array(b);
  }
  if (m.free_size) {
    const FreeSize &f = *m.free_size;
    json_builder_set_member_name(b, "free_size");
    json_builder_begin_object(b);
    json_member(b, "multiple", int64_t(f.multiple));
    json_builder_set_member_name(b, "max_ratio");
    json_builder_add_double_value(b, f.max_ratio);
    json_member(b, "max_side", int64_t(f.max_side));
    json_member(b, "min_pixels", f.min_pixels);
    json_member(b, "max_pixels", f.max_pixels);
    json_builder_end_object(b);
  }
  json_builder_end_object(b);
}

void model_text(const ModelInfo &m) {
  std::string lifecycle;
  if (is_retired(m))
    lifecycle = " (" + format(_("retired on %s"), m.retired.c_str()) +
                (m.replacement.empty() ? "" : "; " + format(_("use %s"), m.replacement.c_str())) + ")";
  else if (!m.retired.empty())
    lifecycle = " (" + format(_("shuts down on %s"), m.retired.c_str()) + ")";
  std::printf("    %s — %s%s%s%s\n", m.id.c_str(), m.display_name.c_str(), m.is_default ? _(" (default)") : "",
              m.legacy ? _(" (legacy)") : "", lifecycle.c_str());
  std::string what = !m.can_edit ? _("makes new pictures only")
                     : m.takes_mask ? _("edits with a mask")
                                    : _("edits (the selection is described to it)");
  if (m.max_input_images > 0)
    what += "; " + format(g_dngettext(GETTEXT_PACKAGE, "up to %d picture in", "up to %d pictures in",
                                      gulong(m.max_input_images)),
                          m.max_input_images);
  what += "; " + format(g_dngettext(GETTEXT_PACKAGE, "%d picture per call", "up to %d pictures per call",
                                    gulong(m.max_images_per_call)),
                        m.max_images_per_call);
  if (m.input_fidelity) what += std::string("; ") + _("high input fidelity on edits");
  if (m.transparent) what += std::string("; ") + _("transparent backgrounds");
  if (m.thought_images) what += std::string("; ") + _("draft pictures while it thinks");
  std::printf("      %s\n", what.c_str());
  std::string sizes;
  for (const Aspect &a : m.aspects) sizes += (sizes.empty() ? "" : ", ") + a.label() + " " + pixel_size(a.out_w, a.out_h);
  if (m.free_size) {
    const FreeSize &f = *m.free_size;
    std::printf("      %s\n", format(_("sizes: any WxH of the region's shape, multiples of %d, 1:%s to %s:1, up to %s "
                                       "pixels"),
                                     f.multiple, scale_text(f.max_ratio).c_str(), scale_text(f.max_ratio).c_str(),
                                     std::to_string(f.max_pixels).c_str())
                                  .c_str());
    std::printf("      %s\n", format(_("presets: %s"), sizes.c_str()).c_str());
  } else {
    std::printf("      %s\n", format(_("sizes: %s"), sizes.c_str()).c_str());
  }
  if (!m.image_sizes.empty()) {
    std::string names;
    for (const ImageSize &s : m.image_sizes)
      names += (names.empty() ? "" : ", ") + s.name + " (x" + scale_text(s.scale) + ")";
    std::printf("      %s\n", format(_("image sizes: %s; the smallest that covers the region is asked for"),
                                     names.c_str())
                                  .c_str());
  }
  if (!m.qualities.empty()) {
    std::string names;
    for (const std::string &q : m.qualities) names += (names.empty() ? "" : ", ") + q;
    std::printf("      %s\n", format(_("qualities: %s (--quality)"), names.c_str()).c_str());
  }
}

}  // namespace

int cmd_providers(int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry entries[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print as JSON"), nullptr},
                            {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx = option_context(_("- list providers and their models"), entries);
  const bool ok = parse_options(ctx.get(), argc, argv);
  if (!ok || argc != 1) return kExitUsage;

  try {
    const std::vector<ModelInfo> &models = known_models();
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_array(b.get());
    for (const ServiceInfo &service : services()) {
      const ServiceInfo *p = &service;
      const std::optional<FoundKey> key = find_service_key(service);  // whether one is set; never printed
      const std::vector<std::string> &vars = p->key_env_vars;
      std::string default_id = default_model_id(p->name);
      json_builder_begin_object(b.get());
      json_member(b.get(), "name", p->name);
      json_member(b.get(), "display_name", p->display_name);
      json_flag(b.get(), "available", true);
      json_member(b.get(), "endpoint", p->base_url);
      json_member(b.get(), "default_model", default_id);
      json_builder_set_member_name(b.get(), "key_env_vars");
      json_builder_begin_array(b.get());
      for (const std::string &v : vars) json_builder_add_string_value(b.get(), v.c_str());
      json_builder_end_array(b.get());
      json_flag(b.get(), "key_set", key.has_value());
      if (key) json_member(b.get(), "key_source", key->source);
      if (!json) {
        std::string var_list;
        for (size_t i = 0; i < vars.size(); ++i) var_list += (i ? _(" or ") : "") + vars[i];
        std::printf("%s — %s\n  %s\n  %s\n  %s\n", p->name.c_str(),
                    p->display_name.c_str(),
                    format(_("endpoint: %s"), p->base_url.c_str()).c_str(),
                    format(_("key: %s (or the desktop keyring): %s"), var_list.c_str(),
                           key ? format(_("set, from %s"), key->source.c_str()).c_str() : _("not set"))
                        .c_str(),
                    _("models:"));
      }
      json_builder_set_member_name(b.get(), "models");
      json_builder_begin_array(b.get());
      for (const ModelInfo &m : models) {
        if (m.provider != p->name) continue;
        model_json(b.get(), m);
        if (!json) model_text(m);
      }
      json_builder_end_array(b.get());
      json_builder_end_object(b.get());
    }
    // Catalog entries for providers this build does not have (newer relays, legacy services):
    // listed as unavailable, so the catalog can run ahead of the code.
    std::vector<std::string> others;
    for (const ModelInfo &m : models)
      if (!find_service(m.provider) && std::find(others.begin(), others.end(), m.provider) == others.end())
        others.push_back(m.provider);
    if (!json && !others.empty()) std::printf("%s\n", _("In the model list, for services this genfill cannot reach:"));
    for (const std::string &name : others) {
      json_builder_begin_object(b.get());
      json_member(b.get(), "name", name);
      json_flag(b.get(), "available", false);
      json_member(b.get(), "default_model", default_model_id(name));
      json_builder_set_member_name(b.get(), "models");
      json_builder_begin_array(b.get());
      if (!json) std::printf("%s — %s\n", name.c_str(), _("not available in this build"));
      for (const ModelInfo &m : models) {
        if (m.provider != name) continue;
        model_json(b.get(), m);
        if (!json) model_text(m);
      }
      json_builder_end_array(b.get());
      json_builder_end_object(b.get());
    }
    json_builder_end_array(b.get());
    if (json) {
      print_json(b.get());
    } else {
      const CatalogFiles files = catalog_files();
      const bool user = g_file_test(files.user.c_str(), G_FILE_TEST_EXISTS);
      std::printf("%s\n", format(_("Model list: %s"), files.shipped.c_str()).c_str());
      std::printf("%s\n", format(user ? _("Your additions: %s") : _("Your additions (none yet): %s"),
                                 files.user.c_str())
                              .c_str());
    }
    return kExitOk;
  } catch (const Error &e) {
    return report_error(e, json);
  }
}

// ---------- genfill models ----------

namespace {

std::string status_words(const ListedModel &m) {
  std::string words;
  switch (m.status) {
  case ModelStatus::Available: words = _("available"); break;
  case ModelStatus::New: words = _("new: not in genfill's list yet"); break;
  case ModelStatus::Unlisted: words = _("not in the service's list (may still work)"); break;
  case ModelStatus::Unchecked: words = _("not checked with the service"); break;
  case ModelStatus::Retired:
    words = m.shutdown.empty() ? std::string(_("retired")) : format(_("retired on %s"), m.shutdown.c_str());
    if (!m.replacement.empty()) words += "; " + format(_("use %s"), m.replacement.c_str());
    return words;
  }
  if (!m.shutdown.empty()) words += "; " + format(_("shuts down on %s"), m.shutdown.c_str());
  if (m.is_default) words += std::string("; ") + _("default");
  return words;
}

}  // namespace

int cmd_models(int argc, char **argv) {
  gchar *provider = nullptr, *endpoint = nullptr;
  gboolean json = FALSE, refresh = FALSE;
  gdouble timeout = 30;
  GOptionEntry entries[] = {
      {"provider", 'p', 0, G_OPTION_ARG_STRING, &provider, N_("Only this service (default: all)"), "NAME"},
      {"endpoint", 0, 0, G_OPTION_ARG_STRING, &endpoint,
       N_("Base URL of a compatible service or relay (with --provider)"), "URL"},
      {"refresh", 0, 0, G_OPTION_ARG_NONE, &refresh, N_("Ask the service again, even if its list is less than a day old"),
       nullptr},
      {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, N_("Seconds to wait for each service (default 30)"), "S"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print as JSON"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx = option_context(_("- the models each service offers today"), entries);
  const bool ok = parse_options(ctx.get(), argc, argv);
  GCharPtr provider_holder(provider), endpoint_holder(endpoint);
  if (!ok || argc != 1) return kExitUsage;
  if (endpoint && !provider) {
    std::fprintf(stderr, "%s\n", _("genfill models: --endpoint needs --provider (see genfill models --help)"));
    return kExitUsage;
  }
  g_log_writer_default_set_use_stderr(TRUE);
  try {
    if (!(timeout > 0 && timeout <= 3600))
      throw Error(ErrorCode::InvalidInput, _("--timeout must be more than 0 and at most 3600 seconds."));
    std::vector<std::string> names;
    if (provider) names.push_back(provider);
    else for (const ServiceInfo &p : services()) names.push_back(p.name);
    Cancel cancel;
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_array(b.get());
    for (const std::string &name : names) {
      ListOptions opts;
      opts.provider = name;
      opts.endpoint = endpoint ? endpoint : "";
      opts.refresh = refresh;
      opts.transport.timeout_s = timeout;
      const ModelListing listing = list_models(opts, cancel.c);
      if (!listing.note.empty()) std::fprintf(stderr, "genfill: %s\n", listing.note.c_str());
      if (!json) {
        const std::string from = listing.source == ListSource::Live ? std::string(_("as the service lists them now"))
                                 : listing.source == ListSource::Cache
                                     ? format(_("as the service listed them on %s"), utc_minute_text(listing.fetched).c_str())
                                     : std::string(_("genfill's own list, not checked with the service"));
        std::printf("%s — %s (%s)\n", listing.provider.c_str(), listing.endpoint.c_str(), from.c_str());
        size_t width = 0;
        for (const ListedModel &m : listing.models) width = std::max(width, m.id.size());
        for (const ListedModel &m : listing.models)
          std::printf("  %-*s  %s — %s\n", int(width), m.id.c_str(), m.name.c_str(), status_words(m).c_str());
      }
      for (const ListedModel &m : listing.models) {
        json_builder_begin_object(b.get());
        json_member(b.get(), "id", m.id);
        json_member(b.get(), "provider", m.provider);
        json_member(b.get(), "name", m.name);
        json_flag(b.get(), "default", m.is_default);
        json_member(b.get(), "status", std::string(model_status_name(m.status)));
        if (!m.shutdown.empty()) json_member(b.get(), "shutdown", m.shutdown);
        if (!m.replacement.empty()) json_member(b.get(), "replacement", m.replacement);
        json_member(b.get(), "source", std::string(list_source_name(listing.source)));
        json_builder_end_object(b.get());
      }
    }
    json_builder_end_array(b.get());
    if (json) print_json(b.get());
    return kExitOk;
  } catch (const Error &e) {
    return report_error(e, json);
  }
}

}  // namespace genfill::cli
