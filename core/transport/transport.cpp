// HTTP on libsoup 3: concurrent requests, per-try timeouts, retries with backoff,
// cancellation and a cap on the answer's size. Everything runs on the main context that was
// the thread default when the Transport was made; no exception leaves a libsoup callback.
#include "core/util/i18n.hpp"
#include "core/transport/transport.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>

#include <glib.h>
#include <libsoup/soup.h>

#include "core/util/gobj.hpp"

namespace genfill {

GENFILL_GREF_TYPE(SoupMessageHeaders, soup_message_headers_ref, soup_message_headers_unref);

namespace {

// This computer: localhost, 127.0.0.0/8, ::1 (g_uri_get_host drops the brackets of [::1]).
bool loopback_host(const char *host) {
  if (g_ascii_strcasecmp(host, "localhost") == 0) return true;
  GPtr<GInetAddress> address = adopt(g_inet_address_new_from_string(host));
  return address && g_inet_address_get_is_loopback(address.get());
}

}  // namespace

std::string base_url_for(const std::string &given) {
  std::string url = given;
  while (!url.empty() && url.back() == '/') url.pop_back();
  GErrorOut err;
  GPtr<GUri> parsed = adopt(g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, err.out()));
  GUri *uri = parsed.get();
  const char *scheme = uri ? g_uri_get_scheme(uri) : nullptr;
  const char *host = uri ? g_uri_get_host(uri) : nullptr;
  const bool http = g_strcmp0(scheme, "http") == 0;
  bool ok = uri && (g_strcmp0(scheme, "https") == 0 || http) && host && *host && !g_uri_get_query(uri) &&
            !g_uri_get_userinfo(uri) && !g_uri_get_fragment(uri);
  const bool local = ok && loopback_host(host);
  // The address is shown without credentials or query: they may hold a key.
  if (!ok)
    throw Error(ErrorCode::InvalidInput,
                format(_("The endpoint \"%s\" is not a usable web address. Give a base URL such as "
                         "https://example.com/v1, without query or credentials."),
                       redact(url).c_str()));
  if (http && !local)
    throw Error(ErrorCode::InvalidInput,
                format(_("The endpoint \"%s\" is an http:// address: it would send your API key unencrypted. "
                         "genfill accepts only https:// addresses, except for a service on this computer."),
                       url.c_str()));
  return url;
}

void validate(const TransportOptions &opts) {
  constexpr double kDay = 24 * 3600;
  auto fine = [kDay](double s) { return std::isfinite(s) && s > 0 && s <= kDay; };
  if (!fine(opts.timeout_s))
    throw Error(ErrorCode::InvalidInput,
                format(_("The time to wait for an answer must be more than 0 and at most 86400 seconds, not %g."),
                       opts.timeout_s));
  if (!fine(opts.connect_timeout_s))
    throw Error(ErrorCode::InvalidInput,
                format(_("The time to wait for a connection must be more than 0 and at most 86400 seconds, not %g."),
                       opts.connect_timeout_s));
  if (opts.deadline_s != 0 && !fine(opts.deadline_s))
    throw Error(ErrorCode::InvalidInput,
                format(_("The time allowed for all tries together must be more than 0 and at most 86400 seconds "
                         "(or 0: a few minutes more than one try), not %g."),
                       opts.deadline_s));
}

double deadline_of(const TransportOptions &opts) {
  return opts.deadline_s > 0 ? opts.deadline_s : opts.timeout_s + kDeadlineMarginS;
}

