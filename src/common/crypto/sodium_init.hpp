#pragma once

namespace harmony::crypto {

// libsodium must be initialised before its random generator and hashing are used. Every function
// of this folder calls this first, so callers never have to remember it. Thread-safe and cheap
// after the first call. Throws std::runtime_error if libsodium cannot initialise.
void ensure_sodium_initialized();

}  // namespace harmony::crypto
