// genfill — HTTP transport on libsoup 3: timeouts, retries, cancellation, size cap.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gio/gio.h>

#include "core/providers/provider.hpp"
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
  int max_tries = 3;                 // first try included
  double backoff_initial_s = 1.0;    // doubled each retry, with jitter
  double backoff_max_s = 30;
  double max_server_delay_s = 120;   // a server asking to wait longer than this: give up
  size_t max_response_bytes = size_t(256) << 20;
  std::string user_agent;            // default: genfill/VERSION
};

// Events for progress reporting and logs (never carry secrets).
struct TransportEvent {
  enum Kind { Sending, Uploaded, Receiving, Retrying, Done } kind;
  int index = 0;          // which request of a batch
  int attempt = 1;
  double delay_s = 0;     // for Retrying
  int status = 0;         // for Retrying / Done
  size_t bytes = 0;       // Uploaded: body size; Receiving: bytes so far
};

// One request's end: the last response received (any status; retries already done),
// or an Error (Network, Timeout, Cancelled, TooLarge).
struct Outcome {
  std::optional<HttpResponse> response;
  std::optional<Error> error;
};

using RetryPolicy = std::function<RetryAdvice(const HttpResponse &)>;
using EventSink = std::function<void(const TransportEvent &)>;

class Transport {
public:
  explicit Transport(TransportOptions opts = {});
  ~Transport();
  Transport(const Transport &) = delete;
  Transport &operator=(const Transport &) = delete;

  // Sends every request concurrently and returns when all have ended, in the same order.
  // Runs the calling thread's default GMainContext meanwhile, so the caller's own sources
  // (progress pulses, UI) keep running. Cancelling `cancel` ends all of them promptly with
  // Error{Cancelled}. Retries follow `policy` with exponential backoff and jitter.
  // Never throws for a request's failure; that goes into its Outcome.
  std::vector<Outcome> send_all(const std::vector<HttpRequest> &requests, const RetryPolicy &policy,
                                GCancellable *cancel = nullptr, const EventSink &on_event = {});

  const TransportOptions &options() const { return opts_; }

  struct Impl;  // opaque

private:
  TransportOptions opts_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace genfill
