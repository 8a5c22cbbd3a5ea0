#include "core/util/i18n.hpp"
#include "core/edit/job.hpp"
#include "core/edit/services.hpp"
#include "core/edit/stream.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <glib.h>

#include "core/conversation/conversation.hpp"
#include "core/cost/cost.hpp"
#include "core/cost/ledger.hpp"
#include "core/keys/keys.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "core/util/text.hpp"

namespace genfill {

namespace {

// "Google Gemini" -> "Gemini": the short name reads better in a status line.
std::string short_name(std::string name) {
  if (auto sp = name.rfind(' '); sp != std::string::npos) name = name.substr(sp + 1);
  return name;
}

EncodedImage encode(const Image &img) {
  EncodedImage e;
  e.bytes = encode_png(img);
  e.mime = "image/png";
  e.width = img.width;
  e.height = img.height;
  return e;
}

// References travel at a modest size: they guide the model, they are not edited.
std::pair<int, int> reference_size(int w, int h) {
  constexpr int kMaxSide = 1024;
  if (std::max(w, h) <= kMaxSide) return {w, h};
  double f = double(kMaxSide) / std::max(w, h);
  return {std::max(1, int(std::lround(w * f))), std::max(1, int(std::lround(h * f)))};
}

EncodedImage encode_reference(const Image &img) {
  const auto [w, h] = reference_size(img.width, img.height);
  return encode(w == img.width && h == img.height ? img : scale(img, w, h));
}

// A picture as far as the price goes: its size, no bytes.
EncodedImage sized(int w, int h) {
  EncodedImage e;
  e.width = w;
  e.height = h;
  return e;
}

// Scales to cover w x h and crops the middle: the asked-for size without distortion.
Image fit_cover(const Image &img, int w, int h) {
  if (img.width == w && img.height == h) return img;
  double f = std::max(double(w) / img.width, double(h) / img.height);
  int sw = std::max(w, int(std::ceil(img.width * f - 1e-9)));
  int sh = std::max(h, int(std::ceil(img.height * f - 1e-9)));
  Image scaled = scale(img, sw, sh);
  return crop(scaled, Rect{(sw - w) / 2, (sh - h) / 2, w, h});
}

void report(const ProgressSink &progress, std::string stage, double fraction = -1) {
  if (progress) progress(Progress{std::move(stage), fraction, nullptr});
}

// Sends the calls for `variations` images and gathers decoded answers.
struct Gathered {
  std::vector<Image> images;
  std::string text, finish_reason;
  Usage usage;
  double build_s = 0, request_s = 0, decode_s = 0;
  size_t bytes_sent = 0;
  std::vector<TurnPart> model_parts;  // of the first answer
  std::optional<EncodedImage> first_picture;  // the first answer's bytes as received
  Cost cost;                                   // of the usage reported, else the estimate
  int drafts = 0;                              // drafts shown
  bool streamed = false;
  double first_draft_s = -1;                   // seconds from sending to the first draft shown
};

// Edits: how a draft is shown (fitted into the region and blended); generations: as it came.
using DraftShaper = std::function<Image(Image)>;

// The service does not serve the model asked for: say which one that was and what to use
// instead, from the catalog (its replacement, also for a model deprecated without a shutdown
// day, else the service's current default).
Error explain_missing_model(const Provider &p, const std::string &model_id, const Error &e) {
  const std::string service = service_name(p);
  const ModelInfo *known = find_model(p.name(), model_id);
  std::string instead = known && !known->replacement.empty() ? known->replacement : default_model_id(p.name());
  // A replacement that was itself retired since: its own replacement, and so on.
  for (int hops = 0; hops < 8; ++hops) {
    const ModelInfo *next = nullptr;
    for (const ModelInfo &m : known_models())
      if (m.id == instead && is_retired(m) && !m.replacement.empty()) next = &m;
    if (!next) break;
    instead = next->replacement;
  }
  if (instead == model_id) instead.clear();
  const std::string same_service = !instead.empty() && find_model(p.name(), instead) ? instead : "";
  // A replacement served by another of genfill's services (Imagen -> Gemini) says which.
  if (!instead.empty() && !find_model(p.name(), instead))
    for (const ModelInfo &m : known_models())
      if (m.id == instead) {
        instead = format(_("%s (service %s)"), instead.c_str(), m.provider.c_str());
        break;
      }
  std::string message;
  if (known && !known->retired.empty())
    message = instead.empty() ? format(_("%s no longer offers %s: it was retired on %s."), service.c_str(),
                                       model_id.c_str(), known->retired.c_str())
                              : format(_("%s no longer offers %s: it was retired on %s. Use %s instead."),
                                       service.c_str(), model_id.c_str(), known->retired.c_str(), instead.c_str());
  else if (known && !known->replacement.empty() && !instead.empty())  // deprecated, now gone
    message = format(_("%s does not offer %s any more. Use %s instead."), service.c_str(), model_id.c_str(),
                     instead.c_str());
  else
    message = instead.empty()
                  ? format(_("%s does not offer the model %s: it may have been retired, or the name is wrong."),
                           service.c_str(), model_id.c_str())
                  : format(_("%s does not offer the model %s: it may have been retired, or the name is wrong. Use "
                             "%s, its current default."),
                           service.c_str(), model_id.c_str(), instead.c_str());
  return Error(ErrorCode::ModelNotFound, message, e.detail(), e.http_status()).with_replacement(same_service);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

size_t body_bytes(const HttpRequest &r) {
  size_t n = r.body.size();
  for (const FormPart &p : r.form) n += p.value.size() + p.name.size() + p.filename.size() + p.content_type.size();
  return n;
}

void add_usage(Usage &sum, const Usage &u) {
  auto add = [](int64_t &a, int64_t b) {
    if (b < 0) return;
    a = a < 0 ? b : a + b;
  };
  add(sum.input_tokens, u.input_tokens);
  add(sum.output_tokens, u.output_tokens);
  add(sum.total_tokens, u.total_tokens);
  add(sum.input_text_tokens, u.input_text_tokens);
  add(sum.input_image_tokens, u.input_image_tokens);
  add(sum.output_text_tokens, u.output_text_tokens);
  add(sum.output_image_tokens, u.output_image_tokens);
  add(sum.thoughts_tokens, u.thoughts_tokens);
}

// The largest answer a model gives: its largest aspect at its largest image size, or its
// largest free size.
uint64_t largest_answer(const ModelInfo &m) {
  double scale = 1;
  for (const ImageSize &s : m.image_sizes) scale = std::max(scale, s.scale);
  uint64_t px = 0;
  for (const Aspect &a : m.aspects)
    px = std::max(px, uint64_t(std::lround(a.out_w * scale)) * uint64_t(std::lround(a.out_h * scale)));
  if (m.free_size && m.free_size->max_pixels > 0) px = std::max(px, uint64_t(m.free_size->max_pixels));
  return px;
}

// The largest answer taken for a request of asked_w x asked_h (0 = not known: the model's largest
// answer stands in): four times its pixels, and never less than 4096 x 4096, since services may
// answer finer than asked (a 1K request at 4K). Anything beyond is refused from its header: a
// 16000 x 16000 PNG of one colour is a few hundred KB and 1 GiB decoded.
DecodeLimit answer_limit(int asked_w, int asked_h, const ModelInfo &model) {
  uint64_t asked = uint64_t(std::max(asked_w, 0)) * uint64_t(std::max(asked_h, 0));
  if (asked == 0) asked = largest_answer(model);
  DecodeLimit limit;
  limit.max_pixels = size_t(std::max<uint64_t>(4 * asked, uint64_t(4096) * 4096));
  if (asked_w > 0 && asked_h > 0) limit.asked_w = asked_w, limit.asked_h = asked_h;
  return limit;
}

// What the calls for `base` (`wanted` pictures, at most `per_call` a call) ask for, as far as it
// decides the price.
CostAsk cost_ask(const Request &base, const DecodeLimit &limit, int wanted, int per_call) {
  CostAsk ask;
  ask.calls = (wanted + per_call - 1) / per_call;
  ask.pictures_out = wanted;
  ask.prompt_bytes = base.prompt.size();
  std::vector<std::pair<int, int>> one_call;
  for (const EncodedImage &i : base.images) one_call.emplace_back(i.width, i.height);
  for (const Turn &t : base.history)
    for (const TurnPart &part : t.parts) {
      ask.prompt_bytes += part.text.size();
      if (part.image) one_call.emplace_back(part.image->width, part.image->height);
    }
  for (int c = 0; c < ask.calls; ++c) ask.pictures_in.insert(ask.pictures_in.end(), one_call.begin(), one_call.end());
  ask.prompt_bytes *= size_t(ask.calls);
  ask.out_w = base.width > 0 ? base.width : limit.asked_w > 0 ? limit.asked_w : 1024;
  ask.out_h = base.height > 0 ? base.height : limit.asked_h > 0 ? limit.asked_h : 1024;
  ask.image_size = base.image_size;
  ask.quality = base.quality;
  return ask;
}

Cost scaled(Cost c, double factor) {
  c.usd *= factor;
  return c;
}

// What the ledger calls the run.
std::string operation_of(const PreparedJob &job) {
  if (!job.settings.operation.empty()) return job.settings.operation;
  return job.task == Task::Edit ? "edit" : "generate";
}

Gathered send_and_gather(const PreparedJob &job, Request base, const DecodeLimit &limit, GCancellable *cancel,
                         const ProgressSink &progress, const DraftShaper &shape_draft = {}, const Rect &draft_region = {}) {
  const JobSettings &settings = job.settings;
  const std::string &api_key = settings.api_key;
  const auto t_build = std::chrono::steady_clock::now();
  const int wanted = std::clamp(settings.variations, 1, 10);
  const int per_call = std::max(1, job.model.max_images_per_call);
  const CostAsk ask = cost_ask(base, limit, wanted, per_call);
  // Over the month's budget: refused before anything is built or sent.
  if (!settings.answered) check_budget(scaled(estimate_cost(job.model, ask), settings.price_factor));
  // Streamed where the catalog says the model streams, unless its service refused before.
  const bool stream = settings.stream && !settings.exchange && job.model.streams && job.provider->stream_reader() &&
                      !streaming_refused(job.provider->name(), job.model.id, job.base_url);
  if (stream) {
    base.stream = true;
    base.partial_images = job.model.partial_images;
  }
  std::vector<HttpRequest> http;
  std::vector<int> asked;  // pictures each call asks for
  for (int done = 0; done < wanted; done += asked.back())
    asked.push_back(std::min(per_call, wanted - done));
  // Call i's request, as built from `base` (also to ask it again without streaming).
  auto call_request = [&](size_t i) {
    Request r = base;
    r.n = asked[i];
    if (settings.seed && per_call == 1) r.seed = *settings.seed + int64_t(i);  // distinct variations
    return r;
  };
  for (size_t i = 0; i < asked.size(); ++i) {
    // Calls that ask for the same thing (no seed) share one built request: building means
    // base64 and JSON over the whole picture.
    if (i > 0 && !settings.seed && asked[i] == asked[i - 1])
      http.push_back(http.back());
    else
      http.push_back(job.provider->build(call_request(i), api_key));
  }

  const std::string waiting = format(_("Waiting for %s"), job.short_service.c_str());
  report(progress, waiting);
  Gathered out;
  out.build_s = seconds_since(t_build);
  for (const HttpRequest &r : http) out.bytes_sent += body_bytes(r);
  auto t_request = std::chrono::steady_clock::now();
  Transport transport(settings.transport);
  const Provider *provider = job.provider;
  const RetryPolicy policy = [provider](const HttpResponse &resp) { return provider->retry_advice(resp); };
  size_t finished = 0;
  std::string stage = waiting;  // what the wait shows: the latest draft's label once one came
  const EventSink on_event = [&](const TransportEvent &ev) {
    if (ev.kind == TransportEvent::Done) {
      ++finished;
      report(progress, stage, double(finished) / double(http.size()));
    } else if (ev.kind == TransportEvent::Retrying) {
      report(progress, format(_("%s (trying again)"), waiting.c_str()));
    }
  };
  // Streams: each call's events read as they come; a draft is decoded and shaped on a thread of
  // its own and shown here. A draft that cannot be decoded is passed over: only the finished
  // answer must be whole.
  StreamedCalls streams(*provider, http.size(), settings.transport.max_response_bytes);
  std::optional<DraftMaker> drafts;
  if (stream && progress)  // no host to show them to (a batch line): they are not made
    drafts.emplace(
        [&limit, &shape_draft](const EncodedImage &d) {
          DecodeLimit draft_limit = limit;
          draft_limit.asked_w = draft_limit.asked_h = 0;  // drafts may come smaller than the answer
          Image img = decode_image(d.bytes, draft_limit);
          if (img.width < 8 || img.height < 8)
            throw Error(ErrorCode::BadResponse, _("The service sent a picture too small to use."),
                        std::to_string(img.width) + "x" + std::to_string(img.height));
          return shape_draft ? shape_draft(std::move(img)) : img;
        },
        [&](size_t index, Image picture) {
          auto draft = std::make_shared<Draft>();
          draft->variation = int(index);
          draft->number = ++out.drafts;
          draft->picture = std::move(picture);
          draft->region = draft_region;
          draft->seconds = seconds_since(t_request);
          if (out.first_draft_s < 0) out.first_draft_s = draft->seconds;
          g_debug("draft %d (call %zu) after %.2f s, %dx%d", draft->number, index + 1, draft->seconds,
                  draft->picture.width, draft->picture.height);
          stage = format(_("Draft %d from %s"), draft->number, job.short_service.c_str());
          Progress p{stage, -1, std::move(draft)};
          if (progress) progress(p);
        });
  const BodySink on_body = [&](size_t index, std::string_view bytes) {
    for (EncodedImage &d : streams.feed(index, bytes))
      if (drafts) drafts->take(index, std::move(d));
  };
  out.streamed = stream;
  std::vector<bool> streamed(http.size(), stream);  // whose answer went to `streams`
  auto outcomes = settings.exchange ? settings.exchange(http)
                                    : transport.send_all(http, policy, cancel, on_event, stream ? on_body : BodySink{});
  // The answers are in: the drafts under way are shown (unless cancelled), and none after.
  if (drafts) drafts->finish(!(cancel && g_cancellable_is_cancelled(cancel)));
  if (outcomes.size() != http.size()) throw std::logic_error("exchange answered another number of requests");
  // A model its service does not stream: those calls once more, plainly, and the model
  // remembered so that the next run asks plainly at once. Nothing was made: the service refused
  // the request as a whole (an error answer, never a 2xx).
  if (stream) {
    std::vector<size_t> again;
    for (size_t i = 0; i < outcomes.size(); ++i)
      if (outcomes[i].response && provider->refuses_streaming(*outcomes[i].response)) again.push_back(i);
    if (!again.empty()) {
      g_debug("%s does not stream %s: asking plainly", job.short_service.c_str(), job.model.id.c_str());
      remember_streaming_refused(provider->name(), job.model.id, job.base_url);
      std::vector<HttpRequest> plain;
      for (size_t i : again) {
        Request r = call_request(i);
        r.stream = false;
        r.partial_images = 0;
        plain.push_back(provider->build(r, api_key));
        out.bytes_sent += body_bytes(plain.back());
      }
      finished -= again.size();
      std::vector<Outcome> second = transport.send_all(plain, policy, cancel, on_event);
      for (size_t k = 0; k < again.size(); ++k) {
        outcomes[again[k]] = std::move(second[k]);
        streamed[again[k]] = false;
      }
      out.streamed = std::find(streamed.begin(), streamed.end(), true) != streamed.end();
    }
  }
  // Every answer that came is read first and, billed, goes into the ledger (with the cost of
  // that call) before anything else happens: a call billed is recorded even when the run is
  // cancelled, another call of it failed, or its picture cannot be used.
  std::vector<std::optional<Result>> parsed(outcomes.size());
  std::vector<std::optional<Error>> failed(outcomes.size());
  for (size_t i = 0; i < outcomes.size(); ++i) {
    Outcome &o = outcomes[i];
    try {
      if (o.error) throw *o.error;
      const bool ok = o.response->status >= 200 && o.response->status < 300;
      parsed[i] = streamed[i] && ok ? streams.finish(i, *o.response) : provider->parse(*o.response);
    } catch (const Error &e) {
      failed[i] = e;
    }
    o.response.reset();  // read: its body (the pictures in base64) is not needed any more
    if (!parsed[i]) continue;
    LedgerEntry entry{{}, std::string(provider->name()), job.model.id, operation_of(job), parsed[i]->usage,
                      scaled(actual_cost(job.model, parsed[i]->usage, cost_ask(base, limit, asked[i], asked[i])),
                             settings.price_factor)};
    std::string why;
    if (!append_to_ledger(entry, &why)) g_warning("usage not recorded: %s", why.c_str());
  }
  if (cancel && g_cancellable_is_cancelled(cancel)) throw Error(ErrorCode::Cancelled, _("Cancelled."));
  out.request_s = seconds_since(t_request);

  auto t_decode = std::chrono::steady_clock::now();
  report(progress, _("Reading the answer"));
  // One picture at a time, in the model's order: each answer's pictures decoded one by one,
  // their compressed bytes let go once decoded (the first answer's first picture is kept for
  // the conversation). The decoded pictures held together stay under
  // settings.max_decoded_bytes: the next one is refused from its header when it would go over.
  size_t held = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (failed[i]) {
      // Whatever the service's answer said goes out without the key: a service may echo it.
      if (failed[i]->code() == ErrorCode::ModelNotFound)
        throw redacted(explain_missing_model(*provider, job.model.id, *failed[i]), api_key);
      throw redacted(*failed[i], api_key);
    }
    Result res = std::move(*parsed[i]);
    parsed[i].reset();
    if (i == 0) out.model_parts = std::move(res.model_parts);
    add_usage(out.usage, res.usage);
    // What the model says is shown to the user as is: nothing in it may drive a terminal.
    if (!res.text.empty()) out.text += (out.text.empty() ? "" : "\n") + printable(res.text);
    if (!res.finish_reason.empty()) out.finish_reason = printable(res.finish_reason);
    const size_t take = std::min(size_t(asked[i]), res.images.size());
    for (size_t k = 0; k < take; ++k) {
      EncodedImage &picture = res.images[k];
      DecodeLimit room = limit;
      room.room_pixels = held < settings.max_decoded_bytes ? (settings.max_decoded_bytes - held) / 4 : 0;
      Image img = decode_image(picture.bytes, room);
      if (img.width < 8 || img.height < 8)  // a broken answer, not a picture to stretch over the region
        throw Error(ErrorCode::BadResponse, _("The service sent a picture too small to use."),
                    std::to_string(img.width) + "x" + std::to_string(img.height));
      held += img.pixels.size();
      if (!out.first_picture) {
        out.first_picture = std::move(picture);
        out.first_picture->width = img.width;
        out.first_picture->height = img.height;
      }
      std::vector<uint8_t>().swap(picture.bytes);
      out.images.push_back(std::move(img));
    }
  }
  if (out.images.empty())
    throw Error(ErrorCode::BadResponse, _("The service answered without a picture."));
  out.decode_s = seconds_since(t_decode);
  out.cost = scaled(actual_cost(job.model, out.usage, ask), settings.price_factor);
  return out;
}

// Throws Error{InvalidInput} when the model (`id`; "" = every one of the service was retired:
// what its models could do still says) only creates new pictures. Returns its entry.
ModelInfo check_edits(const Provider &provider, const std::string &model) {
  std::string id = model;
  if (id.empty()) {
    const std::vector<ModelInfo> all = models_of(provider.name());
    if (all.empty()) return {};
    id = all.front().id;
  }
  ModelInfo m = model_info(provider.name(), id);
  if (!m.can_edit)
    throw Error(ErrorCode::InvalidInput,
                format(_("%s only creates new pictures from a prompt: it cannot change an existing picture. Choose "
                         "a model that edits, such as a Gemini image model, or generate a new picture instead."),
                       m.id.c_str()));
  return m;
}

// What an edit's own input must be, checked before any pixel is read.
void check_edit_input(const PreparedJob &job, const std::vector<Image> &references) {
  if (!job.provider) throw std::invalid_argument("run_edit: the job was not prepared");
  if (job.settings.prompt.empty())
    throw Error(ErrorCode::InvalidInput, _("Describe the change you want: the prompt is empty."));
  if (!job.model.can_edit)
    throw Error(ErrorCode::InvalidInput,
                format(_("%s only makes new pictures; it cannot edit one. Choose another model."),
                       job.model.display_name.c_str()));
  if (int(references.size()) + 1 > job.model.max_input_images)
    throw Error(ErrorCode::InvalidInput,
                format(g_dngettext(GETTEXT_PACKAGE, "%s takes at most %d picture; %d reference pictures are too many.",
                                   "%s takes at most %d pictures; %d reference pictures are too many.",
                                   gulong(job.model.max_input_images)),
                       job.model.id.c_str(), job.model.max_input_images, int(references.size())));
}

// The quality and image size asked for are the model's own.
void check_quality_and_size(const ModelInfo &m, const JobSettings &settings) {
  auto listed = [](const auto &names) {
    std::string all;
    for (const auto &n : names) all += (all.empty() ? "" : ", ") + n;
    return all;
  };
  if (!settings.quality.empty()) {
    if (m.qualities.empty())
      throw Error(ErrorCode::InvalidInput,
                  format(_("%s takes no quality setting: leave the quality at its default."), m.id.c_str()));
    if (std::find(m.qualities.begin(), m.qualities.end(), settings.quality) == m.qualities.end())
      throw Error(ErrorCode::InvalidInput, format(_("%s takes the qualities %s, not \"%s\"."), m.id.c_str(),
                                                  listed(m.qualities).c_str(), settings.quality.c_str()));
  }
  if (!settings.image_size.empty()) {
    std::vector<std::string> sizes;
    for (const ImageSize &is : m.image_sizes) sizes.push_back(is.name);
    if (sizes.empty())
      throw Error(ErrorCode::InvalidInput,
                  format(_("%s makes pictures of one size only: leave the image size at its default."), m.id.c_str()));
    if (!named_image_size(m, settings.image_size))
      throw Error(ErrorCode::InvalidInput, format(_("%s makes the image sizes %s, not \"%s\"."), m.id.c_str(),
                                                  listed(sizes).c_str(), settings.image_size.c_str()));
  }
}

}  // namespace

PreparedJob prepare(const JobSettings &settings, Task task, bool need_key) {
  PreparedJob job;
  job.settings = settings;
  job.task = task;
  if (job.settings.provider.empty()) job.settings.provider = default_service().name;
  job.provider = find_provider(job.settings.provider);
  if (!job.provider) service_named(job.settings.provider);  // throws, naming the services there are
  const Provider &provider = *job.provider;
  const std::string model = settings.model.empty() ? default_model_id(provider.name()) : settings.model;
  // An edit with a model that only creates new pictures: said before anything else, a missing
  // key included. When every model of the service was retired, what its models could do still says.
  if (task == Task::Edit) {
    ModelInfo m = check_edits(provider, model);
    if (!model.empty()) job.model = std::move(m);
  }
  if (model.empty())
    throw Error(ErrorCode::InvalidInput,
                format(_("Every %s model genfill knows has been retired. Name the model to use."),
                       service_name(provider).c_str()));
  if (job.model.id.empty()) job.model = model_info(provider.name(), model);
  job.base_url = base_url_for(settings.endpoint.empty() ? std::string(provider.default_base_url()) : settings.endpoint);
  validate(settings.transport);
  if (settings.variations < 1 || settings.variations > 10)
    throw Error(ErrorCode::InvalidInput, _("The number of images must be between 1 and 10."));

  check_quality_and_size(job.model, settings);

  if (settings.api_key.empty() && need_key) {
    if (auto found = find_api_key(provider)) {
      job.settings.api_key = found->key;
      job.key_source = found->source;
    } else {
      std::string vars;
      for (const std::string &v : provider.key_env_vars()) vars += (vars.empty() ? "" : _(" or ")) + v;
      throw Error(ErrorCode::MissingKey,
                  format(_("No API key for %s. Set %s, or store a key in the desktop keyring (genfill key set %s)."),
                         std::string(provider.display_name()).c_str(), vars.c_str(),
                         std::string(provider.name()).c_str()));
    }
  }
  job.service = std::string(provider.display_name());
  job.short_service = short_name(job.service);
  const ModelInfo &m = job.model;
  job.can.edit = m.can_edit;
  job.can.mask = m.takes_mask;
  job.can.transparent = m.transparent;
  job.can.exact_size = m.exact_size;
  job.can.max_images_per_call = m.max_images_per_call;
  job.can.max_input_images = m.max_input_images;
  job.can.max_references = task == Task::Edit ? std::max(0, m.max_input_images - 1)
                           : m.can_edit      ? m.max_input_images
                                             : 0;
  return job;
}

namespace {

// An edit's request as planned, without its pictures.
Request edit_request(const PreparedJob &job, const Plan &plan) {
  Request req;
  req.model = job.model.id;
  req.base_url = job.base_url;
  req.prompt = job.settings.prompt;
  req.history = job.settings.history;
  if (job.model.exact_size) {  // the upload keeps its own size; the answer comes at the planned size
    req.width = plan.out_w;
    req.height = plan.out_h;
  } else {
    req.aspect = plan.aspect.label();
  }
  req.image_size = plan.image_size;
  req.quality = job.settings.quality;
  req.response_modalities = job.model.response_modalities;
  // Edits keep the input's details where the model offers it (faces, text, textures outside
  // the change); its cost is a few more input tokens.
  req.input_fidelity_high = job.model.input_fidelity;
  return req;
}

// The edit itself: `region` holds the pixels of plan.region, either at full size or scaled to
// plan.content's size; `mask` (optional) the selection over it (same size; 255 = change).
// `resolve_s`: the seconds taken before planning, for the timings.
JobResult edit_region(const PreparedJob &job, const Plan &plan, const Image &region, const std::optional<Mask> &mask,
                      const std::vector<Image> &references, double resolve_s, GCancellable *cancel,
                      const ProgressSink &progress) {
  const JobSettings &settings = job.settings;
  const bool full = region.width == plan.region.w && region.height == plan.region.h;
  const bool scaled = region.width == plan.content.w && region.height == plan.content.h;
  if (!full && !scaled)
    throw Error(ErrorCode::InvalidInput, _("The picture to edit does not match the planned region."));
  if (mask && (mask->width != region.width || mask->height != region.height))
    throw Error(ErrorCode::InvalidInput, _("The selection does not match the picture to edit."));

  report(progress, _("Preparing the picture"));
  auto t_encode = std::chrono::steady_clock::now();
  Request req = edit_request(job, plan);
  req.images.push_back(encode(to_canvas(region, plan)));
  for (const Image &ref : references) req.images.push_back(encode_reference(ref));
  if (mask) req.mask = to_canvas(*mask, plan);

  const double encode_s = seconds_since(t_encode);
  Turn user_turn{"user", {TurnPart{settings.prompt, std::nullopt, {}}, TurnPart{{}, req.images.front(), {}}}};
  const DecodeLimit limit = answer_limit(plan.out_w, plan.out_h, job.model);
  // A draft is shown as the finished picture would land: fitted into the region as read and
  // blended through the selection (no seam correction: it is only a preview).
  const DraftShaper shape = [&](Image draft) {
    Image shown = region;
    const Image fitted = from_canvas(draft, plan, region.width, region.height);
    composite(shown, fitted, mask ? *mask : Mask(region.width, region.height, 255),
              Rect{0, 0, region.width, region.height});
    return shown;
  };
  Gathered g = send_and_gather(job, std::move(req), limit, cancel, progress, shape, plan.region);
  report(progress, _("Placing the result"));
  auto t_scale = std::chrono::steady_clock::now();
  JobResult out;
  // At the upload's scale, unless the answer is finer (a 4K answer to an upload kept smaller):
  // then at the answer's scale, never beyond the region's own size.
  const double finer = std::max(1.0, std::min(double(plan.out_w) / plan.canvas_w, double(plan.out_h) / plan.canvas_h));
  const int out_w = settings.results_at_upload_scale
                        ? std::min(plan.region.w, int(std::lround(plan.content.w * finer))) : plan.region.w;
  const int out_h = settings.results_at_upload_scale
                        ? std::min(plan.region.h, int(std::lround(plan.content.h * finer))) : plan.region.h;
  for (Image &answer : g.images) {
    out.images.push_back(from_canvas(answer, plan, out_w, out_h));
    answer = Image();  // placed: its memory goes back before the next one is
  }
  const double scale_s = seconds_since(t_scale);
  // Each answer is fitted against what was sent, at the results' scale.
  auto t_seam = std::chrono::steady_clock::now();
  std::optional<Image> sent_scaled;
  std::optional<Mask> mask_scaled;
  if (region.width != out_w || region.height != out_h) {
    sent_scaled = scale(region, out_w, out_h);
    if (mask) mask_scaled = scale(*mask, out_w, out_h);
  }
  const Image &sent = sent_scaled ? *sent_scaled : region;
  const Mask *sent_mask = mask_scaled ? &*mask_scaled : mask ? &*mask : nullptr;
  out.seam.resize(out.images.size());
  auto fit = [&](size_t i) {
    seam::Report &rep = out.seam[i];
    out.images[i] = seam::correct(sent, out.images[i], sent_mask, settings.seam, &rep);
    rep.dx *= double(plan.region.w) / out_w;  // reported in the region's pixels
    rep.dy *= double(plan.region.h) / out_h;
  };
  // Variations are fitted side by side, as many at once as there are cores.
  const size_t workers = std::min<size_t>(out.images.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < out.images.size();) fit(i);
  };
  std::vector<std::future<void>> helpers;
  for (size_t w = 1; w < workers; ++w) helpers.push_back(std::async(std::launch::async, work));
  work();
  for (auto &h : helpers) h.get();  // rethrows a helper's exception
  out.timings = {{"resolve", resolve_s}, {"encode", encode_s}, {"build", g.build_s}, {"request", g.request_s},
                 {"decode", g.decode_s}, {"scale", scale_s}, {"seam", seconds_since(t_seam)}};
  if (g.first_draft_s >= 0) out.timings.emplace_back("first_draft", g.first_draft_s);
  out.drafts = g.drafts;
  out.streamed = g.streamed;
  out.bytes_sent = g.bytes_sent;
  out.upload_bytes = user_turn.parts.back().image->bytes.size();
  out.user_turn = std::move(user_turn);
  out.model_turn.role = "model";
  if (!g.model_parts.empty()) out.model_turn.parts = std::move(g.model_parts);
  // Services without turns: the model's picture as it came (not encoded again: a PNG of a
  // megapixel answer costs tens of milliseconds).
  else out.model_turn.parts.push_back(TurnPart{{}, std::move(*g.first_picture), {}});
  out.text = std::move(g.text);
  out.finish_reason = std::move(g.finish_reason);
  out.usage = g.usage;
  out.cost = g.cost;
  out.provider = std::string(job.provider->name());
  out.model = job.model.id;
  return out;
}

}  // namespace

