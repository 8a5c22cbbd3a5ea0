// The registry: every provider genfill knows, in the order users see them (CLI help, the
// plug-in's choice of service, `genfill providers`). A provider is its own file, which defines
// NAME_provider(), and one line here.
#include "core/providers/provider.hpp"

namespace genfill {

#define GENFILL_PROVIDERS(X) \
  X(gemini)                  \
  X(openai)                  \
  X(imagen)                  \
  X(openai_chat)

#define GENFILL_DECLARE(name) const Provider &name##_provider();
GENFILL_PROVIDERS(GENFILL_DECLARE)
#undef GENFILL_DECLARE

const std::vector<const Provider *> &all_providers() {
#define GENFILL_ENTRY(name) &name##_provider(),
  static const std::vector<const Provider *> providers = {GENFILL_PROVIDERS(GENFILL_ENTRY)};
#undef GENFILL_ENTRY
  return providers;
}

const Provider *find_provider(std::string_view name) {
  for (const Provider *p : all_providers())
    if (p->name() == name) return p;
  return nullptr;
}

}  // namespace genfill
