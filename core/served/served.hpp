// genfill — which models a service serves today: its own model list (asked for live, kept in
// the user's cache folder for a day) merged with genfill's catalog. Used by `genfill models`
// and the plug-in's Model list; the catalog alone answers when the service cannot be asked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gio/gio.h>

#include "core/catalog/models.hpp"
#include "core/providers/provider.hpp"
#include "core/transport/transport.hpp"

namespace genfill {

enum class ModelStatus {
  Available,  // in the service's list and in the catalog
  New,        // in the service's list, looks like an image model, not in the catalog
  Unlisted,   // in the catalog, not retired, missing from the service's list (new models can be
              // missing at launch: still offered and usable)
  Retired,    // its shutdown day has come (catalog or service)
  Unchecked,  // in the catalog, not retired; the service's list was not at hand
};
const char *model_status_name(ModelStatus status);  // "available", "new", ...

struct ListedModel {
  std::string id, provider, name;
  bool is_default = false;
  ModelStatus status = ModelStatus::Unchecked;
  std::string shutdown;     // the announced or past shutdown day, "YYYY-MM-DD"; "" = none known
  std::string replacement;  // what to use instead, from the catalog; "" = none named
  bool usable() const { return status != ModelStatus::Retired; }
};

enum class ListSource { Live, Cache, Catalog };
const char *list_source_name(ListSource source);  // "live", "cache", "catalog"

struct ModelListing {
  std::string provider;
  std::string endpoint;      // the base URL the list is for
  ListSource source = ListSource::Catalog;
  int64_t fetched = 0;       // Unix time the service's list was read (live or cached); 0 = never
  std::string note;          // when not live: why, in the user's words; "" otherwise
  std::vector<ListedModel> models;
};

struct ListOptions {
  std::string provider = "gemini";
  std::string endpoint;      // "" = the provider's own service
  std::string api_key;       // "" = environment or keyring (never asked for)
  bool refresh = false;      // ask the service even when the cached list is fresh
  bool cache_only = false;   // never ask the service: a cached list (of any age) or the catalog
  TransportOptions transport = quick_transport();

  static TransportOptions quick_transport() {
    TransportOptions t;
    t.timeout_s = 30;
    t.max_tries = 2;
    t.max_response_bytes = size_t(16) << 20;  // a list is tens of kB
    return t;
  }
};

// How long a service's list is kept before it is asked again.
constexpr int64_t kModelListMaxAgeSeconds = 24 * 3600;

// The provider's models as served today. Never throws for a service that cannot be asked (no
// key, no network, an error answer): the cache or the catalog answers and `note` says why.
// Throws Error{InvalidInput} for an unknown provider, a bad endpoint or bad timeouts, Error{Cancelled}.
ModelListing list_models(const ListOptions &opts, GCancellable *cancel = nullptr);

// The merge itself: the catalog's models of `provider` in its order, then the service's new
// image models in the service's order. `served` nullptr = no list at hand.
std::vector<ListedModel> merge_models(std::string_view provider, const std::vector<ModelInfo> &catalog,
                                      const std::vector<ServedModel> *served, const std::string &today);

// Where the list of `provider` at `base_url` is cached.
std::string model_list_cache_path(std::string_view provider, const std::string &base_url);

}  // namespace genfill
