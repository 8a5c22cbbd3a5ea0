#include "core/edit/services.hpp"

#include "core/conversation/conversation.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"
#include "core/util/i18n.hpp"
#include "core/util/text.hpp"

namespace genfill {

const std::vector<ServiceInfo> &services() {
  static const std::vector<ServiceInfo> list = [] {
    std::vector<ServiceInfo> out;
    for (const Provider *p : all_providers()) {
      ServiceInfo s;
      s.name = std::string(p->name());
      s.display_name = std::string(p->display_name());
      s.short_name = s.display_name;
      if (auto sp = s.short_name.rfind(' '); sp != std::string::npos) s.short_name = s.short_name.substr(sp + 1);
      s.base_url = std::string(p->default_base_url());
      s.key_env_vars = p->key_env_vars();
      out.push_back(std::move(s));
    }
    return out;
  }();
  return list;
}

const ServiceInfo &default_service() { return services().front(); }

const ServiceInfo *find_service(std::string_view name) {
  for (const ServiceInfo &s : services())
    if (s.name == name) return &s;
  return nullptr;
}

const ServiceInfo &service_named(std::string_view name) {
  if (const ServiceInfo *s = find_service(name)) return *s;
  std::string names;
  for (const ServiceInfo &s : services()) names += (names.empty() ? "" : ", ") + s.name;
  throw Error(ErrorCode::InvalidInput,
              format(_("Unknown provider \"%s\". Choose one of: %s."), std::string(name).c_str(), names.c_str()));
}

std::optional<FoundKey> find_service_key(const ServiceInfo &service) {
  const Provider *p = find_provider(service.name);
  return p ? find_api_key(*p) : std::nullopt;
}

std::string key_variables_text(const ServiceInfo &service) {
  std::string vars;
  for (const std::string &v : service.key_env_vars) vars += (vars.empty() ? "" : _(" or ")) + v;
  return vars;
}

bool is_conversation_id(std::string_view id) { return valid_conversation_id(id); }

}  // namespace genfill
