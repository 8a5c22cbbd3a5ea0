#include "core/edit/endpoint.hpp"

#include <glib.h>

#include "core/providers/provider.hpp"
#include "core/util/gobj.hpp"

namespace genfill {

namespace {

// host[:port] of an http(s) address, lower-case; "" when it has none.
std::string host_of(const std::string &url) {
  GPtr<GUri> owned = adopt(g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr));
  GUri *uri = owned.get();
  if (!uri) return {};
  std::string host;
  if (const char *h = g_uri_get_host(uri); h && *h) {
    GCharPtr lower(g_ascii_strdown(h, -1));
    host = lower.get();
    const char *scheme = g_uri_get_scheme(uri);
    const int port = g_uri_get_port(uri);
    const int usual = g_strcmp0(scheme, "http") == 0 ? 80 : 443;
    if (port > 0 && port != usual) host += ":" + std::to_string(port);
  }
  return host;
}

}  // namespace

std::optional<KeyDestination> key_goes_elsewhere(const std::string &provider, const std::string &endpoint) {
  if (endpoint.empty()) return std::nullopt;
  const Provider *p = find_provider(provider);
  if (!p) return std::nullopt;
  const std::string host = host_of(endpoint), own = host_of(std::string(p->default_base_url()));
  if (host.empty() || host == own) return std::nullopt;
  return KeyDestination{std::string(p->display_name()), host};
}

}  // namespace genfill
