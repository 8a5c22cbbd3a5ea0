// genfill — where a service's key goes when the user names another endpoint.
#pragma once

#include <optional>
#include <string>

namespace genfill {

struct KeyDestination {
  std::string service;  // the service whose key it is, as users know it ("Google Gemini")
  std::string host;     // host[:port] of the endpoint that will receive it
};

// When `endpoint` (as the user gave it: argument, dialog) would send the provider's key to
// another host than the provider's own service: the service and that host, for hosts to show
// before the key leaves. nullopt for an empty endpoint, the provider's own host, an unknown
// provider or an address that is not usable (the run itself says why).
std::optional<KeyDestination> key_goes_elsewhere(const std::string &provider, const std::string &endpoint);

}  // namespace genfill
