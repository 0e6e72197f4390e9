// Arbitrary bytes through the agent protocol decoder (src/common/proto). decode() must never throw
// or crash, and whatever it accepts must survive encode() and a second decode() unchanged: a
// message that changes on the way through Sparkle would be applied differently by the agent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/proto/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto result = harmony::proto::decode(bytes);
  if (!result.ok()) {
    if (result.error().message.empty()) std::abort();
    return 0;
  }
  // Re-encoding can grow the text ("1e2" becomes "100.0"), so the second decode gets room.
  harmony::proto::DecodeLimits roomy;
  roomy.max_bytes = 64 * 1024 * 1024;
  auto again = harmony::proto::decode(harmony::proto::encode(result.message()), roomy);
  if (!again.ok() || !(again.message() == result.message())) std::abort();
  return 0;
}
