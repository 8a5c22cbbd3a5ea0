// genfill — API key lookup: environment first, then the desktop keyring (libsecret).
#pragma once

#include <optional>
#include <string>

#include "core/providers/provider.hpp"

namespace genfill {

struct FoundKey {
  std::string key;
  std::string source;  // "GEMINI_API_KEY", "keyring", ... (for messages; never the key)
};

// The provider's environment variables in order, then the keyring. nullopt when none.
std::optional<FoundKey> find_api_key(const Provider &provider);
// Keyring only (libsecret); nullopt when absent or no keyring service is running.
std::optional<std::string> keyring_lookup(const std::string &provider_name);
// Stores the key in the default keyring collection. Throws Error on failure.
void keyring_store(const std::string &provider_name, const std::string &key);

}  // namespace genfill
