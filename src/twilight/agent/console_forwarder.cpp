#include "twilight/agent/console_forwarder.hpp"

#include <fstream>

#include "common/logging.hpp"

namespace harmony::twilight {

namespace fs = std::filesystem;

ConsoleForwarder::ConsoleForwarder(StorageLayout layout, const ControllerApi& controller,
                                   std::chrono::milliseconds interval)
    : layout_(std::move(layout)),
      controller_(controller),
      interval_(interval),
      log_(component_logger("console")) {
  thread_ = std::thread([this] { run(); });
}

ConsoleForwarder::~ConsoleForwarder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConsoleForwarder::follow(std::set<std::string> instance_ids) {
  std::lock_guard lock(mutex_);
  instances_ = std::move(instance_ids);
}

void ConsoleForwarder::run() {
  for (;;) {
    std::set<std::string> instances;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
      if (stopping_) return;
      instances = instances_;
    }
    std::erase_if(sent_, [&](const auto& entry) { return !instances.contains(entry.first); });
    if (!controller_.available()) continue;
    for (const auto& id : instances) {
      try {
        check(id);
      } catch (const std::exception& e) {
        // Once per distinct problem: a controller that is down would otherwise fill the log.
        if (last_error_ != e.what()) log_->warn("console of instance {}: {}", id, e.what());
        last_error_ = e.what();
      }
    }
  }
}

void ConsoleForwarder::check(const std::string& instance_id) {
  const auto path = layout_.console_log(instance_id);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return;  // no console yet
  const auto modified = fs::last_write_time(path, ec);
  if (ec) return;
  if (auto it = sent_.find(instance_id);
      it != sent_.end() && it->second.size == size && it->second.modified == modified) {
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  const auto tail = std::min<std::uintmax_t>(size, kMaxTailBytes);
  in.seekg(static_cast<std::streamoff>(size - tail));
  std::string bytes(tail, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(tail));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  controller_.put_console(instance_id, bytes, size);
  sent_[instance_id] = Sent{size, modified};
  last_error_.clear();
}

}  // namespace harmony::twilight
