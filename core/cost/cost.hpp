// genfill — what a run costs: the actual cost from the usage the service reports, priced with the
// catalog's prices, and an estimate made before anything is sent from what will be asked.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/catalog/models.hpp"
#include "core/providers/provider.hpp"

namespace genfill {

struct Cost {
  double usd = 0;
  bool known = false;      // false: the catalog has no prices for the model
  bool estimated = false;  // from the estimate (before sending, or the service reported no usage)
  std::string prices_as_of;
};

// What a run asks for, as far as it decides the price.
struct CostAsk {
  size_t prompt_bytes = 0;                        // the prompt (and the instructions added to it)
  std::vector<std::pair<int, int>> pictures_in;   // every picture sent, per call, at its size
  int calls = 1;                                  // requests made (variations a service makes one by one)
  int pictures_out = 1;                           // pictures asked for, in all
  int out_w = 1024, out_h = 1024;                 // the size of each
  std::string image_size;                         // the model's named size ("2K"), "" when none
  std::string quality;                            // OpenAI's quality ("low"), "" = the service's default
};

// The estimate for `ask` with the model's prices.
Cost estimate_cost(const ModelInfo &model, const CostAsk &ask);

// The cost of the usage the service reported (summed over the run's calls): input by kind at
// the input prices, output pictures at the image-output price, output text and thoughts at the
// text-output price; output the service did not split counts as pictures, input it did not split
// as pictures. Without any usage reported: the estimate for `ask`, marked estimated.
Cost actual_cost(const ModelInfo &model, const Usage &usage, const CostAsk &ask);

// "$0.067", "$1.20", "<$0.001": how a cost is shown to users.
std::string usd_text(double usd);

}  // namespace genfill
