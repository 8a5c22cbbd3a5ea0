// libFuzzer target: any bytes as a picture an answer carries, and as a mask file's picture.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/image/image.hpp"
#include "core/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    genfill::Image img = genfill::decode_image(std::span<const uint8_t>(data, size), size_t(1) << 22);
    // What the job does next with an answer: map it back to a region.
    genfill::Image small = genfill::scale(img, 1 + img.width % 97, 1 + img.height % 89);
    (void)genfill::encode_png(small);
  } catch (const genfill::Error &) {
  }
  return 0;
}
