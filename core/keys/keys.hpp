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
// Keyring only (libsecret); nullopt when absent or no keyring service is running. `problem`
// (optional) receives why the keyring could not be read, in the user's words ("" when it was).
std::optional<std::string> keyring_lookup(const std::string &provider_name, std::string *problem = nullptr);
// Stores the key in the default keyring collection, replacing the provider's earlier one.
// Throws Error{InvalidInput} for an empty key, when the keyring is turned off or missing, or
// locked and not unlocked; the key itself is in no message.
void keyring_store(const std::string &provider_name, const std::string &key);
// Removes the provider's stored key. Returns whether there was one. Throws Error as above.
bool keyring_delete(const std::string &provider_name);

}  // namespace genfill