PictureSource::PictureSource(const Image &picture, const std::optional<Mask> &selection)
    : picture_(picture), mask_(selection), bounds_(selection ? mask_bounds(*selection) : Rect{}) {}

RegionPixels PictureSource::read(const Rect &region, int width, int height) {
  RegionPixels out;
  out.pixels = crop(picture_, region);
  if (mask_) out.selection = crop(*mask_, region);
  if (out.pixels.width != width || out.pixels.height != height) {
    out.pixels = scale(out.pixels, width, height);
    if (out.selection) out.selection = scale(*out.selection, width, height);
  }
  return out;
}

EditResult run_edit(const PreparedJob &job, const EditInput &input, RegionSource &source, GCancellable *cancel,
                    const ProgressSink &progress) {
  const auto t_start = std::chrono::steady_clock::now();
  const std::vector<Image> &references = input.references;
  check_edit_input(job, references);

  // The conversation continued: its earlier turns go with this request.
  PreparedJob with_history;
  const PreparedJob *run = &job;
  std::optional<Conversation> conversation;
  if (!input.conversation.empty()) {
    conversation = load_conversation(input.conversation);
    if (conversation) {
      with_history = job;
      with_history.settings.history = conversation->turns;
      run = &with_history;
    } else if (input.conversation_gone) {
      input.conversation_gone();
    }
  }

  const double resolve_s = seconds_since(t_start);

  // Only the planned region is read, at the size it is used at.
  const Plan plan = plan_region(source.width(), source.height(), source.selection(), job.model,
                                PlanOptions{input.context, 32, job.settings.image_size});
  const bool upload_scale = job.settings.results_at_upload_scale;
  RegionPixels region = source.read(plan.region, upload_scale ? plan.content.w : plan.region.w,
                                    upload_scale ? plan.content.h : plan.region.h);

  EditResult out;
  static_cast<JobResult &>(out) =
      edit_region(*run, plan, region.pixels, region.selection, references, resolve_s, cancel, progress);
  region.pixels = Image();  // sent and fitted against: its memory goes back
  out.plan = plan;
  out.selection = std::move(region.selection);
  if (cancel && g_cancellable_is_cancelled(cancel)) throw Error(ErrorCode::Cancelled, _("Cancelled."));

  // Saved for the next "now make it ..." step; the edit stands even when it cannot be.
  std::string why;
  out.conversation = remember_exchange(std::move(conversation), out.provider, out.model, out.user_turn,
                                       out.model_turn, &why);
  if (out.conversation.empty()) g_debug("conversation not saved: %s", why.c_str());
  return out;
}