namespace {

struct MultipartFree {
  void operator()(SoupMultipart *m) const { soup_multipart_free(m); }
};

constexpr gsize kReadChunk = 64 * 1024;
constexpr guint kIdleTimeoutS = 60;  // keep-alive connections close after this long unused
constexpr double kMinTryS = 10;      // a retry starts only with this much time left (or a whole try)

struct UriParts {
  std::string host = "the service";  // host[:port], for messages and logs
  std::string path;                  // never the query: it could hold a key
};

// host[:port] of an address; "" when it has no host.
std::string host_of(GUri *uri) {
  std::string host = g_uri_get_host(uri) ? g_uri_get_host(uri) : "";
  if (!host.empty() && g_uri_get_port(uri) > 0) host += ":" + std::to_string(g_uri_get_port(uri));
  return host;
}

UriParts uri_parts(const std::string &url) {
  UriParts p;
  GPtr<GUri> uri = adopt(g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr));
  if (!uri) return p;
  if (std::string host = host_of(uri.get()); !host.empty()) p.host = std::move(host);
  p.path = g_uri_get_path(uri.get());
  return p;
}

guint add_timeout(GMainContext *ctx, double seconds, GSourceFunc fn, gpointer data) {
  GPtr<GSource> src = adopt(g_timeout_source_new(guint(std::clamp(seconds * 1000.0, 0.0, double(G_MAXUINT)))));
  g_source_set_callback(src.get(), fn, data, nullptr);
  return g_source_attach(src.get(), ctx);
}

void remove_source(GMainContext *ctx, guint &id) noexcept {
  if (!id) return;
  if (GSource *src = g_main_context_find_source_by_id(ctx, id)) g_source_destroy(src);
  id = 0;
}

// Worth another try: the network failed (refused, reset, cut short, timed out, name lookup).
// A TLS failure (certificate, handshake) or an answer that is not HTTP will fail again.
bool retryable(const GError *error) {
  if (!error) return false;
  if (error->domain == G_IO_ERROR) return error->code != G_IO_ERROR_CANCELLED;
  return error->domain == G_RESOLVER_ERROR;
}

}  // namespace

struct Transport::Impl {
  GPtr<SoupSession> session;
  GPtr<GMainContext> ctx;  // the thread default when the Transport was made
};

// One request's life across its tries. Lives in send_all() until every callback that
// points at it has run: finish() happens only when no operation of the call is pending.
struct Call {
  Transport::Impl *impl = nullptr;
  const TransportOptions *opts = nullptr;
  const RetryPolicy *policy = nullptr;
  const EventSink *events = nullptr;
  const BodySink *sink = nullptr;
  const HttpRequest *req = nullptr;
  GCancellable *user_cancel = nullptr;
  size_t index = 0;
  int attempt = 0;
  int *remaining = nullptr;
  UriParts where;

  // the body, built once for all tries
  GPtr<GBytes> body;
  std::string body_type;  // Content-Type, with the boundary for a form

  // current try
  GPtr<SoupMessage> msg;
  GPtr<GCancellable> try_cancel;
  GPtr<GInputStream> stream;
  guint timeout_src = 0, connect_src = 0, backoff_src = 0;
  bool timed_out = false, connect_timed_out = false, connected = false;
  bool began_2xx = false;  // a 2xx status line arrived: never ask again, its picture may be billed
  size_t received = 0;     // bytes of this try's answer so far (kept in response.body or streamed)
  double try_limit_s = 0;  // this try's time: the timeout, or less when the deadline is nearer
  HttpResponse response;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline;  // of the whole send_all

  bool finished = false;
  Outcome outcome;

  // Runs `f` from a C callback: whatever it throws ends this call instead of crossing the callback.
  template <typename F>
  void guarded(F &&f) noexcept {
    try {
      f();
      return;
    } catch (const Error &e) {  // said in the user's words already (a stream's reader)
      try {
        return fail(e.code(), e.message(), e.detail(), e.http_status() ? e.http_status() : response.status);
      } catch (...) {
      }
    } catch (const std::bad_alloc &) {
      g_warning("out of memory while handling the answer from %s", where.host.c_str());
      try {
        return too_big();
      } catch (...) {
      }
    } catch (const std::exception &e) {
      g_warning("transport failure for %s: %s", where.host.c_str(), e.what());
      try {
        return fail(ErrorCode::Network,
                    format(_("Could not reach %s (%s). Check your internet connection and the endpoint."),
                           where.host.c_str(), e.what()),
                    e.what());
      } catch (...) {
      }
    } catch (...) {
    }
    abandon();
  }

