// genfill — what hosts need to know of the services and of a layer's conversation, without
// reaching into core/providers or core/conversation: the list of services with the names users
// know and the variables that hold their keys, the key at hand, and what a conversation id is.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/keys/keys.hpp"

namespace genfill {

struct ServiceInfo {
  std::string name;                       // as settings and commands name it: "gemini"
  std::string display_name;               // as users know it: "Google Gemini"
  std::string short_name;                 // its last word, for status lines: "Gemini"
  std::string base_url;                   // its own public endpoint
  std::vector<std::string> key_env_vars;  // where its key is looked for first, in order
};

// The services this build reaches, in a stable order.
const std::vector<ServiceInfo> &services();
// The service used when none is named: the registry's first.
const ServiceInfo &default_service();
// nullptr when this build has no such service.
const ServiceInfo *find_service(std::string_view name);
// The same, or Error{InvalidInput} naming the services there are.
const ServiceInfo &service_named(std::string_view name);
// The service's key from its environment variables, else the keyring; nullopt when none.
std::optional<FoundKey> find_service_key(const ServiceInfo &service);

// The variables, joined for a message: "GEMINI_API_KEY or GOOGLE_API_KEY" (translated "or").
std::string key_variables_text(const ServiceInfo &service);

// A conversation id as edits save them (and nothing else: ids come from users and files).
bool is_conversation_id(std::string_view id);

}  // namespace genfill
