// genfill — what a run costs (see cost.hpp).
#include "core/cost/cost.hpp"

#include <algorithm>
#include <cmath>

#include "core/util/i18n.hpp"

namespace genfill {

namespace {

constexpr double kMillion = 1e6;
constexpr double kMegapixel = 1024.0 * 1024.0;
// A prompt's text tokens: about four bytes of English a token, plus the request's own framing.
constexpr double kBytesPerToken = 4;
constexpr double kFramingTokens = 20;

int tokens_named(const Prices &p, const std::string &name) {
  for (const auto &[n, t] : p.image_out_tokens)
    if (n == name) return t;
  return 0;
}

// Output tokens of one picture: by the model's named size, else by quality (at one megapixel,
// scaled with the picture's area), else the largest the catalog lists (an estimate errs high).
double picture_out_tokens(const ModelInfo &m, const Prices &p, const CostAsk &ask) {
  if (!ask.image_size.empty())
    if (int t = tokens_named(p, ask.image_size)) return t;
  const double area = std::max(1.0, double(ask.out_w) * ask.out_h) / kMegapixel;
  if (!ask.quality.empty())
    if (int t = tokens_named(p, ask.quality)) return t * area;
  if (!m.default_image_size.empty())
    if (int t = tokens_named(p, m.default_image_size)) return t;
  int most = 0;
  for (const auto &[n, t] : p.image_out_tokens) most = std::max(most, t);
  return m.exact_size ? most * area : most;
}

}  // namespace

Cost estimate_cost(const ModelInfo &model, const CostAsk &ask) {
  Cost c;
  if (!model.prices) return c;
  const Prices &p = *model.prices;
  double image_in = 0;
  for (const auto &[w, h] : ask.pictures_in)  // models that take a size bill pictures by area
    image_in += model.exact_size ? p.image_in_tokens * std::max(0.25, double(w) * h / kMegapixel) : p.image_in_tokens;
  const double text_in = ask.calls * (ask.prompt_bytes / kBytesPerToken + kFramingTokens);
  const double image_out = ask.pictures_out * picture_out_tokens(model, p, ask);
  c.usd = (text_in * p.text_in + image_in * p.image_in + image_out * p.image_out) / kMillion;
  c.known = true;
  c.estimated = true;
  c.prices_as_of = p.as_of;
  return c;
}

Cost actual_cost(const ModelInfo &model, const Usage &u, const CostAsk &ask) {
  if (!model.prices) return Cost{};
  if (!u.reported()) return estimate_cost(model, ask);
  const Prices &p = *model.prices;
  auto n = [](int64_t v) { return v < 0 ? 0.0 : double(v); };
  // Input: by kind where the service split it; what it did not split is priced as pictures.
  double text_in = n(u.input_text_tokens), image_in = n(u.input_image_tokens);
  image_in += std::max(0.0, n(u.input_tokens) - text_in - image_in);
  // Output: pictures and text where split; the rest as pictures. Thoughts are counted apart.
  double text_out = n(u.output_text_tokens), image_out = n(u.output_image_tokens);
  image_out += std::max(0.0, n(u.output_tokens) - text_out - image_out);
  text_out += n(u.thoughts_tokens);
  Cost c;
  c.usd = (text_in * p.text_in + image_in * p.image_in + text_out * p.text_out + image_out * p.image_out) / kMillion;
  c.known = true;
  c.prices_as_of = p.as_of;
  return c;
}

std::string usd_text(double usd) {
  if (usd > 0 && usd < 0.001) return "<$0.001";
  return usd < 0.1 ? format("$%.3f", usd) : format("$%.2f", usd);
}

}  // namespace genfill
