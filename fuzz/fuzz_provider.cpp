// libFuzzer target: any bytes as a provider's answer (each status class), through the parser
// and, when it yields pictures, through the image decoder; the same bytes as a page of the
// service's model list, as a streamed answer (server-sent events through its stream reader)
// and as a batch job. Nothing may crash or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/image/image.hpp"
#include "core/providers/provider.hpp"
#include "core/transport/sse.hpp"
#include "core/util/error.hpp"

#ifndef GENFILL_FUZZ_PROVIDER
#error "define GENFILL_FUZZ_PROVIDER"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const genfill::Provider *provider = genfill::find_provider(GENFILL_FUZZ_PROVIDER);
  static const int statuses[] = {200, 400, 401, 403, 404, 429, 500, 503};
  if (size < 1) return 0;
  genfill::HttpResponse resp;
  resp.status = statuses[data[0] % 8];
  resp.body.assign(reinterpret_cast<const char *>(data + 1), size - 1);
  resp.headers = {{"retry-after", "3"}};
  try {
    (void)provider->retry_advice(resp);
    genfill::Result r = provider->parse(resp);
    for (const genfill::EncodedImage &img : r.images) (void)genfill::decode_image(img.bytes, size_t(1) << 22);
  } catch (const genfill::Error &) {
  }
  try {
    (void)provider->parse_model_list(resp);
  } catch (const genfill::Error &) {
  }
  if (std::unique_ptr<genfill::StreamReader> reader = provider->stream_reader()) {
    try {
      genfill::SseParser sse(size_t(1) << 20);
      for (const genfill::SseEvent &ev : sse.feed(resp.body))
        if (std::optional<genfill::EncodedImage> d = reader->take(ev)) (void)d->bytes.size();
      (void)reader->finish();
    } catch (const genfill::Error &) {
    }
  }
  try {
    (void)provider->parse_batch(resp);
  } catch (const genfill::Error &) {
  }
  return 0;
}