namespace {

// A generation's input checked, and its request (without references) as it will be sent.
Request generation_request(const PreparedJob &job, const std::string &aspect, int width, int height,
                           size_t references, OutputChoice &choice) {
  if (!job.provider) throw std::invalid_argument("run_generate: the job was not prepared");
  const JobSettings &settings = job.settings;
  if (settings.prompt.empty())
    throw Error(ErrorCode::InvalidInput, _("Describe the picture you want: the prompt is empty."));
  if (references > 0 && !job.model.can_edit)
    throw Error(ErrorCode::InvalidInput,
                format(_("%s makes pictures from the prompt alone: it takes no reference pictures."),
                       job.model.id.c_str()));
  if (int(references) > job.model.max_input_images)
    throw Error(ErrorCode::InvalidInput,
                format(g_dngettext(GETTEXT_PACKAGE, "%s takes at most %d reference picture.",
                                   "%s takes at most %d reference pictures.", gulong(job.model.max_input_images)),
                       job.model.id.c_str(), job.model.max_input_images));
  if (width < 0 || height < 0 || (width > 0) != (height > 0))
    throw Error(ErrorCode::InvalidInput, _("Give the size as WIDTHxHEIGHT, for example 1024x768."));

  if (settings.transparent && !job.model.transparent) {
    std::string able;
    for (const ModelInfo &m : known_models())
      if (m.transparent && !is_retired(m) && find_provider(m.provider)) able += (able.empty() ? "" : ", ") + m.id;
    throw Error(ErrorCode::InvalidInput,
                able.empty() ? format(_("%s cannot make a transparent background."), job.model.display_name.c_str())
                             : format(_("%s cannot make a transparent background. Models that can: %s."),
                                      job.model.display_name.c_str(), able.c_str()));
  }

  // The model's aspect closest to what was asked for (size first, then ratio, else square), at
  // a size that covers the asked-for size.
  double want = 1.0;
  if (width > 0) {
    want = double(width) / height;
  } else if (!aspect.empty()) {
    int aw = 0, ah = 0;
    if (std::sscanf(aspect.c_str(), "%d:%d", &aw, &ah) != 2 || aw <= 0 || ah <= 0)
      throw Error(ErrorCode::InvalidInput, _("Give the aspect ratio as W:H, for example 16:9."));
    want = double(aw) / ah;
  }
  choice = choose_output(job.model, want, width, height, settings.image_size);

  Request req;
  req.model = job.model.id;
  req.base_url = job.base_url;
  req.prompt = settings.prompt;
  if (job.model.exact_size) {
    req.width = choice.out_w;
    req.height = choice.out_h;
  } else {
    req.aspect = choice.aspect.label();
  }
  req.image_size = choice.image_size;
  req.quality = settings.quality;
  req.response_modalities = job.model.response_modalities;
  req.transparent = settings.transparent;
  return req;
}

}  // namespace

