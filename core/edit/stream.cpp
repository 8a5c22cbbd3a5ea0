#include "core/util/i18n.hpp"
#include "core/edit/stream.hpp"

#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <glib.h>
#include <glib/gstdio.h>

#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

namespace genfill {

StreamedCalls::StreamedCalls(const Provider &provider, size_t calls, size_t max_event_bytes) : provider_(provider) {
  calls_.reserve(calls);
  for (size_t i = 0; i < calls; ++i) {
    calls_.emplace_back(max_event_bytes);
    calls_.back().reader = provider.stream_reader();
  }
}

std::vector<EncodedImage> StreamedCalls::feed(size_t index, std::string_view bytes) {
  Call &c = calls_.at(index);
  std::vector<EncodedImage> drafts;
  if (!c.events) c.head.append(bytes);  // until it shows itself a stream
  for (SseEvent &ev : c.parser.feed(bytes)) {
    c.events = true;
    std::string().swap(c.head);
    if (!c.reader) continue;
    if (std::optional<EncodedImage> d = c.reader->take(ev)) drafts.push_back(std::move(*d));
  }
  return drafts;
}

Result StreamedCalls::finish(size_t index, const HttpResponse &response) {
  Call &c = calls_.at(index);
  if (!c.events) {  // no event at all: a plain answer (or nothing)
    HttpResponse plain = response;
    plain.body = std::move(c.head);
    return provider_.parse(plain);
  }
  if (c.parser.cut_short())
    throw Error(ErrorCode::BadResponse,
                format(_("%s's answer stopped in the middle of a piece. genfill did not ask again, as the service "
                         "may already have billed it."),
                       service_name(provider_).c_str()),
                "stream cut inside an event", response.status);
  return c.reader->finish();
}

struct DraftMaker::State {
  std::function<Image(const EncodedImage &)> make;
  std::function<void(size_t, Image)> show;
  GMainContext *ctx = nullptr;  // the caller's (referenced)
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<size_t, EncodedImage>> queue;
  bool stop = false;
  bool alive = true;  // read and written on the caller's context only
  std::thread worker;
};

namespace {

// A finished draft on its way to the caller's context.
struct Shown {
  std::shared_ptr<DraftMaker::State> state;
  size_t call;
  Image picture;
};

}  // namespace

DraftMaker::DraftMaker(std::function<Image(const EncodedImage &)> make, std::function<void(size_t, Image)> show)
    : state_(std::make_shared<State>()) {
  state_->make = std::move(make);
  state_->show = std::move(show);
  state_->ctx = g_main_context_ref_thread_default();
  state_->worker = std::thread([st = state_] {
    for (;;) {
      std::pair<size_t, EncodedImage> job;
      {
        std::unique_lock lk(st->mu);
        st->cv.wait(lk, [&] { return st->stop || !st->queue.empty(); });
        if (st->queue.empty()) return;  // stopped, and every draft taken is made
        job = std::move(st->queue.front());
        st->queue.pop_front();
      }
      try {
        auto *shown = new Shown{st, job.first, st->make(job.second)};
        g_main_context_invoke_full(
            st->ctx, G_PRIORITY_DEFAULT,
            +[](gpointer data) -> gboolean {
              auto *s = static_cast<Shown *>(data);
              if (s->state->alive) s->state->show(s->call, std::move(s->picture));
              return G_SOURCE_REMOVE;
            },
            shown, +[](gpointer data) { delete static_cast<Shown *>(data); });
      } catch (const Error &e) {
        g_debug("draft from call %zu not shown: %s", job.first + 1, e.detail().c_str());
      } catch (const std::exception &e) {
        g_debug("draft from call %zu not shown: %s", job.first + 1, e.what());
      }
    }
  });
}

DraftMaker::~DraftMaker() {
  finish(false);
  g_main_context_unref(state_->ctx);
}

void DraftMaker::take(size_t call, EncodedImage draft) {
  std::lock_guard lk(state_->mu);
  if (state_->stop) return;
  state_->queue.emplace_back(call, std::move(draft));
  state_->cv.notify_one();
}

void DraftMaker::finish(bool show_the_rest) {
  if (!state_->worker.joinable()) return;
  {
    std::lock_guard lk(state_->mu);
    state_->stop = true;
    if (!show_the_rest) state_->queue.clear();
  }
  state_->cv.notify_one();
  state_->worker.join();
  // The drafts made meanwhile are shown now, in order; then none any more.
  if (show_the_rest)
    while (g_main_context_iteration(state_->ctx, FALSE)) {
    }
  state_->alive = false;
}

namespace {

// $XDG_CACHE_HOME/genfill/plain-answers: one line "provider model base_url" per model a
// service refused to stream.
std::string refused_file() {
  GCharPtr path(g_build_filename(g_get_user_cache_dir(), "genfill", "plain-answers", nullptr));
  return path.get();
}

std::string refused_line(std::string_view provider, const std::string &model, const std::string &base_url) {
  return std::string(provider) + " " + model + " " + base_url;
}

}  // namespace

bool streaming_refused(std::string_view provider, const std::string &model, const std::string &base_url) {
  std::ifstream in(refused_file());
  const std::string want = refused_line(provider, model, base_url);
  for (std::string line; std::getline(in, line);)
    if (line == want) return true;
  return false;
}

void remember_streaming_refused(std::string_view provider, const std::string &model, const std::string &base_url) {
  if (streaming_refused(provider, model, base_url)) return;
  const std::string file = refused_file();
  GCharPtr dir(g_path_get_dirname(file.c_str()));
  if (g_mkdir_with_parents(dir.get(), 0700) != 0) {
    g_debug("cannot remember that %s does not stream: %s", model.c_str(), g_strerror(errno));
    return;
  }
  std::ofstream out(file, std::ios::app);
  out << refused_line(provider, model, base_url) << '\n';
  if (!out) g_debug("cannot remember that %s does not stream", model.c_str());
}

}  // namespace genfill
