// A loopback fake of the Gemini, OpenAI, Imagen and chat-relay image services, strict about
// their wire formats.
// Runs a SoupServer on 127.0.0.1 in its own thread and main context.
//
// Provider endpoints (base URL = base_url(); OpenAI's base = base_url() + "/v1"):
//   POST /v1beta/models/{model}:generateContent   Gemini (key in x-goog-api-key)
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse
//                                                 Gemini, streamed: the same answer as server-sent
//                                                 events "data: {GenerateContentResponse}" + CRLF CRLF,
//                                                 parts spread over chunks: for thinking models (gemini-3*,
//                                                 gemini-nano*) a thought text, two thought pictures (drafts,
//                                                 grey 0x808080 and 0x606060), then the text in two pieces,
//                                                 then the picture with finishReason and usageMetadata
//                                                 (without alt=sse: 400, the fake does not speak the JSON
//                                                 array form)
//   POST /v1/images/generations                   OpenAI, JSON
//   POST /v1/images/edits                         OpenAI, multipart/form-data only
//                                                 Both with stream=true (JSON true; form "true") and
//                                                 partial_images 0-3: "event: image_edit.partial_image" (or
//                                                 image_generation.…) events with grey drafts, then
//                                                 "….completed" with the picture and usage (n must be 1)
//   POST /v1beta/models/{model}:predict           Imagen, legacy (key in x-goog-api-key)
//   POST /v1/chat/completions                     chat relay, OpenRouter's image form (also under
//                                                 /api/v1/, OpenRouter's own path); relay base =
//                                                 base_url() + "/v1"
// Gemini's Batch API (as python-genai 2.19.0 sends and reads it):
//   POST /v1beta/models/{model}:batchGenerateContent   {"batch": {"displayName", "inputConfig":
//                                                 {"requests": {"requests": [{"request": {…},
//                                                 "metadata": {"key"}}]}}}}: each request is checked
//                                                 and answered as generateContent would (a scripted
//                                                 reply each, in order); answers a long-running
//                                                 operation "batches/fake-N", state BATCH_STATE_PENDING
//   GET  /v1beta/batches/fake-N                   PENDING, then RUNNING, then (on the batch_gets-th
//                                                 get, default 3) the final state, with "done": true and
//                                                 the answers under metadata.output.inlinedResponses
//                                                 .inlinedResponses[] (and response.inlinedResponses):
//                                                 {"response": GenerateContentResponse} or {"error":
//                                                 google.rpc.Status}, each with "metadata": {"key"}
// Model lists (what `genfill models` and core/served read):
//   GET  /v1beta/models?pageSize=N&pageToken=T    Google's list (key in x-goog-api-key; a key in the
//                                                 query is 400, none 403): name "models/ID",
//                                                 displayName, supportedGenerationMethods; at most 4
//                                                 models a page, nextPageToken "fake-page-N" until
//                                                 the last page (which has none)
//   GET  /v1/models                               OpenAI's list (Bearer key, else 401): {"object":
//                                                 "list", "data": [{id, object "model", created,
//                                                 owned_by, shutdown_date: null or "YYYY-MM-DD"}]}
//   GET  /v1/models?output_modalities=image       a relay's list, OpenRouter's form ({"data": [{id,
//   GET  /api/v1/models[?output_modalities=...]   name, architecture.output_modalities}]}): image
//                                                 models only with output_modalities=image (or all)
//
// The models served, as the services were on 2026-12-04 (the tables in fake_SERVICE.cpp):
//   Gemini  listed: gemini-3.1-flash-image, gemini-3-pro-image, gemini-3.1-flash-lite-image,
//           gemini-nano-banana-2.1, gemini-9-flash-image-exp (an image model in no catalog), and
//           models that make no pictures (gemini-3.5-flash, gemini-embedding-001, a TTS and a Veo
//           model). Shut down, 404 NOT_FOUND "This model models/ID is no longer available…":
//           gemini-3-pro-image-preview, gemini-3.1-flash-image-preview, gemini-2.5-flash-image(-preview),
//           the 2.0 image ids. Any other gemini-* id is served, listed or not; ids not starting with
//           "gemini" are 404 "models/ID is not found…". All served ids answer with Gemini 3 sizes:
//           Pro (-pro-) and Flash-Lite (-lite-) the ten usual ratios, the others four more (1:4 4:1
//           1:8 8:1); imageSize 512 on Flash only (not Pro, Lite or nano-banana), Flash-Lite 1K only.
//           temperature / topP / topK in generationConfig are refused (400 INVALID_ARGUMENT).
//   OpenAI  listed: gpt-image-2, gpt-image-2-2026-04-21 (shutdown 120 days from today),
//           gpt-image-2.5-flare, gpt-image-2.5-sunburst, gpt-image-2.6-flare, gpt-image-3-preview
//           (in no catalog), chatgpt-image-latest (shutdown 3 days ago) and non-image models;
//           gpt-image-2.6-sunburst is served but not listed. 404 model_not_found for gpt-image-1,
//           gpt-image-1-mini, gpt-image-1.5(-2025-12-16), chatgpt-image-latest, dall-e-2/3 and any
//           model not starting with "gpt-image-"; gpt-image-2* take free sizes.
//   Relay   image models listed: google/gemini-3.1-flash-image, google/gemini-3-pro-image,
//           google/gemini-nano-banana-2.1, google/gemini-2.5-flash-image, openai/gpt-image-2; it
//           serves any model id holding "image".
//   Imagen  (:predict) any imagen-* id, as a legacy endpoint.
// Control endpoints (for tests that run the fake as a separate program):
//   POST /_fake/enqueue    a FakeReply as JSON (the field names below)
//   GET  /_fake/requests   the RecordedRequest log as a JSON array
//   POST /_fake/reset      clears the queue and the log
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace genfill::test {

// How to answer the next provider request(s). The request is always checked and recorded
// first; anything not set here keeps the normal, strict behaviour.
struct FakeReply {
  int status = 0;              // with fixture/body: answer this status and body as is
  std::string fixture;         // file under the fixtures folder, e.g. "gemini/error_500_internal.json"
  std::string body;
  std::map<std::string, std::string> headers;  // extra answer headers, e.g. {"retry-after", "1"}
  int delay_ms = 0;            // answer (or close, with reset) this long after the request arrived
  long truncate_at = -1;       // send only the first N bytes of the body, declared as the whole body
                               // (Content-Length N), then close the connection: a complete but
                               // cut answer, which the provider must reject as not understood
  size_t huge_bytes = 0;       // stream N bytes of junk with Content-Length N (never buffered)
  bool chunked = false;        // with huge_bytes: chunked encoding, no Content-Length
  bool reset = false;          // close the connection without an answer; with truncate_at: after
                               // the headers (declaring the full length) and N bytes of the body
  bool stall = false;          // headers (declaring the full length) and truncate_at bytes of the
                               // body (0 if unset), then silence with the connection left open
  bool text_only = false;      // a valid 200 answer with text and no picture (Imagen: every
                               // picture filtered)
  std::string color;           // "RRGGBB" for the picture
  std::string picture;         // a broken picture: "corrupt", "tiny" (1x1), "huge" (20000x20000
                               // declared), "bad_base64", "bomb" (a real 16000x16000 PNG of the
                               // colour, under 1 MB: a decompression bomb)
  bool echo_key = false;       // a 400 in the service's own error format whose message holds the
                               // key exactly as the request carried it (x-goog-api-key or Bearer),
                               // as a careless service or relay might
  std::string text;            // Gemini, relay: the model's words instead of the usual ones (may
                               // hold anything, escape sequences included)
  // Streamed answers: a pause before each event after the first; what goes wrong after N
  // events: the connection closed in the middle of the next event (cut), the answer ended
  // cleanly without the rest (end), silence with the connection left open (stall), an error
  // event in the service's format (error: Gemini a google.rpc.Status chunk, OpenAI an "error"
  // event with a server_error). -1 = none.
  int event_delay_ms = 0;
  int cut_after_events = -1, end_after_events = -1, stall_after_events = -1, error_after_events = -1;
  bool no_stream = false;      // OpenAI: the model refuses stream=true (400, param "stream")
  // Batch API: a reply with batch_state is taken by the job's creation itself (not by one of
  // its requests): the state the job ends in ("BATCH_STATE_EXPIRED" …; default SUCCEEDED), the
  // get that brings it, and whether the answers leave out their keys (as the service has been
  // reported to do).
  std::string batch_state;
  int batch_gets = 3;
  bool batch_drop_keys = false;
  int count = 1;               // use for this many provider requests
  bool lists = false;          // for model-list requests (GET …/models) instead of the others
  // "drift": {"dx", "dy", "scale", "gain", "offset"}: answer with the uploaded picture itself,
  // shifted, scaled about its centre and its colours changed (out = gain * in + offset), as
  // image models do; a centred ellipse is painted in `color` when one is given (the "edit").
  bool drift = false;
  double drift_dx = 0, drift_dy = 0, drift_scale = 1, drift_gain = 1, drift_offset = 0;
};

// What the fake saw of one provider request. Never holds the key itself.
struct RecordedRequest {
  std::string method, path, content_type, user_agent;
  bool has_key = false;       // a key was sent the proper way (header)
  bool key_in_query = false;  // a key was sent in the URL (always refused)
  std::string model, prompt;
  int n = 1;                  // OpenAI n, Imagen sampleCount
  std::string size;           // OpenAI "WxH" or "auto"
  std::string aspect;         // Gemini imageConfig.aspectRatio, Imagen aspectRatio, relay aspect_ratio
  std::string image_size;     // Gemini imageConfig.imageSize ("1K", "2K", "4K", "512")
  std::string input_fidelity; // OpenAI edits: "high", "low" or "" when not sent
  std::string quality;        // OpenAI: as sent ("" when not sent: the service's "auto")
  std::string background, output_format;  // OpenAI: as sent ("" when not sent); with
                              // background "transparent" the answer has a transparent background
  int image_count = 0;
  std::vector<std::pair<int, int>> image_sizes;   // (width, height) of each input picture
  std::optional<std::pair<int, int>> mask_size;   // OpenAI mask (width, height)
  // Conversations (Gemini, chat relays): the role of each turn, the thoughtSignatures sent back (in
  // the model's turns), and what the earlier user turns asked and how many pictures they held.
  std::vector<std::string> roles, signatures, history_prompts;
  int history_images = 0;
  size_t body_bytes = 0;
  bool stream = false;        // asked for a streamed answer (Gemini's streamGenerateContent, OpenAI's stream)
  int partial_images = -1;    // OpenAI: as sent; -1 = not sent
  int status = 0;             // what was answered; 0 = connection closed without an answer
};

// "RRGGBB" (or "#RRGGBB") to 0xRRGGBB; false when it is not six hex digits.
bool parse_color(const std::string &text, uint32_t *rgb);

class FakeServer {
public:
  // fixtures: folder of the provider fixtures (default: $GENFILL_FIXTURES).
  explicit FakeServer(std::string fixtures = {});
  ~FakeServer();
  FakeServer(const FakeServer &) = delete;
  FakeServer &operator=(const FakeServer &) = delete;

  void start(int port = 0);      // throws std::runtime_error when it cannot listen
  void stop();
  std::string base_url() const;  // http://127.0.0.1:PORT

  void set_color(uint32_t rgb);  // default 0xFF00FF
  void enqueue(const FakeReply &reply);        // throws std::invalid_argument for a bad colour
  void enqueue_json(const std::string &json);  // the /_fake/enqueue body format; throws when invalid
  void reset();                                // clears the queue and the log
  std::vector<RecordedRequest> requests();
  std::string requests_json();                 // the /_fake/requests answer
  size_t request_count();

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace genfill::test