JobResult run_generate(const PreparedJob &job, const std::string &aspect, int width, int height,
                       const std::vector<Image> &references, GCancellable *cancel,
                       const ProgressSink &progress) {
  OutputChoice choice;
  Request req = generation_request(job, aspect, width, height, references.size(), choice);
  for (const Image &ref : references) req.images.push_back(encode_reference(ref));

  const DecodeLimit limit = answer_limit(choice.out_w, choice.out_h, job.model);
  Gathered g = send_and_gather(job, std::move(req), limit, cancel, progress);
  JobResult out;
  for (Image &img : g.images) out.images.push_back(width > 0 ? fit_cover(img, width, height) : std::move(img));
  out.timings = {{"build", g.build_s}, {"request", g.request_s}, {"decode", g.decode_s}};
  if (g.first_draft_s >= 0) out.timings.emplace_back("first_draft", g.first_draft_s);
  out.drafts = g.drafts;
  out.streamed = g.streamed;
  out.text = std::move(g.text);
  out.finish_reason = std::move(g.finish_reason);
  out.usage = g.usage;
  out.cost = g.cost;
  out.provider = std::string(job.provider->name());
  out.model = job.model.id;
  return out;
}

Cost estimate_edit(const PreparedJob &job, const EditInput &input, int width, int height, const Rect &selection) {
  check_edit_input(job, input.references);
  if (width < 1 || height < 1) throw Error(ErrorCode::InvalidInput, _("The picture to edit is empty."));
  PreparedJob with_history = job;
  if (!input.conversation.empty())
    if (std::optional<Conversation> c = load_conversation(input.conversation)) with_history.settings.history = c->turns;
  const Plan plan = plan_region(width, height, selection, job.model,
                                PlanOptions{input.context, 32, job.settings.image_size});
  Request req = edit_request(with_history, plan);
  req.images.push_back(sized(plan.canvas_w, plan.canvas_h));
  for (const Image &ref : input.references) {
    const auto [w, h] = reference_size(ref.width, ref.height);
    req.images.push_back(sized(w, h));
  }
  const int wanted = std::clamp(job.settings.variations, 1, 10);
  return estimate_cost(job.model, cost_ask(req, answer_limit(plan.out_w, plan.out_h, job.model), wanted,
                                           std::max(1, job.model.max_images_per_call)));
}