  void emit(TransportEvent::Kind kind, int status = 0, size_t bytes = 0, double delay = 0) noexcept {
    if (!events || !*events) return;
    TransportEvent ev{kind};
    ev.index = int(index);
    ev.attempt = attempt;
    ev.status = status;
    ev.bytes = bytes;
    ev.delay_s = delay;
    try {
      (*events)(ev);
    } catch (...) {
      g_warning("progress callback threw; ignored");
    }
  }

  void prepare_body() {
    if (req->form.empty()) {
      body = adopt(g_bytes_new(req->body.data(), req->body.size()));
      body_type = req->content_type;
      return;
    }
    std::unique_ptr<SoupMultipart, MultipartFree> mp(soup_multipart_new(SOUP_FORM_MIME_TYPE_MULTIPART));
    for (const FormPart &p : req->form) {
      if (p.filename.empty()) {
        soup_multipart_append_form_string(mp.get(), p.name.c_str(), p.value.c_str());
      } else {
        GPtr<GBytes> file = adopt(g_bytes_new(p.value.data(), p.value.size()));
        soup_multipart_append_form_file(mp.get(), p.name.c_str(), p.filename.c_str(),
                                        p.content_type.empty() ? nullptr : p.content_type.c_str(), file.get());
      }
    }
    GPtr<SoupMessageHeaders> h = adopt(soup_message_headers_new(SOUP_MESSAGE_HEADERS_MULTIPART));
    GBytes *bytes = nullptr;
    soup_multipart_to_message(mp.get(), h.get(), &bytes);
    body = adopt(bytes);
    const char *type = soup_message_headers_get_one(h.get(), "Content-Type");
    body_type = type ? type : "";
  }

  size_t body_size() const { return body ? g_bytes_get_size(body.get()) : 0; }

  // Cancels the current try's operations; their callbacks then end the try.
  void cancel_try() noexcept {
    GPtr<GCancellable> c = try_cancel;  // a callback run from inside cancel() may drop ours
    if (c) g_cancellable_cancel(c.get());
  }

  void clear_try() noexcept {
    remove_source(impl->ctx.get(), timeout_src);
    remove_source(impl->ctx.get(), connect_src);
    if (msg) g_signal_handlers_disconnect_by_data(msg.get(), this);
    if (stream) g_input_stream_close_async(stream.get(), G_PRIORITY_DEFAULT, nullptr, nullptr, nullptr);
    stream = {};
    msg = {};
    try_cancel = {};
  }

  void end() noexcept {
    finished = true;
    clear_try();
    remove_source(impl->ctx.get(), backoff_src);
    --*remaining;
  }

  void finish(Outcome o) {
    if (finished) return;
    outcome = std::move(o);
    end();
    emit(TransportEvent::Done, outcome.response ? outcome.response->status : 0);
  }

  // Last resort when even reporting a failure failed: the outcome stays empty.
  void abandon() noexcept {
    if (!finished) end();
  }

  // The error's words never show an address's credentials or query (libsoup's may name the URL).
  void fail(ErrorCode code, const std::string &message, const std::string &detail = {}, int status = 0) {
    Outcome o;
    o.error.emplace(code, redact(message), redact(detail), status);
    finish(std::move(o));
  }

  bool user_cancelled() const { return user_cancel && g_cancellable_is_cancelled(user_cancel); }

  // Seconds until the deadline (negative once past).
  double left() const {
    return std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
  }

  // Whether another try may follow after waiting `delay`: tries left, and time before the
  // deadline for the wait and a useful try.
  bool may_retry(double delay) const {
    return attempt < opts->max_tries && delay + std::min(opts->timeout_s, kMinTryS) <= left();
  }

  // ---- a try ----

