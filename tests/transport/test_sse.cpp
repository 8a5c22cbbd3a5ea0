// The server-sent events parser: the two services' streams as they send them, cut into reads
// anywhere, and the HTML standard's rules for lines, fields, comments and dispatch.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/transport/sse.hpp"
#include "core/util/error.hpp"

using namespace genfill;

namespace {

std::vector<SseEvent> all_of(std::string_view stream, size_t chunk = 0, bool *cut = nullptr) {
  SseParser p;
  std::vector<SseEvent> out;
  if (chunk == 0) chunk = stream.size() + 1;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    auto got = p.feed(stream.substr(at, chunk));
    out.insert(out.end(), got.begin(), got.end());
  }
  if (cut) *cut = p.cut_short();
  return out;
}

// OpenAI's Images API with stream=true: named events, one JSON object each.
const std::string kOpenAI =
    "event: image_edit.partial_image\n"
    "data: {\"type\":\"image_edit.partial_image\",\"partial_image_index\":0,\"b64_json\":\"AAAA\"}\n"
    "\n"
    "event: image_edit.partial_image\n"
    "data: {\"type\":\"image_edit.partial_image\",\"partial_image_index\":1,\"b64_json\":\"BBBB\"}\n"
    "\n"
    "event: image_edit.completed\n"
    "data: {\"type\":\"image_edit.completed\",\"b64_json\":\"CCCC\",\"usage\":{\"total_tokens\":9}}\n"
    "\n";

// Gemini's streamGenerateContent?alt=sse: unnamed events, CRLF line ends.
const std::string kGemini =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Drafting\", \"thought\": true}]}}]}\r\n"
    "\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"inlineData\": {\"data\": \"QUJD\"}}]},"
    " \"finishReason\": \"STOP\"}]}\r\n"
    "\r\n";

}  // namespace

TEST(SseTest, OpenAIsNamedEventsArriveInOrder) {
  bool cut = true;
  const auto ev = all_of(kOpenAI, 0, &cut);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, "image_edit.partial_image");
  EXPECT_EQ(ev[1].type, "image_edit.partial_image");
  EXPECT_EQ(ev[2].type, "image_edit.completed");
  EXPECT_NE(ev[1].data.find("\"partial_image_index\":1"), std::string::npos) << ev[1].data;
  EXPECT_EQ(ev[2].data.front(), '{');
  EXPECT_EQ(ev[2].data.back(), '}');
  EXPECT_FALSE(cut);
}

TEST(SseTest, GeminisUnnamedEventsWithCrLf) {
  const auto ev = all_of(kGemini);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "message");
  EXPECT_NE(ev[0].data.find("\"thought\": true"), std::string::npos);
  EXPECT_EQ(ev[1].data.find('\r'), std::string::npos) << "no CR left in the data";
  EXPECT_NE(ev[1].data.find("\"finishReason\": \"STOP\""), std::string::npos);
}

TEST(SseTest, EveryWayOfCuttingTheStreamGivesTheSameEvents) {
  for (const std::string &stream : {kOpenAI, kGemini}) {
    const auto whole = all_of(stream);
    for (size_t chunk = 1; chunk <= 9; ++chunk) {
      const auto pieces = all_of(stream, chunk);
      ASSERT_EQ(pieces.size(), whole.size()) << "chunk " << chunk;
      for (size_t i = 0; i < whole.size(); ++i) {
        EXPECT_EQ(pieces[i].type, whole[i].type) << "chunk " << chunk;
        EXPECT_EQ(pieces[i].data, whole[i].data) << "chunk " << chunk;
      }
    }
  }
}

TEST(SseTest, FieldsCommentsAndLineEndsFollowTheStandard) {
  const auto ev = all_of(
      ": a comment, as servers send to keep the connection\n"
      "data:no space\n"
      "data:  two spaces, one kept\n"
      "data\n"
      "retry: 100\n"
      "unknown: field\n"
      "id: 7\n"
      "\n"
      "event: only a name\n"
      "\n"
      "data: after CR\rdata: alone\r\r"
      "data: last\n\n");
  ASSERT_EQ(ev.size(), 3u) << "an event without data is not dispatched";
  EXPECT_EQ(ev[0].data, "no space\n two spaces, one kept\n");
  EXPECT_EQ(ev[0].id, "7");
  EXPECT_EQ(ev[1].data, "after CR\nalone");
  EXPECT_EQ(ev[1].type, "message") << "the name of an undispatched event does not carry over";
  EXPECT_EQ(ev[1].id, "7") << "the last id is kept";
  EXPECT_EQ(ev[2].data, "last");
}

TEST(SseTest, ACrLfIsOneLineEndEvenWhenAReadEndsBetweenThem) {
  const std::string stream = "data: a\r\ndata: b\r\n\r\n";
  for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    const auto ev = all_of(stream, chunk);
    ASSERT_EQ(ev.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(ev[0].data, "a\nb") << "chunk " << chunk;
  }
}

TEST(SseTest, ALeadingByteOrderMarkIsDroppedEvenWhenSplit) {
  const std::string stream = "\xEF\xBB\xBF" "data: x\n\n";
  for (size_t chunk = 1; chunk <= 4; ++chunk) {
    const auto ev = all_of(stream, chunk);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].data, "x");
  }
  // Only at the start, and only the whole mark: other bytes stay.
  const auto later = all_of("data: \xEF\xBB\xBFy\n\n");
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].data, "\xEF\xBB\xBFy");
  const auto almost = all_of("\xEF\xBB" "data: z\n\n");
  ASSERT_EQ(almost.size(), 0u) << "\"\\xEF\\xBBdata\" is not a field named data";
}

TEST(SseTest, AStreamCutShortDispatchesNothingOfTheLastEvent) {
  const std::string stream = kOpenAI.substr(0, kOpenAI.rfind("event: image_edit.completed") + 40);
  bool cut = false;
  const auto ev = all_of(stream, 5, &cut);
  ASSERT_EQ(ev.size(), 2u) << "only the two partial pictures";
  EXPECT_EQ(ev[1].type, "image_edit.partial_image");
  EXPECT_TRUE(cut);
  // Cut right after a data line, before the empty line that would dispatch it.
  bool cut2 = false;
  EXPECT_TRUE(all_of("data: {\"done\": true}\n", 0, &cut2).empty());
  EXPECT_TRUE(cut2);
}

TEST(SseTest, AnOverlongLineOrEventIsRefused) {
  SseParser p(64);
  EXPECT_NO_THROW(p.feed("data: " + std::string(50, 'a') + "\n\n"));
  try {
    p.feed("data: " + std::string(100, 'b'));
    FAIL() << "a 106-byte line passed a 64-byte cap";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::TooLarge);
  }
  SseParser q(64);
  try {
    for (int i = 0; i < 10; ++i) q.feed("data: " + std::string(20, 'c') + "\n");
    FAIL() << "an event of 10 lines of 20 bytes passed a 64-byte cap";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::TooLarge);
  }
}
