#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace harmony::luna {

// Serves the files below one directory (the TFTP root: node images and iPXE scripts) over plain
// HTTP, GET and HEAD only, for iPXE and for the initramfs that fetches the root image: HTTP is
// much faster than TFTP for hundreds of megabytes. Nothing outside the directory is reachable
// (no "..", no symbolic links out). One thread per connection: a handful of booting hosts at a
// time, each keeping its connection. GET /healthz answers the daemon's health report (JSON) when
// one is given; it is matched before the files, so no file in the root can shadow it.
class BootHttpServer {
 public:
  // The JSON body of /healthz; called on the connection's thread, so it must be thread-safe.
  using HealthReport = std::function<std::string()>;

  // Binds at once (port 0: a free port); throws std::system_error when it cannot.
  BootHttpServer(std::filesystem::path root, const std::string& address, std::uint16_t port,
                 HealthReport health = {});
  ~BootHttpServer();
  BootHttpServer(const BootHttpServer&) = delete;
  BootHttpServer& operator=(const BootHttpServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

// The file below `root` that an HTTP target names, or empty when it names none (outside root, a
// directory, a hidden file, a bad escape). Pure but for reading the file system.
std::filesystem::path resolve_http_target(const std::filesystem::path& root, std::string_view target);

}  // namespace harmony::luna
