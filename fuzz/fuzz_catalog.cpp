// libFuzzer target: the model catalog's parser (data/models.json, the user's models.json) on any
// text, and the size logic on whatever entries it accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/catalog/models.hpp"
#include "core/plan/plan.hpp"
#include "core/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    const auto models =
        genfill::parse_catalog(std::string_view(reinterpret_cast<const char *>(data), size), "models.json");
    // An accepted entry must plan and size without surprises.
    for (const genfill::ModelInfo &m : models) {
      genfill::Plan p = genfill::plan_region(1920, 1080, genfill::Rect{100, 100, 700, 300}, m);
      (void)p;
      (void)genfill::choose_output(m, 16.0 / 9.0, 3000, 1000);
    }
  } catch (const genfill::Error &) {
  }
  return 0;
}
