// genfill — HTTP transport on libsoup 3: timeouts, retries, cancellation, size cap.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gio/gio.h>

#include "core/transport/http.hpp"
#include "core/util/error.hpp"

namespace genfill {

// A service's base URL as given (argument, dialog, provider default): checked to be an https
// address with a host and without query, fragment or credentials, trailing slashes removed. An
// http:// address would send the key unencrypted: it is refused unless its host is this computer
// (localhost, 127.0.0.0/8, ::1). Throws Error{InvalidInput} otherwise; the message never repeats
// the address's credentials or query.
std::string base_url_for(const std::string &url);

struct TransportOptions {
  double connect_timeout_s = 30;     // to establish a connection
  double timeout_s = 300;            // per try, from sending to the last byte of the answer
  // All tries of one send_all and the waits between them together: no try or wait goes past it.
  // 0 = timeout_s + kDeadlineMarginS.
  double deadline_s = 0;
  int max_tries = 3;                 // first try included
  double backoff_initial_s = 1.0;    // doubled each retry, with jitter
  double backoff_max_s = 30;
  double max_server_delay_s = 120;   // a server asking to wait longer than this: give up
  size_t max_response_bytes = size_t(256) << 20;
  std::string user_agent;            // default: genfill/VERSION
};

// What a derived deadline (deadline_s = 0) allows beyond one try's timeout: a retry after a
// quick failure, or a server's Retry-After.
constexpr double kDeadlineMarginS = 120;

// Throws Error{InvalidInput} unless the timeouts are finite and above 0 (the deadline may be 0:
// derived) and at most a day. Transport's constructor checks; hosts may check earlier.
void validate(const TransportOptions &opts);
// The deadline `opts` give (deadline_s, or derived from timeout_s).
double deadline_of(const TransportOptions &opts);

// Events for progress reporting and logs (never carry secrets).
struct TransportEvent {
  enum Kind { Sending, Uploaded, Receiving, Retrying, Done } kind;
  int index = 0;          // which request of a batch
  int attempt = 1;
  double delay_s = 0;     // for Retrying
  int status = 0;         // for Retrying / Done
  size_t bytes = 0;       // Uploaded: body size; Receiving: bytes so far
};

// One request's end: the last response received (any status but a redirect; retries already
// done), or an Error (Network, Timeout, Cancelled, TooLarge; BadResponse for a redirect, which is
// never followed, or for a 2xx answer cut short, which is never asked again).
struct Outcome {
  std::optional<HttpResponse> response;
  std::optional<Error> error;
};

using RetryPolicy = std::function<RetryAdvice(const HttpResponse &)>;
using EventSink = std::function<void(const TransportEvent &)>;
// A streamed answer's bytes as they are read (request `index`), for 2xx answers only: they are
// then handed over instead of kept in HttpResponse::body (which stays empty), still counted
// against max_response_bytes. An Error it throws ends that request with that Error (the answer
// is not asked again: it may have been billed).
using BodySink = std::function<void(size_t index, std::string_view bytes)>;

class Transport {
public:
  explicit Transport(TransportOptions opts = {});  // throws Error{InvalidInput}: see validate()
  ~Transport();
  Transport(const Transport &) = delete;
  Transport &operator=(const Transport &) = delete;

  // Sends every request concurrently and returns when all have ended, in the same order.
  // Runs the calling thread's default GMainContext meanwhile, so the caller's own sources
  // (progress pulses, UI) keep running. Cancelling `cancel` ends all of them promptly with
  // Error{Cancelled}. Retries follow `policy` with exponential backoff and jitter, only for the
  // statuses retry_is_safe() names and for failures before any 2xx answer began, and only while
  // the deadline leaves time. Never throws for a request's failure; that goes into its Outcome.
  // With `on_body`, 2xx answers are streamed to it as they arrive (see BodySink); the try's
  // timeout still bounds the whole answer, so a stream that stalls between events runs out
  // of it like any slow answer.
  std::vector<Outcome> send_all(const std::vector<HttpRequest> &requests, const RetryPolicy &policy,
                                GCancellable *cancel = nullptr, const EventSink &on_event = {},
                                const BodySink &on_body = {});

  const TransportOptions &options() const { return opts_; }

  struct Impl;  // opaque

private:
  TransportOptions opts_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace genfill