  void start_try() {
    ++attempt;
    timed_out = connect_timed_out = connected = began_2xx = false;
    received = 0;
    response = HttpResponse{};
    started = std::chrono::steady_clock::now();
    try_limit_s = std::max(0.001, std::min(opts->timeout_s, left()));
    if (user_cancelled()) return fail(ErrorCode::Cancelled, _("Cancelled."));

    msg = adopt(soup_message_new(req->method.c_str(), req->url.c_str()));
    if (!msg)
      return fail(ErrorCode::InvalidInput, _("The service address is not a valid web address."), "bad URL");
    // A redirect would take the request, key included, to wherever the answer points.
    soup_message_add_flags(msg.get(), SOUP_MESSAGE_NO_REDIRECT);
    if (body_size() > 0 || !req->form.empty() || req->method == "POST")
      soup_message_set_request_body_from_bytes(msg.get(), body_type.empty() ? nullptr : body_type.c_str(),
                                               body.get());
    SoupMessageHeaders *h = soup_message_get_request_headers(msg.get());
    for (const auto &[name, value] : req->headers) soup_message_headers_replace(h, name.c_str(), value.c_str());

    g_signal_connect(msg.get(), "wrote-headers", G_CALLBACK(+[](SoupMessage *, gpointer self) {
                       static_cast<Call *>(self)->on_connected();
                     }), this);
    g_signal_connect(msg.get(), "wrote-body", G_CALLBACK(+[](SoupMessage *, gpointer self) {
                       auto *c = static_cast<Call *>(self);
                       c->emit(TransportEvent::Uploaded, 0, c->body_size());
                     }), this);
    // Only a message that opens a new connection sees these; one that reuses a kept-alive
    // connection goes straight to "wrote-headers".
    g_signal_connect(msg.get(), "network-event",
                     G_CALLBACK(+[](SoupMessage *, GSocketClientEvent event, GIOStream *, gpointer self) {
                       auto *c = static_cast<Call *>(self);
                       if (event == G_SOCKET_CLIENT_COMPLETE) c->on_connected();
                       else c->on_connecting();
                     }), this);

    try_cancel = adopt(g_cancellable_new());
    timeout_src = add_timeout(impl->ctx.get(), try_limit_s, +[](gpointer self) -> gboolean {
      auto *c = static_cast<Call *>(self);
      c->timeout_src = 0;
      c->timed_out = true;
      c->cancel_try();
      return G_SOURCE_REMOVE;
    }, this);

    g_debug("%s %s%s (try %d, %zu bytes)", req->method.c_str(), where.host.c_str(), where.path.c_str(), attempt,
            body_size());
    emit(TransportEvent::Sending);
    soup_session_send_async(impl->session.get(), msg.get(), G_PRIORITY_DEFAULT, try_cancel.get(),
                            +[](GObject *src, GAsyncResult *res, gpointer self) {
                              auto *c = static_cast<Call *>(self);
                              c->guarded([c, src, res] { c->on_sent(src, res); });
                            }, this);
  }

  // A new connection is being opened (name lookup, connect, proxy, TLS): bound its time.
  void on_connecting() noexcept {
    if (connected || connect_src || opts->connect_timeout_s >= try_limit_s) return;
    connect_src = add_timeout(impl->ctx.get(), opts->connect_timeout_s, +[](gpointer self) -> gboolean {
      auto *c = static_cast<Call *>(self);
      c->connect_src = 0;
      if (!c->connected) {
        c->connect_timed_out = true;
        c->cancel_try();
      }
      return G_SOURCE_REMOVE;
    }, this);
  }

  void on_connected() noexcept {
    connected = true;
    remove_source(impl->ctx.get(), connect_src);
  }

