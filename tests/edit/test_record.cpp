// A result's record (the layer parasite) and seam report: one format, read back as JSON.
#include <cstring>
#include <string>

#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include "core/edit/record.hpp"
#include "core/util/gjson.hpp"

using namespace genfill;

namespace {

struct Parsed {
  GPtr<JsonParser> parser = adopt(json_parser_new());
  JsonObject *root = nullptr;
  explicit Parsed(const std::string &text) {
    if (json_parser_load_from_data(parser.get(), text.c_str(), -1, nullptr) && json_parser_get_root(parser.get()) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser.get())))
      root = json_node_get_object(json_parser_get_root(parser.get()));
  }
};

JobResult drifted_result() {
  JobResult r;
  r.provider = "gemini";
  r.model = "gemini-x-image";
  r.text = "Here is the \"sky\".";
  seam::Report fitted;
  fitted.registered = true;
  fitted.dx = 6.5;
  fitted.dy = -4.25;
  fitted.scale = 1.04;
  fitted.colour_matched = true;
  fitted.gain[1] = 1.1;
  fitted.offset[2] = -6;
  fitted.blended = true;
  fitted.seconds = 0.5;
  seam::Report raw;
  raw.dx = 3;  // found but not applied: the record says no shift
  raw.note = "raw answer asked for";
  r.seam = {fitted, raw};
  return r;
}

}  // namespace

TEST(RecordTest, ALayerRecordSaysWhatWasAskedAndWhatTheSeamDid) {
  const JobResult r = drifted_result();
  const std::string conversation(32, 'c');
  Parsed p(result_record(r, "a starry night", 41, 0, Rect{10, 20, 300, 200}, conversation));
  ASSERT_NE(p.root, nullptr);
  EXPECT_STREQ(json_object_get_string_member(p.root, "provider"), "gemini");
  EXPECT_STREQ(json_object_get_string_member(p.root, "model"), "gemini-x-image");
  EXPECT_STREQ(json_object_get_string_member(p.root, "prompt"), "a starry night");
  EXPECT_STREQ(json_object_get_string_member(p.root, "text"), "Here is the \"sky\".");
  EXPECT_EQ(json_object_get_int_member(p.root, "seed"), 41);
  EXPECT_EQ(json_object_get_int_member(p.root, "variation"), 1);
  EXPECT_EQ(std::strncmp(json_object_get_string_member(p.root, "generator"), "genfill ", 8), 0);
  JsonArray *region = json_object_get_array_member(p.root, "region");
  ASSERT_EQ(json_array_get_length(region), 4u);
  EXPECT_EQ(json_array_get_int_element(region, 0), 10);
  EXPECT_EQ(json_array_get_int_element(region, 3), 200);
  EXPECT_EQ(conversation_of_record(result_record(r, "x", {}, 0, Rect{0, 0, 1, 1}, conversation)), conversation);

  JsonObject *seam = json_object_get_object_member(p.root, "seam");
  ASSERT_NE(seam, nullptr);
  EXPECT_TRUE(json_object_get_boolean_member(seam, "registered"));
  JsonArray *shift = json_object_get_array_member(seam, "shift");
  EXPECT_DOUBLE_EQ(json_array_get_double_element(shift, 0), 6.5);
  EXPECT_DOUBLE_EQ(json_array_get_double_element(shift, 1), -4.25);
  EXPECT_DOUBLE_EQ(json_object_get_double_member(seam, "scale"), 1.04);
  EXPECT_TRUE(json_object_get_boolean_member(seam, "colour_matched"));
  EXPECT_DOUBLE_EQ(json_array_get_double_element(json_object_get_array_member(seam, "gain"), 1), 1.1);
  EXPECT_DOUBLE_EQ(json_array_get_double_element(json_object_get_array_member(seam, "offset"), 2), -6.0);
  EXPECT_TRUE(json_object_get_boolean_member(seam, "blended"));
  EXPECT_DOUBLE_EQ(json_object_get_double_member(seam, "seconds"), 0.5);
}

TEST(RecordTest, TheSecondVariationHasItsOwnSeedAndSeamAndNoSeedStaysNull) {
  const JobResult r = drifted_result();
  Parsed p(result_record(r, "p", 41, 1, Rect{0, 0, 8, 8}, ""));
  ASSERT_NE(p.root, nullptr);
  EXPECT_EQ(json_object_get_int_member(p.root, "seed"), 42);
  EXPECT_EQ(json_object_get_int_member(p.root, "variation"), 2);
  EXPECT_FALSE(json_object_has_member(p.root, "conversation"));
  JsonObject *seam = json_object_get_object_member(p.root, "seam");
  ASSERT_NE(seam, nullptr);
  EXPECT_FALSE(json_object_get_boolean_member(seam, "registered"));
  EXPECT_DOUBLE_EQ(json_array_get_double_element(json_object_get_array_member(seam, "shift"), 0), 0.0);
  EXPECT_DOUBLE_EQ(json_object_get_double_member(seam, "scale"), 1.0);
  EXPECT_STREQ(json_object_get_string_member(seam, "note"), "raw answer asked for");

  Parsed none(result_record(r, "p", {}, 2, Rect{0, 0, 8, 8}, ""));  // a generation: no seam report
  ASSERT_NE(none.root, nullptr);
  EXPECT_TRUE(JSON_NODE_HOLDS_NULL(json_object_get_member(none.root, "seed")));
  EXPECT_FALSE(json_object_has_member(none.root, "seam"));
}

TEST(RecordTest, AnExpansionRecordsItsMargins) {
  const JobResult r = drifted_result();
  Parsed p(result_record(r, "", {}, 0, Rect{0, 0, 800, 400}, "", Margins{100, 100, 0, 0}));
  ASSERT_NE(p.root, nullptr);
  JsonObject *m = json_object_get_object_member(p.root, "margins");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(json_object_get_int_member(m, "left"), 100);
  EXPECT_EQ(json_object_get_int_member(m, "right"), 100);
  EXPECT_EQ(json_object_get_int_member(m, "top"), 0);
  EXPECT_EQ(json_object_get_int_member(m, "bottom"), 0);
  Parsed edit(result_record(r, "x", {}, 0, Rect{0, 0, 8, 8}, ""));
  EXPECT_FALSE(json_object_has_member(edit.root, "margins"));
}

TEST(RecordTest, AConversationIsReadOnlyFromAValidId) {
  EXPECT_EQ(conversation_of_record("{\"conversation\": \"" + std::string(32, 'b') + "\"}"), std::string(32, 'b'));
  EXPECT_EQ(conversation_of_record("{\"conversation\": \"../../etc\"}"), "");
  EXPECT_EQ(conversation_of_record("not json"), "");
  EXPECT_EQ(conversation_of_record("[1, 2]"), "");
}
