#include "twilight/state/migration_ledger.hpp"

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "common/atomic_file.hpp"

namespace harmony::twilight {
namespace {

constexpr std::pair<MigrationLedger::Outgoing, const char*> kStates[] = {
    {MigrationLedger::Outgoing::started, "started"},
    {MigrationLedger::Outgoing::sent, "sent"},
    {MigrationLedger::Outgoing::failed, "failed"}};

const char* name_of(MigrationLedger::Outgoing state) {
  for (const auto& [value, name] : kStates) {
    if (value == state) return name;
  }
  return "started";
}

MigrationLedger::Outgoing state_of(const std::string& text) {
  for (const auto& [value, name] : kStates) {
    if (text == name) return value;
  }
  throw std::runtime_error("unknown outgoing migration state " + text);
}

}  // namespace

MigrationLedger::MigrationLedger(std::filesystem::path state_dir) : path_(std::move(state_dir) / kFileName) {
  auto text = read_state_file(path_);
  if (!text) return;
  try {
    const auto document = nlohmann::json::parse(*text);
    for (const auto& [id, record] : document.at("outgoing").items()) {
      outgoing_[id] = {state_of(record.at("state").get<std::string>()), record.value("message", "")};
    }
    for (const auto& [id, record] : document.at("incoming").items()) {
      incoming_[id] = {record.at("migration_id").get<std::string>(),
                       record.at("files").get<proto::InstanceFiles>()};
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read " + path_.string() + ": " + e.what());
  }
}

std::optional<MigrationLedger::OutgoingRecord> MigrationLedger::outgoing(
    const std::string& migration_id) const {
  auto it = outgoing_.find(migration_id);
  if (it == outgoing_.end()) return std::nullopt;
  return it->second;
}

std::optional<MigrationLedger::IncomingRecord> MigrationLedger::incoming(
    const std::string& instance_id) const {
  auto it = incoming_.find(instance_id);
  if (it == incoming_.end()) return std::nullopt;
  return it->second;
}

void MigrationLedger::set_outgoing(const std::string& migration_id, OutgoingRecord record) {
  outgoing_[migration_id] = std::move(record);
  save();
}

void MigrationLedger::set_incoming(const std::string& instance_id, IncomingRecord record) {
  incoming_[instance_id] = std::move(record);
  save();
}

void MigrationLedger::forget_incoming(const std::string& instance_id) {
  if (incoming_.erase(instance_id) > 0) save();
}

void MigrationLedger::keep_outgoing_only(const std::set<std::string>& migration_ids) {
  if (std::erase_if(outgoing_, [&](const auto& entry) { return !migration_ids.contains(entry.first); }) > 0) {
    save();
  }
}

void MigrationLedger::save() const {
  nlohmann::json outgoing = nlohmann::json::object();
  for (const auto& [id, record] : outgoing_) {
    outgoing[id] = {{"state", name_of(record.state)}};
    if (!record.message.empty()) outgoing[id]["message"] = record.message;
  }
  nlohmann::json incoming = nlohmann::json::object();
  for (const auto& [id, record] : incoming_) {
    incoming[id] = {{"migration_id", record.migration_id}, {"files", record.files}};
  }
  write_file_atomically(path_, nlohmann::json{{"outgoing", outgoing}, {"incoming", incoming}}.dump(2) + "\n",
                        0644);
}

}  // namespace harmony::twilight
