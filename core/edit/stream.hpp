// genfill — streamed answers inside a run: the server-sent events of each call read as they
// arrive (core/transport/sse), handed to the provider's StreamReader, drafts picked out; and
// which models a service refused to stream, remembered so that they are asked plainly next time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/image/image.hpp"
#include "core/providers/provider.hpp"
#include "core/transport/sse.hpp"

namespace genfill {

// The streams of one send_all, one per request.
class StreamedCalls {
public:
  // max_event_bytes caps one event (a draft or the answer in base64, as one line).
  StreamedCalls(const Provider &provider, size_t calls, size_t max_event_bytes);
  // The next bytes of call `index`'s 2xx answer: the drafts they complete, in order. Throws
  // Error{TooLarge} for an event over the cap.
  std::vector<EncodedImage> feed(size_t index, std::string_view bytes);
  // After call `index`'s answer ended: its Result, as the plain call would have given it. An
  // answer that was not a stream (a service or relay that ignored the request to stream) is
  // read as a plain answer; a stream cut inside an event fails with BadResponse.
  Result finish(size_t index, const HttpResponse &response);

private:
  struct Call {
    SseParser parser;
    std::unique_ptr<StreamReader> reader;
    bool events = false;  // an event came: this is a stream
    std::string head;     // the bytes before the first event (the whole answer when it is not a stream)
    explicit Call(size_t cap) : parser(cap) {}
  };
  const Provider &provider_;
  std::vector<Call> calls_;
};

// Drafts are decoded and shaped on a thread of their own, so that reading the stream (and its
// timeout, and Cancel) never waits for them; each finished draft is handed to `show`, in the
// order taken, on the context that made the DraftMaker (the caller's, which the transport runs).
class DraftMaker {
public:
  // make: decodes and shapes a draft (runs on the worker; throws Error to pass it over).
  // show: runs on the caller's context with the result, and the call it came from.
  DraftMaker(std::function<Image(const EncodedImage &)> make, std::function<void(size_t, Image)> show);
  ~DraftMaker();  // finish(false), if not yet
  DraftMaker(const DraftMaker &) = delete;
  DraftMaker &operator=(const DraftMaker &) = delete;
  void take(size_t call, EncodedImage draft);
  // Stops taking drafts. show_the_rest: those taken are made and shown before it returns (the
  // stream ended); else they are dropped (cancelled). Nothing is shown after it returns.
  void finish(bool show_the_rest);

  struct State;

private:
  std::shared_ptr<State> state_;
};

// Whether `provider` refused to stream `model` at `base_url` before (kept in the user's cache).
bool streaming_refused(std::string_view provider, const std::string &model, const std::string &base_url);
// Remembers that it did: later runs ask that model plainly at once.
void remember_streaming_refused(std::string_view provider, const std::string &model, const std::string &base_url);

}  // namespace genfill
