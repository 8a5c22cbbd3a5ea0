// genfill — a result's record and seam report: one format for every host.
#include "core/edit/record.hpp"

#include <initializer_list>
#include <type_traits>
#include <utility>

#include "core/conversation/conversation.hpp"
#include "core/util/gjson.hpp"

namespace genfill {

namespace {

void member(JsonBuilder *b, const char *name, const std::string &v) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, v.c_str());
}
void member(JsonBuilder *b, const char *name, bool v) {
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, v);
}
void member(JsonBuilder *b, const char *name, double v) {
  json_builder_set_member_name(b, name);
  json_builder_add_double_value(b, v);
}
template <typename Values>
void array(JsonBuilder *b, const char *name, const Values &values) {
  json_builder_set_member_name(b, name);
  json_builder_begin_array(b);
  for (auto v : values) {
    if constexpr (std::is_integral_v<decltype(v)>) json_builder_add_int_value(b, v);
    else json_builder_add_double_value(b, v);
  }
  json_builder_end_array(b);
}

}  // namespace

void add_seam_report(JsonBuilder *b, const seam::Report &r) {
  json_builder_begin_object(b);
  member(b, "registered", r.registered);
  array(b, "shift", std::initializer_list<double>{r.registered ? r.dx : 0.0, r.registered ? r.dy : 0.0});
  member(b, "scale", r.registered ? r.scale : 1.0);
  member(b, "colour_matched", r.colour_matched);
  array(b, "gain", r.gain);
  array(b, "offset", r.offset);
  member(b, "blended", r.blended);
  member(b, "note", r.note);
  member(b, "seconds", r.seconds);
  json_builder_end_object(b);
}

void add_usage_and_cost(JsonBuilder *b, const Usage &u, const Cost &cost) {
  json_builder_set_member_name(b, "usage");
  json_builder_begin_object(b);
  const std::pair<const char *, int64_t> counts[] = {
      {"input_tokens", u.input_tokens},         {"output_tokens", u.output_tokens},
      {"total_tokens", u.total_tokens},         {"input_text_tokens", u.input_text_tokens},
      {"input_image_tokens", u.input_image_tokens}, {"output_text_tokens", u.output_text_tokens},
      {"output_image_tokens", u.output_image_tokens}, {"thoughts_tokens", u.thoughts_tokens}};
  for (const auto &[name, v] : counts) {
    if (v < 0) continue;  // not reported
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
  }
  json_builder_end_object(b);
  if (!cost.known) return;
  json_builder_set_member_name(b, "cost");
  json_builder_begin_object(b);
  member(b, "usd", cost.usd);
  member(b, "estimated", cost.estimated);
  member(b, "prices_as_of", cost.prices_as_of);
  json_builder_end_object(b);
}

std::string result_record(const JobResult &r, const std::string &prompt, const std::optional<int64_t> &seed,
                          int variation, const Rect &region, const std::string &conversation,
                          const std::optional<Margins> &margins) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  member(b.get(), "generator", std::string("genfill ") + GENFILL_VERSION);
  member(b.get(), "provider", r.provider);
  member(b.get(), "model", r.model);
  member(b.get(), "prompt", prompt);
  json_builder_set_member_name(b.get(), "seed");
  if (seed) json_builder_add_int_value(b.get(), *seed + variation);
  else json_builder_add_null_value(b.get());
  GPtr<GDateTime> now = adopt(g_date_time_new_now_utc());
  GCharPtr iso(g_date_time_format_iso8601(now.get()));
  member(b.get(), "time", std::string(iso ? iso.get() : ""));
  member(b.get(), "text", r.text);
  json_builder_set_member_name(b.get(), "variation");
  json_builder_add_int_value(b.get(), variation + 1);
  array(b.get(), "region", std::initializer_list<int>{region.x, region.y, region.w, region.h});
  if (!conversation.empty()) member(b.get(), "conversation", conversation);  // the cache folder's name
  if (margins) {
    json_builder_set_member_name(b.get(), "margins");
    json_builder_begin_object(b.get());
    const std::pair<const char *, int> sides[] = {
        {"left", margins->left}, {"right", margins->right}, {"top", margins->top}, {"bottom", margins->bottom}};
    for (const auto &[name, v] : sides) {
      json_builder_set_member_name(b.get(), name);
      json_builder_add_int_value(b.get(), v);
    }
    json_builder_end_object(b.get());
  }
  add_usage_and_cost(b.get(), r.usage, r.cost);  // the whole run's, all variations together
  if (variation >= 0 && size_t(variation) < r.seam.size()) {
    json_builder_set_member_name(b.get(), "seam");
    add_seam_report(b.get(), r.seam[size_t(variation)]);
  }
  json_builder_end_object(b.get());
  return json_text(b.get());
}

std::string conversation_of_record(std::string_view record) { return conversation_in_record(record); }

}  // namespace genfill
