// genfill — what each model accepts (sizes, aspects, masks). Built-in table for now.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace genfill {

struct Aspect {
  int w = 1, h = 1;            // ratio, e.g. 16:9
  int out_w = 0, out_h = 0;    // pixel size the model answers with at this ratio (at its base size)
  std::string label() const { return std::to_string(w) + ":" + std::to_string(h); }
};

struct ModelInfo {
  std::string id;
  std::string provider;            // provider name in the registry
  std::string display_name;
  bool takes_mask = false;         // a real mask parameter (OpenAI edits)
  bool can_edit = true;            // accepts input images
  bool exact_size = false;         // the request names one of `aspects` as a WxH size (OpenAI)
  int max_images_per_call = 1;     // n per request
  int max_input_images = 1;
  std::vector<Aspect> aspects;     // what the model offers; never empty
};

// The built-in models plus, for unknown ids, the provider's defaults under that id.
const std::vector<ModelInfo> &known_models();
ModelInfo model_info(std::string_view provider, std::string_view model_id);

}  // namespace genfill
