// genfill — command line: what happened, as JSON on stdout (--json).
#include <cstdio>

#include "cli/cli.hpp"
#include "core/edit/record.hpp"
#include "core/util/gjson.hpp"

namespace genfill::cli {

void print_json(JsonBuilder *b) { std::printf("%s\n", json_text(b, true).c_str()); }

void print_success_json(const char *command, const JobResult &r, const std::vector<std::string> &files,
                        const std::optional<Rect> &region, const std::string &conversation,
                        const std::function<void(JsonBuilder *)> &extra) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  json_builder_set_member_name(b.get(), "command");
  json_builder_add_string_value(b.get(), command);
  json_builder_set_member_name(b.get(), "provider");
  json_builder_add_string_value(b.get(), r.provider.c_str());
  json_builder_set_member_name(b.get(), "model");
  json_builder_add_string_value(b.get(), r.model.c_str());
  json_builder_set_member_name(b.get(), "files");
  json_builder_begin_array(b.get());
  for (const std::string &f : files) json_builder_add_string_value(b.get(), f.c_str());
  json_builder_end_array(b.get());
  if (region) {
    json_builder_set_member_name(b.get(), "region");
    json_builder_begin_object(b.get());
    const char *names[] = {"x", "y", "width", "height"};
    int values[] = {region->x, region->y, region->w, region->h};
    for (int i = 0; i < 4; ++i) {
      json_builder_set_member_name(b.get(), names[i]);
      json_builder_add_int_value(b.get(), values[i]);
    }
    json_builder_end_object(b.get());
  }
  json_builder_set_member_name(b.get(), "text");
  json_builder_add_string_value(b.get(), r.text.c_str());
  json_builder_set_member_name(b.get(), "finish_reason");
  json_builder_add_string_value(b.get(), r.finish_reason.c_str());
  add_usage_and_cost(b.get(), r.usage, r.cost);
  // Streaming: whether the answer was streamed, the drafts shown, and when the first came.
  json_flag(b.get(), "streamed", r.streamed);
  json_member(b.get(), "drafts", int64_t(r.drafts));
  for (const auto &[stage, seconds] : r.timings)
    if (stage == "first_draft") {
      json_builder_set_member_name(b.get(), "first_draft_seconds");
      json_builder_add_double_value(b.get(), seconds);
    }
  if (!conversation.empty()) {
    json_builder_set_member_name(b.get(), "conversation");
    json_builder_add_string_value(b.get(), conversation.c_str());
  }
  if (!r.seam.empty()) {  // what the seam correction found, one entry per file
    json_builder_set_member_name(b.get(), "seam");
    json_builder_begin_array(b.get());
    for (const seam::Report &sr : r.seam) add_seam_report(b.get(), sr);
    json_builder_end_array(b.get());
  }
  if (extra) extra(b.get());
  json_builder_end_object(b.get());
  print_json(b.get());
}

void json_member(JsonBuilder *b, const char *name, const std::string &v) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, v.c_str());
}
void json_member(JsonBuilder *b, const char *name, int64_t v) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, v);
}
void json_flag(JsonBuilder *b, const char *name, bool v) {
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, v);
}

}  // namespace genfill::cli
