// HTTP on libsoup 3: concurrent requests, per-try timeouts, retries with backoff,
// cancellation and a cap on the answer's size. Everything runs on the calling thread's
// default main context; no exception leaves a libsoup callback.
#include "core/util/i18n.hpp"
#include "core/transport/transport.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <glib.h>
#include <libsoup/soup.h>

#include "core/util/gobj.hpp"

namespace genfill {

namespace {

constexpr gsize kReadChunk = 64 * 1024;

std::string host_of(const std::string &url) {
  GUri *uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  std::string host = uri && g_uri_get_host(uri) ? g_uri_get_host(uri) : "the service";
  if (uri) {
    if (g_uri_get_port(uri) > 0) host += ":" + std::to_string(g_uri_get_port(uri));
    g_uri_unref(uri);
  }
  return host;
}

std::string path_of(const std::string &url) {
  GUri *uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  std::string path = uri ? g_uri_get_path(uri) : "";
  if (uri) g_uri_unref(uri);
  return path;
}

guint add_timeout(GMainContext *ctx, double seconds, GSourceFunc fn, gpointer data) {
  GSource *src = g_timeout_source_new(guint(std::max(0.0, seconds * 1000.0)));
  g_source_set_callback(src, fn, data, nullptr);
  guint id = g_source_attach(src, ctx);
  g_source_unref(src);
  return id;
}

void remove_source(GMainContext *ctx, guint &id) {
  if (!id) return;
  if (GSource *src = g_main_context_find_source_by_id(ctx, id)) g_source_destroy(src);
  id = 0;
}

}  // namespace

struct Transport::Impl {
  GPtr<SoupSession> session;
  GMainContext *ctx = nullptr;
};

// One request's life across its tries.
struct Call {
  Transport::Impl *impl = nullptr;
  const TransportOptions *opts = nullptr;
  const RetryPolicy *policy = nullptr;
  const EventSink *events = nullptr;
  const HttpRequest *req = nullptr;
  GCancellable *user_cancel = nullptr;
  gulong user_cancel_handler = 0;
  size_t index = 0;
  int attempt = 0;
  int *remaining = nullptr;

  // current try
  GPtr<SoupMessage> msg;
  GPtr<GCancellable> try_cancel;
  GPtr<GInputStream> stream;
  guint timeout_src = 0, connect_src = 0, backoff_src = 0, cancel_idle = 0;
  bool timed_out = false, connect_timed_out = false, connected = false, too_large = false;
  HttpResponse response;
  std::chrono::steady_clock::time_point started;

  bool finished = false;
  Outcome outcome;

