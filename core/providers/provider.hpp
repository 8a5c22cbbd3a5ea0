// genfill — the provider interface: a neutral request in, an HTTP request out;
// an HTTP response in, a neutral result (or an Error) out. Providers never send anything.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/image/image.hpp"
#include "core/transport/http.hpp"  // the wire types: HttpRequest, HttpResponse, RetryAdvice
#include "core/transport/sse.hpp"   // SseEvent: what a streamed answer is read as

namespace genfill {

// --- the neutral request and result ---

// What the service says it billed, in tokens; -1 = not reported. The details split input and
// output by kind where the service says so (Gemini's promptTokensDetails/candidatesTokensDetails
// by modality, OpenAI's input_tokens_details/output_tokens_details); thoughts are Gemini's
// thoughtsTokenCount, counted apart from output_tokens and billed as output.
struct Usage {
  int64_t input_tokens = -1, output_tokens = -1, total_tokens = -1;
  int64_t input_text_tokens = -1, input_image_tokens = -1;
  int64_t output_text_tokens = -1, output_image_tokens = -1;
  int64_t thoughts_tokens = -1;
  bool reported() const { return input_tokens >= 0 || output_tokens >= 0 || total_tokens >= 0; }
};

// One part of an earlier conversation turn: text or an image, with the model's opaque
// signature (Gemini `thoughtSignature`) kept exactly as received so it can be returned unchanged.
struct TurnPart {
  std::string text;
  std::optional<EncodedImage> image;
  std::string thought_signature;  // "" = none
};

// An earlier turn: "user" (what was asked and sent) or "model" (what came back).
struct Turn {
  std::string role;
  std::vector<TurnPart> parts;
};

struct Request {
  std::string model;                 // never empty by the time a provider sees it
  std::string base_url;              // never empty by the time a provider sees it (no trailing '/')
  std::string prompt;
  std::vector<EncodedImage> images;  // first = the one edited, further = references; empty = generate
  std::optional<Mask> mask;          // same size as images[0]; 255 = change
  std::string aspect;                // "16:9" (for models that take a ratio)
  int width = 0, height = 0;         // exact output size (for models that take one), 0 = let the model choose
  std::string image_size;            // the model's named output size, e.g. Gemini 3's "2K"; "" = none
  std::string quality;               // OpenAI's quality ("low" ... "high"); "" = the service's default
  std::vector<std::string> response_modalities;  // Gemini: what the answer may hold; empty = text and image
  bool input_fidelity_high = false;  // OpenAI edits: keep the input pictures' details (input_fidelity)
  bool transparent = false;          // a transparent background (OpenAI: background + PNG)
  int n = 1;                         // images wanted from this one call
  std::optional<int64_t> seed;
  // Earlier turns of the same conversation, oldest first, ending with a "model" turn. Providers
  // that keep context (Gemini) send them as history; others fold the earlier instructions in.
  std::vector<Turn> history;
  // Ask for the answer as server-sent events, with drafts on the way (providers whose
  // stream_reader() is not null; the catalog says which models): Gemini's
  // streamGenerateContent, OpenAI's stream=true with `partial_images` partial pictures (0-3).
  bool stream = false;
  int partial_images = 0;
};

struct Result {
  std::vector<EncodedImage> images;  // in the model's order
  std::string text;                  // any text the model sent alongside
  std::string finish_reason;         // the provider's own word, e.g. "STOP"
  Usage usage;
  // The model's answer as a conversation turn (its non-thought parts in order, signatures
  // kept), for continuing the conversation. Empty for providers without conversations.
  std::vector<TurnPart> model_parts;
};

// One model as a service's own model list names it.
struct ServedModel {
  std::string id;            // as used in requests (Gemini's "models/" prefix removed)
  std::string display_name;  // "" when the list gives none
  bool image = false;        // makes pictures, as far as the list tells
  std::string shutdown;      // announced shutdown day, "YYYY-MM-DD"; "" = none announced
};

// One page of a service's model list.
struct ModelPage {
  std::vector<ServedModel> models;
  std::string next_page;  // token for the next page; "" = this was the last
};

// A streamed answer, read event by event as it arrives (see Provider::stream_reader).
class StreamReader {
public:
  virtual ~StreamReader() = default;
  // One event of the stream: the draft picture it carries, if any (Gemini's thought pictures,
  // OpenAI's partial images). Never throws: what is wrong with the stream is said by finish().
  virtual std::optional<EncodedImage> take(const SseEvent &event) = 0;
  // After the stream's last event: the answer exactly as parse() gives it for the same call
  // made without streaming (pictures, text, usage, signatures). Throws Error as parse() does:
  // for an error event in the stream, and BadResponse when the stream ended before its answer.
  virtual Result finish() = 0;
};

// A batch job (Gemini's Batch API): many requests as one job, answered within a day at a lower
// price. Its state as genfill says it: "pending", "running", "succeeded", "failed",
// "cancelled", "expired".
struct BatchItem {
  std::string key;        // the key the request was submitted under
  HttpResponse answer;    // as the plain call would have answered (an error as its error answer)
};
struct BatchJob {
  std::string name;       // the service's id of the job, e.g. "batches/123"
  std::string state;
  bool done = false;      // no further change will come
  std::vector<BatchItem> items;  // once it succeeded
};

class Provider {
public:
  virtual ~Provider() = default;

