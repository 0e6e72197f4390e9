#pragma once

#include <filesystem>
#include <string>

namespace harmony::transport {

// A CURVE key pair in Z85 text (40 characters each), as libzmq takes it.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

CurveKeyPair generate_curve_keypair();

// Loads the key pair kept at `path`, or creates one there (mode 0600, written atomically) when
// the file does not exist. Throws std::runtime_error when the file exists but is unreadable or
// malformed, rather than silently replacing an enrolled identity.
CurveKeyPair load_or_create_keypair(const std::filesystem::path& path);

// Loads a key pair that must exist (the controller's server keys).
CurveKeyPair load_keypair(const std::filesystem::path& path);

// A short, stable fingerprint of a public key for operators to compare ("SHA256:" + 16 hex).
std::string key_fingerprint(const std::string& public_key_z85);

bool is_z85_key(const std::string& text);

}  // namespace harmony::transport
