#pragma once

#include <spdlog/logger.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "luna/model/physical_host.hpp"

namespace harmony::luna {

// The file name a node image file is served under in images/<version>/.
std::string served_file_name(const std::string& role);

// The node image versions Luna serves, in <tftp root>/images/<version>/ (vmlinuz, initrd.img,
// root.squashfs and luna-manifest.json, the sha256 of each). A worker thread downloads each wanted
// version into a hidden directory, checks every file's sha256, and only then renames the directory
// into place, so a version is either complete and verified or absent. Versions no longer wanted
// are deleted (Sparkle wants the current and the previous current one, and any a host is pinned
// to). Directories without a manifest (versions put there by hand) are left alone.
class NodeImageCache {
 public:
  explicit NodeImageCache(std::filesystem::path images_dir);
  ~NodeImageCache();
  NodeImageCache(const NodeImageCache&) = delete;
  NodeImageCache& operator=(const NodeImageCache&) = delete;

  // What to have ready; returns at once, the worker does the rest.
  void want(std::vector<NodeImage> images, DownloadApi api);
  // The versions complete and verified on disk, among the wanted ones.
  std::set<std::string> ready() const;
  // Grows whenever ready() changes, so that the caller re-renders boot scripts only then.
  std::uint64_t changes() const;

 private:
  void run();
  void sync_once(const std::vector<NodeImage>& images, const DownloadApi& api);
  bool is_ready(const NodeImage& image) const;
  void fetch(const NodeImage& image, const DownloadApi& api);
  void publish(std::set<std::string> ready);

  std::filesystem::path dir_;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<NodeImage> wanted_;
  DownloadApi api_;
  std::uint64_t wanted_serial_ = 0;
  std::set<std::string> ready_;
  std::uint64_t changes_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace harmony::luna
