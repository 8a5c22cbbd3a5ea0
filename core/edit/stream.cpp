#include "core/util/i18n.hpp"
#include "core/edit/stream.hpp"

#include <fstream>

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
