// Inside the loopback fake (see fake_server.hpp): what its service files share. fake_server.cpp
// runs the server and sends each request to its service's handler; each fake_SERVICE.cpp
// checks requests as that service does and answers as it would; fake_common.cpp holds the
// bodies and pictures they have in common.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/image/image.hpp"
#include "fake_server.hpp"

namespace genfill::test {

// A provider's verdict: the answer to send.
struct Answer {
  Answer() = default;
  Answer(int status_, std::string body_, std::string content_type_ = "application/json")
      : status(status_), body(std::move(body_)), content_type(std::move(content_type_)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::string> events;  // a streamed answer: each event's bytes (then body is unused)
  std::string error_event;          // what an error_after_events reply sends at that point
};

// A streamed answer of these events (text/event-stream, chunked).
Answer event_stream(std::vector<std::string> events, std::string error_event);

struct Reject {  // thrown inside validation, answered as is
  Answer answer;
};

template <size_t N>
bool listed_in(const char *const (&list)[N], const std::string &id) {
  for (const char *x : list)
    if (id == x) return true;
  return false;
}

// ---------- JSON (fake_common.cpp) ----------

using Build = std::function<void(JsonBuilder *)>;
std::string build_object(const Build &members);
void add_nullable(JsonBuilder *b, const char *name, const char *value);
void add_pair(JsonBuilder *b, int first, int second);
// google.rpc.Status, as Gemini answers errors.
std::string gemini_error(int code, const char *status, const std::string &message);
// OpenAI's error body: all four keys, nullable.
std::string openai_error(const std::string &message, const char *type, const char *param, const char *code);
// A chat relay's error body, as OpenRouter sends it: {"error": {"code": <int>, "message"}}.
std::string relay_error(int code, const std::string &message);
// Does the URL's query carry one of these parameters?
bool query_has(SoupServerMessage *msg, std::initializer_list<const char *> names);

// ---------- pictures (fake_common.cpp) ----------

// A real 16000x16000 PNG of one colour, well under 1 MB (a decompression bomb); made once per colour.
std::string bomb_png(uint32_t rgb);
// The picture an answer carries, base64, possibly broken on purpose.
std::string picture_b64(int w, int h, uint32_t rgb, const FakeReply *reply, const Image *upload = nullptr,
                        bool transparent = false);
// A draft of a w x h answer (a thought or partial picture) of one grey, at most 1024 pixels on
// its longer side: drafts of any size are fitted by the client, and a 4K one would only slow the
// fake down.
std::string draft_b64(int w, int h, uint32_t grey);
// Decodes a picture from the request, or rejects it.
Image decode_or(const std::vector<uint8_t> &bytes, const Answer &reject);
// Strict standard base64 with padding, nothing else (no line breaks, no data: prefix).
bool strict_base64(const std::string &s);

struct FakeServer::Impl {
  std::string fixtures;
  std::thread thread;
  GMainContext *ctx = nullptr;
  GMainLoop *loop = nullptr;
  SoupServer *server = nullptr;
  std::string url;

  std::mutex mu;  // guards what the test thread shares with the server thread
  std::deque<FakeReply> queue;
  std::vector<RecordedRequest> log;
  uint32_t color = 0xFF00FF;
  unsigned answers = 0;

  // Pending answers, for delay_ms; freed on stop() when still pending.
  struct Later;
  std::set<Later *> pending;  // server thread only
  std::vector<GIOStream *> stalled;  // connections left silent on purpose (stall); server thread only

  // ---------- the server (fake_server.cpp) ----------
  std::string load_fixture(const std::string &name) const;
  std::optional<FakeReply> take_reply(bool list);
  uint32_t color_for(const FakeReply *reply);
  void handle(SoupServerMessage *msg, const char *path);
  void drop(Later *l);
  void deliver_after(SoupServerMessage *msg, Answer answer, const FakeReply &reply, int ms);
  void deliver(SoupServerMessage *msg, const Answer &a, const FakeReply &reply);
  void stream_junk(SoupServerMessage *msg, size_t total, bool chunked);
  void stream_events(SoupServerMessage *msg, const Answer &a, const FakeReply &reply);
  void control(SoupServerMessage *msg, const std::string &path, const std::string &body);
  void enqueue(const FakeReply &r);
  void enqueue_json(const std::string &text);
  std::string requests_json();

  // Google's key rules (Gemini, Imagen, the model list, the Batch API): the key in
  // x-goog-api-key, never in the query; none is 403, one starting with "bad" is 400 with
  // `bad_key_fixture`. Records has_key / key_in_query; the refusal, or nullopt when the key is fine.
  std::optional<Answer> google_key_refusal(SoupServerMessage *msg, RecordedRequest &rec,
                                           const char *bad_key_fixture = "gemini/error_400_api_key_invalid.json");

  // ---------- the services: one file each ----------
  // fake_gemini.cpp: generateContent, and Google's model list (Gemini and Imagen).
  struct GeminiTokens {
    int64_t text_in = 0, image_in = 0, image_out = 1120, thoughts = 0;
  };
  std::string gemini_success(const std::string &model, const std::string &text, const std::string *png_b64,
                             const GeminiTokens &tokens);
  Answer gemini(SoupServerMessage *msg, const std::string &model, const std::string &body, RecordedRequest &rec,
                const FakeReply *reply);
  // The same answer as streamGenerateContent?alt=sse sends it (thinking: with thought parts).
  Answer gemini_stream(const Answer &whole, bool thinking);
  Answer gemini_models(SoupServerMessage *msg, RecordedRequest &rec);
  // fake_openai.cpp: images/generations and images/edits, and OpenAI's model list.
  Answer openai(SoupServerMessage *msg, bool edits, const std::string &body, RecordedRequest &rec,
                const FakeReply *reply);
  Answer openai_answer(SoupServerMessage *msg, bool edits, const std::string &body, RecordedRequest &rec,
                       const FakeReply *reply, int &w, int &h);
  Answer openai_models(SoupServerMessage *msg, RecordedRequest &rec);
  // fake_batch.cpp: Gemini's Batch API.
  struct FakeBatch {
    std::string name, model, display_name, final_state = "BATCH_STATE_SUCCEEDED";
    std::vector<std::pair<std::string, Answer>> answers;  // key, generateContent's answer
    int gets = 0, done_at = 3;
    bool drop_keys = false;
  };
  std::map<std::string, FakeBatch> batches;  // server thread only
  std::optional<FakeReply> take_batch_reply();
  Answer batch_create(SoupServerMessage *msg, const std::string &model, const std::string &body, RecordedRequest &rec,
                      const FakeReply *own);
  std::string metadata_of(const FakeBatch &job, const std::string &state);
  void add_inlined(JsonBuilder *b, const FakeBatch &job);
  Answer batch_get(SoupServerMessage *msg, const std::string &name, RecordedRequest &rec);
  // fake_imagen.cpp: :predict.
  Answer imagen(SoupServerMessage *msg, const std::string &model, const std::string &body, RecordedRequest &rec,
                const FakeReply *reply);
  // fake_chat.cpp: chat completions with pictures, and a relay's model list.
  Answer relay(SoupServerMessage *msg, const std::string &body, RecordedRequest &rec, const FakeReply *reply);
  Answer relay_models(SoupServerMessage *msg, RecordedRequest &rec);
};

}  // namespace genfill::test