  void emit(TransportEvent::Kind kind, int status = 0, size_t bytes = 0, double delay = 0) {
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

  void clear_try() {
    remove_source(impl->ctx, timeout_src);
    remove_source(impl->ctx, connect_src);
    if (msg) g_signal_handlers_disconnect_by_data(msg.get(), this);
    if (stream) g_input_stream_close_async(stream.get(), G_PRIORITY_DEFAULT, nullptr, nullptr, nullptr);
    stream = {};
    msg = {};
    try_cancel = {};
  }

  void finish(Outcome o) {
    if (finished) return;
    finished = true;
    clear_try();
    remove_source(impl->ctx, backoff_src);
    remove_source(impl->ctx, cancel_idle);
    outcome = std::move(o);
    emit(TransportEvent::Done, outcome.response ? outcome.response->status : 0);
    --*remaining;
  }

  void fail(ErrorCode code, std::string message, std::string detail = {}) {
    Outcome o;
    o.error.emplace(code, std::move(message), std::move(detail));
    finish(std::move(o));
  }

  bool user_cancelled() const { return user_cancel && g_cancellable_is_cancelled(user_cancel); }

  // ---- a try ----

  void start_try() {
    ++attempt;
    timed_out = connect_timed_out = connected = too_large = false;
    response = HttpResponse{};
    started = std::chrono::steady_clock::now();
    if (user_cancelled()) return fail(ErrorCode::Cancelled, _("Cancelled."));

    if (!req->form.empty()) {
      SoupMultipart *mp = soup_multipart_new(SOUP_FORM_MIME_TYPE_MULTIPART);
      for (const FormPart &p : req->form) {
        if (p.filename.empty()) {
          soup_multipart_append_form_string(mp, p.name.c_str(), p.value.c_str());
        } else {
          GBytes *b = g_bytes_new(p.value.data(), p.value.size());
          soup_multipart_append_form_file(mp, p.name.c_str(), p.filename.c_str(), p.content_type.c_str(), b);
          g_bytes_unref(b);
        }
      }
      msg = adopt(soup_message_new_from_multipart(req->url.c_str(), mp));
      soup_multipart_free(mp);
    } else {
      msg = adopt(soup_message_new(req->method.c_str(), req->url.c_str()));
      if (msg && (!req->body.empty() || req->method == "POST")) {
        GBytes *b = g_bytes_new(req->body.data(), req->body.size());
        soup_message_set_request_body_from_bytes(msg.get(), req->content_type.empty() ? nullptr : req->content_type.c_str(), b);
        g_bytes_unref(b);
      }
    }
    if (!msg)
      return fail(ErrorCode::InvalidInput, _("The service address is not a valid web address."), "bad URL");
    SoupMessageHeaders *h = soup_message_get_request_headers(msg.get());
    for (const auto &[name, value] : req->headers) soup_message_headers_replace(h, name.c_str(), value.c_str());

    g_signal_connect(msg.get(), "wrote-body", G_CALLBACK(+[](SoupMessage *, gpointer self) {
                       auto *c = static_cast<Call *>(self);
                       c->emit(TransportEvent::Uploaded, 0, c->req->form.empty() ? c->req->body.size() : 0);
                     }), this);
    g_signal_connect(msg.get(), "network-event",
                     G_CALLBACK(+[](SoupMessage *, GSocketClientEvent event, GIOStream *, gpointer self) {
                       auto *c = static_cast<Call *>(self);
                       if (event == G_SOCKET_CLIENT_COMPLETE && !c->connected) {
                         c->connected = true;
                         remove_source(c->impl->ctx, c->connect_src);
                       }
                     }), this);

    try_cancel = adopt(g_cancellable_new());
    timeout_src = add_timeout(impl->ctx, opts->timeout_s, +[](gpointer self) -> gboolean {
      auto *c = static_cast<Call *>(self);
      c->timeout_src = 0;
      c->timed_out = true;
      g_cancellable_cancel(c->try_cancel.get());
      return G_SOURCE_REMOVE;
    }, this);
    if (opts->connect_timeout_s > 0 && opts->connect_timeout_s < opts->timeout_s)
      connect_src = add_timeout(impl->ctx, opts->connect_timeout_s, +[](gpointer self) -> gboolean {
        auto *c = static_cast<Call *>(self);
        c->connect_src = 0;
        if (!c->connected) {
          c->connect_timed_out = true;
          g_cancellable_cancel(c->try_cancel.get());
        }
        return G_SOURCE_REMOVE;
      }, this);

    g_debug("%s %s%s (try %d)", req->method.c_str(), host_of(req->url).c_str(), path_of(req->url).c_str(), attempt);
    emit(TransportEvent::Sending);
    soup_session_send_async(impl->session.get(), msg.get(), G_PRIORITY_DEFAULT, try_cancel.get(),
                            +[](GObject *src, GAsyncResult *res, gpointer self) {
                              static_cast<Call *>(self)->on_sent(src, res);
                            }, this);
  }

  void on_sent(GObject *src, GAsyncResult *res) {
    GErrorOut err;
    GInputStream *in = soup_session_send_finish(SOUP_SESSION(src), res, err.out());
    if (finished) {
      if (in) g_object_unref(in);
      return;
    }
    if (!in) return on_error(err.get());
    stream = adopt(in);
    response.status = int(soup_message_get_status(msg.get()));
    SoupMessageHeaders *h = soup_message_get_response_headers(msg.get());
    SoupMessageHeadersIter iter;
    soup_message_headers_iter_init(&iter, h);
    const char *name = nullptr, *value = nullptr;
    while (soup_message_headers_iter_next(&iter, &name, &value)) {
      GCharPtr lower(g_ascii_strdown(name, -1));
      response.headers.emplace_back(lower.get(), value);
    }
    if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH &&
        size_t(soup_message_headers_get_content_length(h)) > opts->max_response_bytes)
      return too_big();
    read_more();
  }

