#include "common/crypto/sodium_init.hpp"

#include <sodium.h>

#include <stdexcept>

namespace harmony::crypto {

void ensure_sodium_initialized() {
  // A function-local static is initialised exactly once even with concurrent callers; if
  // sodium_init() fails the exception leaves it uninitialised, so the next call retries.
  static const int initialized = [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    return 1;
  }();
  (void)initialized;
}

}  // namespace harmony::crypto
