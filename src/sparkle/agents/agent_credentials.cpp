#include "sparkle/agents/agent_credentials.hpp"

#include <sodium.h>

#include <array>

#include "common/crypto/constant_time.hpp"
#include "common/crypto/sodium_init.hpp"

namespace harmony::sparkle {
namespace {

constexpr std::string_view kKeyContext = "harmony agent api credential v1";
constexpr std::size_t kUuidLength = 36;

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  std::string hex(size * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, size);
  hex.pop_back();
  return hex;
}

}  // namespace

AgentCredentials::AgentCredentials(const transport::CurveKeyPair& server_keys) {
  crypto::ensure_sodium_initialized();
  // A separate key for this purpose, so that the MAC never exposes anything about the CURVE key.
  std::array<unsigned char, crypto_generichash_BYTES> key{};
  crypto_generichash(key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>(server_keys.secret_key.data()),
                     server_keys.secret_key.size(),
                     reinterpret_cast<const unsigned char*>(kKeyContext.data()), kKeyContext.size());
  key_.assign(reinterpret_cast<const char*>(key.data()), key.size());
  sodium_memzero(key.data(), key.size());
}

std::string AgentCredentials::mac_hex(std::string_view host_id) const {
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(host_id.data()),
                                host_id.size());
  crypto_auth_hmacsha256_final(&state, mac.data());
  return to_hex(mac.data(), mac.size());
}

std::string AgentCredentials::issue(std::string_view host_id) const {
  return std::string(host_id) + "." + mac_hex(host_id);
}

std::optional<std::string> AgentCredentials::verify(std::string_view token) const {
  if (token.size() != kUuidLength + 1 + 2 * crypto_auth_hmacsha256_BYTES || token[kUuidLength] != '.') {
    return std::nullopt;
  }
  const auto host_id = token.substr(0, kUuidLength);
  if (!crypto::equal_constant_time(token.substr(kUuidLength + 1), mac_hex(host_id))) return std::nullopt;
  return std::string(host_id);
}

}  // namespace harmony::sparkle