  void read_more() {
    g_input_stream_read_bytes_async(stream.get(), kReadChunk, G_PRIORITY_DEFAULT, try_cancel.get(),
                                     +[](GObject *src, GAsyncResult *res, gpointer self) {
                                       static_cast<Call *>(self)->on_read(src, res);
                                     }, this);
  }

  void on_read(GObject *src, GAsyncResult *res) {
    GErrorOut err;
    GBytes *bytes = g_input_stream_read_bytes_finish(G_INPUT_STREAM(src), res, err.out());
    if (finished) {
      if (bytes) g_bytes_unref(bytes);
      return;
    }
    if (!bytes) return on_error(err.get());
    gsize n = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(bytes, &n));
    if (n == 0) {
      g_bytes_unref(bytes);
      return on_response();
    }
    if (response.body.size() + n > opts->max_response_bytes) {
      g_bytes_unref(bytes);
      return too_big();
    }
    response.body.append(data, n);
    g_bytes_unref(bytes);
    emit(TransportEvent::Receiving, response.status, response.body.size());
    read_more();
  }

  void too_big() {
    too_large = true;
    fail(ErrorCode::TooLarge,
         format(_("The answer from %s was larger than genfill accepts (%zu MB), so it was stopped."),
                host_of(req->url).c_str(), opts->max_response_bytes >> 20),
         "response over cap");
  }

  void on_response() {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    g_debug("%s %s%s -> %d, %zu bytes, %.0f ms", req->method.c_str(), host_of(req->url).c_str(),
            path_of(req->url).c_str(), response.status, response.body.size(), ms);
    clear_try();
    RetryAdvice advice;
    if (response.status < 200 || response.status >= 300) {
      try {
        advice = (*policy)(response);
      } catch (...) {
        advice = RetryAdvice{};
      }
    }
    if (advice.retry && attempt < opts->max_tries) {
      if (advice.delay_s > opts->max_server_delay_s) {  // the server wants a long pause: report, don't wait
        Outcome o;
        o.response = std::move(response);
        return finish(std::move(o));
      }
      return retry_after(advice.delay_s >= 0 ? advice.delay_s : backoff(), response.status);
    }
    Outcome o;
    o.response = std::move(response);
    finish(std::move(o));
  }

  void on_error(GError *error) {
    const bool user = user_cancelled();
    const std::string detail = error ? error->message : "unknown";
    const bool timeout = timed_out, connect_timeout = connect_timed_out;
    g_debug("%s %s%s failed: %s", req->method.c_str(), host_of(req->url).c_str(), path_of(req->url).c_str(),
            timeout ? "timed out" : connect_timeout ? "connect timed out" : detail.c_str());
    clear_try();
    if (user) return fail(ErrorCode::Cancelled, _("Cancelled."), detail);
    if (timeout)
      return fail(ErrorCode::Timeout,
                  format(g_dngettext(GETTEXT_PACKAGE, "%s did not answer within %d second. Try again, or allow more time.",
                                     "%s did not answer within %d seconds. Try again, or allow more time.",
                                     gulong(opts->timeout_s)),
                         host_of(req->url).c_str(), int(opts->timeout_s)),
                  detail);
    if (error && error->domain == G_TLS_ERROR)
      return fail(ErrorCode::Network,
                  format(_("The secure connection to %s failed; its certificate could not be verified."),
                         host_of(req->url).c_str()),
                  detail);
    if (attempt < opts->max_tries) return retry_after(backoff(), 0);
    std::string why = connect_timeout ? _("it did not respond") : detail;
    fail(ErrorCode::Network,
         format(_("Could not reach %s (%s). Check your internet connection and the endpoint."),
                host_of(req->url).c_str(), why.c_str()),
         detail);
  }

