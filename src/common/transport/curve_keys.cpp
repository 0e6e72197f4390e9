#include "common/transport/curve_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <fstream>
#include <stdexcept>

#include "common/crypto/sha256.hpp"

namespace harmony::transport {
namespace {

constexpr const char* kPublicPrefix = "public=";
constexpr const char* kSecretPrefix = "secret=";

void write_private_file(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  auto temp = path;
  temp += ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + temp.string());
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + temp.string());
  std::filesystem::rename(temp, path);
}

}  // namespace

bool is_z85_key(const std::string& text) {
  if (text.size() != 40) return false;
  uint8_t decoded[32];
  return zmq_z85_decode(decoded, text.c_str()) != nullptr;
}

CurveKeyPair generate_curve_keypair() {
  char public_key[41];
  char secret_key[41];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    throw std::runtime_error("libzmq cannot make CURVE keys (built without libsodium?)");
  }
  return {public_key, secret_key};
}

CurveKeyPair load_keypair(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read key file " + path.string());
  CurveKeyPair keys;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(kPublicPrefix)) keys.public_key = line.substr(7);
    if (line.starts_with(kSecretPrefix)) keys.secret_key = line.substr(7);
  }
  if (!is_z85_key(keys.public_key) || !is_z85_key(keys.secret_key)) {
    throw std::runtime_error("key file " + path.string() + " is malformed");
  }
  return keys;
}

CurveKeyPair load_or_create_keypair(const std::filesystem::path& path) {
  if (std::filesystem::exists(path)) return load_keypair(path);
  auto keys = generate_curve_keypair();
  write_private_file(
      path, std::string(kPublicPrefix) + keys.public_key + "\n" + kSecretPrefix + keys.secret_key + "\n");
  return keys;
}

std::string key_fingerprint(const std::string& public_key_z85) {
  return "SHA256:" + crypto::sha256_hex(public_key_z85).substr(0, 16);
}

}  // namespace harmony::transport
