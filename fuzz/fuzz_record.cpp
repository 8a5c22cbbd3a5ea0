// libFuzzer target: the plug-in's reader of a layer's genfill record (the `genfill` parasite,
// which an XCF from anyone can carry). Whatever it holds, the answer is "" or a valid id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/conversation/conversation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string id = genfill::conversation_in_record(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!id.empty() && !genfill::valid_conversation_id(id)) std::abort();
  return 0;
}