  void on_sent(GObject *src, GAsyncResult *res) {
    GErrorOut err;
    GPtr<GInputStream> in = adopt(soup_session_send_finish(SOUP_SESSION(src), res, err.out()));
    if (finished) return;
    if (!in) return on_error(err.get());
    stream = std::move(in);
    response.status = int(soup_message_get_status(msg.get()));
    if (response.status >= 300 && response.status < 400) return redirected();
    began_2xx = response.status >= 200 && response.status < 300;
    SoupMessageHeaders *h = soup_message_get_response_headers(msg.get());
    SoupMessageHeadersIter iter;
    soup_message_headers_iter_init(&iter, h);
    const char *name = nullptr, *value = nullptr;
    while (soup_message_headers_iter_next(&iter, &name, &value)) {
      GCharPtr lower(g_ascii_strdown(name, -1));
      response.headers.emplace_back(lower.get(), value);
    }
    if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH &&
        guint64(soup_message_headers_get_content_length(h)) > guint64(opts->max_response_bytes)) {
      g_debug("%s%s -> %d, declares %" G_GINT64_FORMAT " bytes: over the cap", where.host.c_str(),
              where.path.c_str(), response.status, soup_message_headers_get_content_length(h));
      return too_big();
    }
    read_more();
  }

  void read_more() {
    // Never ask for more than the cap allows, plus one byte to notice going over.
    const size_t room = opts->max_response_bytes - std::min(opts->max_response_bytes, received);
    const gsize want = gsize(std::min<size_t>(kReadChunk, room + 1));
    g_input_stream_read_bytes_async(stream.get(), want, G_PRIORITY_DEFAULT, try_cancel.get(),
                                    +[](GObject *src, GAsyncResult *res, gpointer self) {
                                      auto *c = static_cast<Call *>(self);
                                      c->guarded([c, src, res] { c->on_read(src, res); });
                                    }, this);
  }

  void on_read(GObject *src, GAsyncResult *res) {
    GErrorOut err;
    GPtr<GBytes> bytes = adopt(g_input_stream_read_bytes_finish(G_INPUT_STREAM(src), res, err.out()));
    if (finished) return;
    if (!bytes) return on_error(err.get());
    gsize n = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(bytes.get(), &n));
    if (n == 0) return on_response();
    if (received + n > opts->max_response_bytes) {
      g_debug("%s%s -> %d, over the cap after %zu bytes", where.host.c_str(), where.path.c_str(), response.status,
              received);
      return too_big();
    }
    received += n;
    if (began_2xx && sink && *sink) (*sink)(index, std::string_view(data, n));  // may throw Error: see guarded()
    else response.body.append(data, n);
    if (finished) return;
    emit(TransportEvent::Receiving, response.status, received);
    read_more();
  }

  // Not followed, not retried: the message names where the service pointed by host only (the
  // path or query could carry a key).
  void redirected() {
    const int status = response.status;
    std::string to;
    if (const char *location = soup_message_headers_get_one(soup_message_get_response_headers(msg.get()), "Location"))
      if (GPtr<GUri> target =
              adopt(g_uri_parse_relative(soup_message_get_uri(msg.get()), location, G_URI_FLAGS_NONE, nullptr)))
        to = host_of(target.get());
    g_debug("%s%s -> %d, a redirect to %s: not followed", where.host.c_str(), where.path.c_str(), status,
            to.empty() ? "(no address)" : to.c_str());
    clear_try();
    fail(ErrorCode::BadResponse,
         to.empty() ? format(_("The service at %s sent genfill elsewhere; genfill does not follow redirects, so "
                               "your key stays with the service you chose."),
                             where.host.c_str())
                    : format(_("The service at %s sent genfill elsewhere (to %s); genfill does not follow "
                               "redirects, so your key stays with the service you chose."),
                             where.host.c_str(), to.c_str()),
         "HTTP " + std::to_string(status) + " redirect to " + (to.empty() ? std::string("?") : to), status);
  }

  // A 2xx answer began and then failed: never asked again, as the service may have billed it.
  void cut_short(bool timeout, const std::string &detail) {
    const int status = response.status;
    if (timeout) {
      const int secs = std::max(1, int(std::lround(try_limit_s)));
      return fail(ErrorCode::Timeout,
                  format(g_dngettext(GETTEXT_PACKAGE,
                                     "%s answered, but its answer was cut short: the rest did not come within %d "
                                     "second. genfill did not ask again, as the service may already have billed it.",
                                     "%s answered, but its answer was cut short: the rest did not come within %d "
                                     "seconds. genfill did not ask again, as the service may already have billed it.",
                                     gulong(secs)),
                         where.host.c_str(), secs),
                  "HTTP " + std::to_string(status) + ", timed out after " + std::to_string(received) +
                      " bytes: " + detail,
                  status);
    }
    fail(ErrorCode::BadResponse,
         format(_("%s answered, but its answer was cut short. genfill did not ask again, as the service may "
                  "already have billed it."),
                where.host.c_str()),
         "HTTP " + std::to_string(status) + ", cut after " + std::to_string(received) + " bytes: " + detail,
         status);
  }

  void too_big() {
    fail(ErrorCode::TooLarge,
         format(_("The answer from %s was larger than genfill accepts (%zu MB), so it was stopped."),
                where.host.c_str(), opts->max_response_bytes >> 20),
         "response over cap");
  }

  void on_response() {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    g_debug("%s %s%s -> %d, %zu bytes, %.0f ms", req->method.c_str(), where.host.c_str(), where.path.c_str(),
            response.status, received, ms);
    clear_try();
    RetryAdvice advice;
    // Only a whole error answer that made nothing is worth another try, whatever the policy says.
    if (policy && *policy && retry_is_safe(response.status)) {
      try {
        advice = (*policy)(response);
      } catch (...) {
        advice = RetryAdvice{};
      }
    }
    if (advice.retry && attempt < opts->max_tries) {
      const double delay = advice.delay_s >= 0 ? advice.delay_s : backoff();
      if (advice.delay_s > opts->max_server_delay_s) {  // the server wants a long pause: report, don't wait
        g_debug("%s%s: server asks to wait %.0f s; not retrying", where.host.c_str(), where.path.c_str(),
                advice.delay_s);
      } else if (!may_retry(delay)) {
        g_debug("%s%s: a try in %.2f s would end past the deadline; not retrying", where.host.c_str(),
                where.path.c_str(), delay);
      } else {
        return retry_after(delay, response.status);
      }
    }
    Outcome o;
    o.response = std::move(response);
    finish(std::move(o));
  }

  void on_error(const GError *error) {
    const bool user = user_cancelled();
    const std::string detail = error ? error->message : "unknown";
    const bool timeout = timed_out, connect_timeout = connect_timed_out;
    g_debug("%s %s%s failed: %s", req->method.c_str(), where.host.c_str(), where.path.c_str(),
            timeout ? "timed out" : connect_timeout ? "connect timed out" : detail.c_str());
    clear_try();
    if (user) return fail(ErrorCode::Cancelled, _("Cancelled."), detail);
    if (began_2xx) return cut_short(timeout, detail);
    if (timeout) {
      const int secs = std::max(1, int(std::lround(try_limit_s)));
      return fail(ErrorCode::Timeout,
                  format(g_dngettext(GETTEXT_PACKAGE, "%s did not answer within %d second. Try again, or allow more time.",
                                     "%s did not answer within %d seconds. Try again, or allow more time.",
                                     gulong(secs)),
                         where.host.c_str(), secs),
                  detail);
    }
    if (error && error->domain == G_TLS_ERROR)
      return fail(ErrorCode::Network,
                  format(_("The secure connection to %s failed; its certificate could not be verified."),
                         where.host.c_str()),
                  detail);
    if (connect_timeout || retryable(error))
      if (const double delay = backoff(); may_retry(delay)) return retry_after(delay, 0);
    std::string why = connect_timeout ? _("it did not respond") : detail;
    fail(ErrorCode::Network,
         format(_("Could not reach %s (%s). Check your internet connection and the endpoint."), where.host.c_str(),
                why.c_str()),
         detail);
  }

  double backoff() const {
    double d = std::min(opts->backoff_max_s, opts->backoff_initial_s * std::pow(2.0, attempt - 1));
    return std::max(0.0, d * (1.0 - 0.25 * g_random_double()));  // jitter: -25 % .. 0
  }

  void retry_after(double delay, int status) {
    g_debug("%s%s: try %d in %.2f s", where.host.c_str(), where.path.c_str(), attempt + 1, delay);
    emit(TransportEvent::Retrying, status, 0, delay);
    backoff_src = add_timeout(impl->ctx.get(), delay, +[](gpointer self) -> gboolean {
      auto *c = static_cast<Call *>(self);
      c->backoff_src = 0;
      c->guarded([c] { c->start_try(); });
      return G_SOURCE_REMOVE;
    }, this);
  }

  // The user's cancellable fired (seen on our own context, whichever thread cancelled it).
  void on_user_cancel() {
    if (finished) return;
    if (backoff_src) {  // waiting between tries: nothing is pending
      remove_source(impl->ctx.get(), backoff_src);
      return fail(ErrorCode::Cancelled, _("Cancelled."));
    }
    cancel_try();  // the pending operation ends with G_IO_ERROR_CANCELLED, then on_error
  }
};

