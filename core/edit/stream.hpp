// genfill — streamed answers inside a run: the server-sent events of each call read as they
// arrive (core/transport/sse), handed to the provider's StreamReader, drafts picked out; and
// which models a service refused to stream, remembered so that they are asked plainly next time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// Whether `provider` refused to stream `model` at `base_url` before (kept in the user's cache).
bool streaming_refused(std::string_view provider, const std::string &model, const std::string &base_url);
// Remembers that it did: later runs ask that model plainly at once.
void remember_streaming_refused(std::string_view provider, const std::string &model, const std::string &base_url);

}  // namespace genfill