Cost estimate_generate(const PreparedJob &job, const std::string &aspect, int width, int height,
                       const std::vector<std::pair<int, int>> &reference_sizes) {
  OutputChoice choice;
  Request req = generation_request(job, aspect, width, height, reference_sizes.size(), choice);
  for (const auto &[w, h] : reference_sizes) {
    const auto [rw, rh] = reference_size(w, h);
    req.images.push_back(sized(rw, rh));
  }
  const int wanted = std::clamp(job.settings.variations, 1, 10);
  return estimate_cost(job.model, cost_ask(req, answer_limit(choice.out_w, choice.out_h, job.model), wanted,
                                           std::max(1, job.model.max_images_per_call)));
}

}  // namespace genfill

namespace genfill {

Image composite_result(const Image &original, const Image &result, const Plan &plan,
                       const std::optional<Mask> &region_mask, double feather_px) {
  Image out = original;
  Mask m = region_mask ? feather_inside(*region_mask, feather_px) : Mask(plan.region.w, plan.region.h, 255);
  composite(out, result, m, plan.region);
  return out;
}

}  // namespace genfill

namespace genfill {

Image composite_result(const Image &original, const EditResult &edit, size_t index, double feather_px) {
  return composite_result(original, edit.images.at(index), edit.plan, edit.selection, feather_px);
}

}  // namespace genfill