  virtual std::string_view name() const = 0;           // registry key, e.g. "gemini"
  virtual std::string_view display_name() const = 0;   // e.g. "Google Gemini"
  virtual std::string_view default_base_url() const = 0;
  virtual std::vector<std::string> key_env_vars() const = 0;  // first found wins

  // Builds the HTTP request. Throws Error{InvalidInput} when the request cannot be expressed.
  virtual HttpRequest build(const Request &req, const std::string &api_key) const = 0;
  // Parses any response (2xx or not). Returns a result with at least one image, or throws Error.
  virtual Result parse(const HttpResponse &resp) const = 0;
  // The service's list of the models it serves, page by page (`page_token` "" = the first).
  // Default: the service has no such list (nullopt).
  virtual std::optional<HttpRequest> build_model_list(const std::string &base_url, const std::string &api_key,
                                                      const std::string &page_token) const;
  // Parses one page of that list (2xx or not). Throws Error as parse() does.
  virtual ModelPage parse_model_list(const HttpResponse &resp) const;

  // Streaming: a reader for one streamed answer, or nullptr when this provider never streams
  // (then build() ignores Request::stream). Default: nullptr.
  virtual std::unique_ptr<StreamReader> stream_reader() const { return nullptr; }
  // Whether an error answer to a streamed request says that this model does not stream (then
  // the same call is made once more without streaming). Default: never.
  virtual bool refuses_streaming(const HttpResponse &) const { return false; }

  // Batch jobs: the requests `build` made (each under its key) submitted as one job for `model`;
  // nullopt when the service has no batch mode. Default: none.
  virtual std::optional<HttpRequest> build_batch(const std::string &base_url, const std::string &model,
                                                 const std::vector<std::pair<std::string, HttpRequest>> &requests,
                                                 const std::string &display_name,
                                                 const std::string &api_key) const;
  // The request that asks how a job stands.
  virtual std::optional<HttpRequest> build_batch_get(const std::string &base_url, const std::string &name,
                                                     const std::string &api_key) const;
  // Reads a job as created or got (2xx or not: an error answer throws Error as parse() does).
  virtual BatchJob parse_batch(const HttpResponse &resp) const;

  // Whether a failed response is worth retrying. Default: 408/429/500/502/503/504 (see
  // retry_is_safe; the transport never retries any other), honouring Retry-After / retry-after-ms.
  virtual RetryAdvice retry_advice(const HttpResponse &resp) const;
};

// The service's name as users know it: "Gemini", "OpenAI", "Imagen", "Chat relay".
std::string service_name(const Provider &p);

// The registry (registry.cpp): providers in a stable order. A provider's default model is the
// catalog's (core/catalog), never the provider's own.
const std::vector<const Provider *> &all_providers();
const Provider *find_provider(std::string_view name);  // nullptr when unknown

}  // namespace genfill
