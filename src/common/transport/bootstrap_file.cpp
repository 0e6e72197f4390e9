#include "common/transport/bootstrap_file.hpp"

#include <stdexcept>

#include "common/atomic_file.hpp"

namespace harmony::transport {

void save_bootstrap(const std::filesystem::path& path, const proto::Bootstrap& bootstrap) {
  nlohmann::json j = bootstrap;
  write_file_atomically(path, j.dump(2) + "\n", 0600);
}

std::optional<proto::Bootstrap> load_bootstrap(const std::filesystem::path& path) {
  auto text = read_state_file(path);
  if (!text) return std::nullopt;
  try {
    return nlohmann::json::parse(*text).get<proto::Bootstrap>();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read " + path.string() + ": " + e.what());
  }
}

}  // namespace harmony::transport
