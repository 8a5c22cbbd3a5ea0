// A loopback fake of the Gemini and OpenAI image services, strict about their wire formats.
// Runs a SoupServer on 127.0.0.1 in its own thread and main context.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace genfill::test {

// How to answer the next provider request(s). Anything not set: the normal, strict behaviour.
struct FakeReply {
  int status = 0;              // with fixture/body: answer this status and body as is
  std::string fixture;         // file under the fixtures folder, e.g. "gemini/error_500_internal.json"
  std::string body;
  std::map<std::string, std::string> headers;
  int delay_ms = 0;            // wait before answering
  long truncate_at = -1;       // answer only the first N bytes of the body (a complete, short reply)
  size_t huge_bytes = 0;       // stream N bytes of junk (never buffered)
  bool chunked = false;        // with huge_bytes: no Content-Length
  bool reset = false;          // close the connection without an answer
  bool text_only = false;      // a valid answer with text and no picture
  std::string color;           // "RRGGBB" for the picture
  std::string picture;         // a broken picture: "corrupt", "tiny" (1x1), "huge" (20000x20000
                               // declared), "bad_base64"
  int count = 1;               // use for this many requests
};

class FakeServer {
public:
  // fixtures: folder of the provider fixtures (default: $GENFILL_FIXTURES).
  explicit FakeServer(std::string fixtures = {});
  ~FakeServer();
  FakeServer(const FakeServer &) = delete;
  FakeServer &operator=(const FakeServer &) = delete;

  void start(int port = 0);
  void stop();
  std::string base_url() const;  // http://127.0.0.1:PORT

  void set_color(uint32_t rgb);  // default 0xFF00FF
  void enqueue(const FakeReply &reply);
  void enqueue_json(const std::string &json);  // the /_fake/enqueue body format
  void reset();                                // clears the queue and the log
  std::string requests_json();                 // the /_fake/requests answer: an array of records
  size_t request_count();

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace genfill::test