  double backoff() const {
    double d = std::min(opts->backoff_max_s, opts->backoff_initial_s * std::pow(2.0, attempt - 1));
    return d * (1.0 - 0.25 * g_random_double());  // jitter: -25 % .. 0
  }

  void retry_after(double delay, int status) {
    g_debug("retrying %s in %.2f s", path_of(req->url).c_str(), delay);
    emit(TransportEvent::Retrying, status, 0, delay);
    backoff_src = add_timeout(impl->ctx, delay, +[](gpointer self) -> gboolean {
      auto *c = static_cast<Call *>(self);
      c->backoff_src = 0;
      c->start_try();
      return G_SOURCE_REMOVE;
    }, this);
  }

  // The user's cancellable fired (maybe from inside g_cancellable_connect): stop the try now,
  // and finish from an idle so the handler is never disconnected from inside itself.
  void on_user_cancel() {
    if (try_cancel) g_cancellable_cancel(try_cancel.get());
    if (backoff_src && !cancel_idle) {
      remove_source(impl->ctx, backoff_src);
      GSource *src = g_idle_source_new();
      g_source_set_callback(src, +[](gpointer self) -> gboolean {
        auto *c = static_cast<Call *>(self);
        c->cancel_idle = 0;
        c->fail(ErrorCode::Cancelled, _("Cancelled."));
        return G_SOURCE_REMOVE;
      }, this, nullptr);
      cancel_idle = g_source_attach(src, impl->ctx);
      g_source_unref(src);
    }
  }
};

Transport::Transport(TransportOptions opts) : opts_(std::move(opts)), impl_(std::make_unique<Impl>()) {
  if (opts_.user_agent.empty()) opts_.user_agent = std::string("genfill/") + GENFILL_VERSION;
  if (opts_.max_tries < 1) opts_.max_tries = 1;
  impl_->ctx = g_main_context_ref_thread_default();
  // TLS is verified by default; the system proxy resolver is used by default.
  impl_->session = adopt(soup_session_new_with_options("user-agent", opts_.user_agent.c_str(), "timeout",
                                                       guint(std::ceil(opts_.timeout_s)), "idle-timeout", 60u,
                                                       "max-conns-per-host", 8, nullptr));
}

Transport::~Transport() {
  if (impl_->session) soup_session_abort(impl_->session.get());
  g_main_context_unref(impl_->ctx);
}

std::vector<Outcome> Transport::send_all(const std::vector<HttpRequest> &requests, const RetryPolicy &policy,
                                         GCancellable *cancel, const EventSink &on_event) {
  int remaining = int(requests.size());
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto c = std::make_unique<Call>();
    c->impl = impl_.get();
    c->opts = &opts_;
    c->policy = &policy;
    c->events = &on_event;
    c->req = &requests[i];
    c->user_cancel = cancel;
    c->index = i;
    c->remaining = &remaining;
    calls.push_back(std::move(c));
  }
  for (auto &c : calls) {
    if (cancel)
      c->user_cancel_handler = g_cancellable_connect(
          cancel, G_CALLBACK(+[](GCancellable *, gpointer self) { static_cast<Call *>(self)->on_user_cancel(); }),
          c.get(), nullptr);
    c->start_try();
  }
  while (remaining > 0) g_main_context_iteration(impl_->ctx, TRUE);

  std::vector<Outcome> out;
  for (auto &c : calls) {
    if (cancel && c->user_cancel_handler) g_cancellable_disconnect(cancel, c->user_cancel_handler);
    out.push_back(std::move(c->outcome));
  }
  return out;
}

}  // namespace genfill