Transport::Transport(TransportOptions opts) : opts_(std::move(opts)), impl_(std::make_unique<Impl>()) {
  validate(opts_);
  if (opts_.user_agent.empty()) opts_.user_agent = std::string("genfill/") + GENFILL_VERSION;
  if (opts_.max_tries < 1) opts_.max_tries = 1;
  impl_->ctx = adopt(g_main_context_ref_thread_default());
  // TLS is verified and the system proxy resolver used: both are libsoup's defaults.
  // "timeout" bounds each read or write; our own timer bounds a whole try.
  const guint io_timeout = guint(std::ceil(opts_.timeout_s));
  impl_->session = adopt(soup_session_new_with_options("user-agent", opts_.user_agent.c_str(), "timeout", io_timeout,
                                                       "idle-timeout", kIdleTimeoutS, "max-conns", 32,
                                                       "max-conns-per-host", 16, nullptr));
}

Transport::~Transport() {
  if (impl_->session) soup_session_abort(impl_->session.get());
  impl_->session = {};
}

std::vector<Outcome> Transport::send_all(const std::vector<HttpRequest> &requests, const RetryPolicy &policy,
                                         GCancellable *cancel, const EventSink &on_event,
                                         const BodySink &on_body) {
  int remaining = int(requests.size());
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(deadline_of(opts_)));
  std::vector<std::unique_ptr<Call>> calls;
  calls.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto c = std::make_unique<Call>();
    c->impl = impl_.get();
    c->opts = &opts_;
    c->policy = &policy;
    c->events = &on_event;
    c->sink = &on_body;
    c->req = &requests[i];
    c->user_cancel = cancel;
    c->index = i;
    c->remaining = &remaining;
    c->deadline = deadline;
    c->where = uri_parts(requests[i].url);
    c->prepare_body();
    calls.push_back(std::move(c));
  }

  // A cancellable source dispatches on our context even when another thread cancels.
  GPtr<GSource> cancel_src;
  if (cancel) {
    GCancellableSourceFunc on_cancel = [](GCancellable *, gpointer data) -> gboolean {
      for (auto &c : *static_cast<std::vector<std::unique_ptr<Call>> *>(data)) c->guarded([&c] { c->on_user_cancel(); });
      return G_SOURCE_REMOVE;
    };
    cancel_src = adopt(g_cancellable_source_new(cancel));
    g_source_set_callback(cancel_src.get(), G_SOURCE_FUNC(on_cancel), &calls, nullptr);
    g_source_attach(cancel_src.get(), impl_->ctx.get());
  }

  for (auto &c : calls) c->guarded([&c] { c->start_try(); });
  while (remaining > 0) g_main_context_iteration(impl_->ctx.get(), TRUE);

  if (cancel_src) g_source_destroy(cancel_src.get());
  std::vector<Outcome> out;
  out.reserve(calls.size());
  for (auto &c : calls) out.push_back(std::move(c->outcome));
  return out;
}

}  // namespace genfill
