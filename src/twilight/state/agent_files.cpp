#include "twilight/state/agent_files.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>

#include "common/atomic_file.hpp"
#include "common/crypto/random_token.hpp"
#include "common/transport/bootstrap_file.hpp"

namespace harmony::twilight {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

std::string random_uuid() {
  auto hex = crypto::random_hex(16);
  hex[12] = '4';
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

AgentFiles::HostIdentity AgentFiles::load_or_create_host_id() const {
  if (auto text = read_state_file(host_id_path())) {
    auto id = trimmed(*text);
    if (!is_uuid(id)) throw std::runtime_error(host_id_path().string() + " does not hold a UUID");
    const auto confirmed = read_state_file(host_id_confirmed_path());
    return {id, confirmed && trimmed(*confirmed) == id};
  }
  auto id = random_uuid();
  write_file_atomically(host_id_path(), id + "\n", 0644);
  return {id, false};
}

void AgentFiles::confirm_host_id(const std::string& id) const {
  write_file_atomically(host_id_path(), id + "\n", 0644);
  write_file_atomically(host_id_confirmed_path(), id + "\n", 0644);
}

void AgentFiles::save_bootstrap(const proto::Bootstrap& bootstrap) const {
  transport::save_bootstrap(bootstrap_path(), bootstrap);
}

std::optional<proto::Bootstrap> AgentFiles::load_bootstrap() const {
  return transport::load_bootstrap(bootstrap_path());
}

std::uint64_t AgentFiles::load_applied_revision() const {
  auto text = read_state_file(applied_revision_path());
  if (!text) return 0;
  const auto value = trimmed(*text);
  std::uint64_t revision = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), revision);
  if (ec != std::errc() || end != value.data() + value.size()) {
    throw std::runtime_error(applied_revision_path().string() + " does not hold a revision");
  }
  return revision;
}

void AgentFiles::save_applied_revision(std::uint64_t revision) const {
  write_file_atomically(applied_revision_path(), std::to_string(revision) + "\n", 0644);
}

}  // namespace harmony::twilight
