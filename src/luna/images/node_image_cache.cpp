#include "luna/images/node_image_cache.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/logging.hpp"
#include "luna/images/file_download.hpp"

namespace harmony::luna {
namespace {

namespace fs = std::filesystem;
constexpr const char* kManifest = "luna-manifest.json";
constexpr auto kRetry = std::chrono::seconds(10);

// Node image versions name a directory: "2024.05.1", "node-7".
bool is_version_name(std::string_view text) {
  if (text.empty() || text.size() > 64 || text.front() == '.') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

nlohmann::json manifest_of(const NodeImage& image) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& file : image.files) files[served_file_name(file.role)] = file.sha256;
  return {{"version", image.version}, {"files", files}};
}

std::string resolve(const DownloadApi& api, const std::string& url) {
  if (!url.starts_with("/")) return url;
  std::string base = api.url;
  while (base.ends_with("/")) base.pop_back();
  return base + url;
}

// dnsmasq serves TFTP as an unprivileged user: everything must be world-readable.
void make_readable(const fs::path& path, bool directory) {
  auto perms = fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read;
  if (directory) perms |= fs::perms::group_exec | fs::perms::others_exec;
  if (!directory) perms &= ~fs::perms::owner_exec;
  fs::permissions(path, perms);
}

}  // namespace

std::string served_file_name(const std::string& role) {
  if (role == "kernel") return "vmlinuz";
  if (role == "initrd") return "initrd.img";
  if (role == "root") return "root.squashfs";
  return "";
}

NodeImageCache::NodeImageCache(fs::path images_dir)
    : dir_(std::move(images_dir)), log_(component_logger("images")) {
  fs::create_directories(dir_);
  make_readable(dir_, true);
  worker_ = std::thread([this] { run(); });
}

NodeImageCache::~NodeImageCache() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void NodeImageCache::want(std::vector<NodeImage> images, DownloadApi api) {
  {
    std::lock_guard lock(mutex_);
    if (images == wanted_ && api == api_) return;
    wanted_ = std::move(images);
    api_ = std::move(api);
    ++wanted_serial_;
  }
  wake_.notify_all();
}

std::set<std::string> NodeImageCache::ready() const {
  std::lock_guard lock(mutex_);
  return ready_;
}

std::uint64_t NodeImageCache::changes() const {
  std::lock_guard lock(mutex_);
  return changes_;
}

void NodeImageCache::publish(std::set<std::string> ready) {
  std::lock_guard lock(mutex_);
  if (ready == ready_) return;
  ready_ = std::move(ready);
  ++changes_;
}

void NodeImageCache::run() {
  std::uint64_t done_serial = 0;
  bool failed = false;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // A failed download is retried after a pause; a new wanted set starts at once.
    if (done_serial == wanted_serial_ && !failed) {
      wake_.wait(lock, [&] { return stopping_ || wanted_serial_ != done_serial; });
    } else if (failed) {
      wake_.wait_for(lock, kRetry, [&] { return stopping_ || wanted_serial_ != done_serial; });
    }
    if (stopping_) break;
    auto images = wanted_;
    auto api = api_;
    done_serial = wanted_serial_;
    lock.unlock();
    try {
      sync_once(images, api);
      failed = false;
    } catch (const std::exception& e) {
      failed = true;
      log_->error("node images: {}; retrying in {} s", e.what(), kRetry.count());
    }
    lock.lock();
  }
}

bool NodeImageCache::is_ready(const NodeImage& image) const {
  std::ifstream in(dir_ / image.version / kManifest);
  if (!in) return false;
  try {
    return nlohmann::json::parse(in) == manifest_of(image);
  } catch (const std::exception&) {
    return false;
  }
}

void NodeImageCache::sync_once(const std::vector<NodeImage>& images, const DownloadApi& api) {
  std::set<std::string> wanted;
  std::set<std::string> ready;
  for (const auto& image : images) {
    if (!is_version_name(image.version)) {
      log_->warn("node image version \"{}\" ignored: not a valid directory name", image.version);
      continue;
    }
    wanted.insert(image.version);
    if (is_ready(image)) ready.insert(image.version);
  }
  publish(ready);
  // What is no longer wanted goes first: it frees the room the new version may need.
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const auto name = entry.path().filename().string();
    const bool partial = name.starts_with(".partial-");
    if (!entry.is_directory() || wanted.contains(name)) continue;
    if (!partial && !fs::exists(entry.path() / kManifest)) continue;
    log_->info("node image {}: deleting", partial ? name : name + " (no longer wanted)");
    fs::remove_all(entry.path());
  }
  std::string first_error;
  for (const auto& image : images) {
    if (!wanted.contains(image.version) || ready.contains(image.version)) continue;
    try {
      fetch(image, api);
      ready.insert(image.version);
      publish(ready);
    } catch (const std::exception& e) {
      log_->error("node image {}: {}", image.version, e.what());
      if (first_error.empty()) first_error = "node image " + image.version + " not ready";
    }
  }
  if (!first_error.empty()) throw std::runtime_error(first_error);
}

void NodeImageCache::fetch(const NodeImage& image, const DownloadApi& api) {
  const auto started = std::chrono::steady_clock::now();
  const auto partial = dir_ / (".partial-" + image.version);
  fs::remove_all(partial);
  fs::create_directories(partial);
  std::uint64_t bytes = 0;
  for (const auto& file : image.files) {
    const auto name = served_file_name(file.role);
    if (name.empty()) throw std::runtime_error("unknown file role \"" + file.role + "\"");
    const auto url = resolve(api, file.url);
    // The credential goes only to the controller's API, never to another server.
    const bool to_api = !api.url.empty() && url.starts_with(api.url);
    const auto sha256 = download_file(url, to_api ? api.token : "", partial / name);
    if (sha256 != file.sha256) {
      throw std::runtime_error(name + " has sha256 " + sha256 + ", not " + file.sha256 + " as Sparkle says");
    }
    make_readable(partial / name, false);
    bytes += fs::file_size(partial / name);
  }
  {
    std::ofstream out(partial / kManifest);
    out << manifest_of(image).dump(2) << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write the manifest");
  }
  make_readable(partial / kManifest, false);
  make_readable(partial, true);
  const auto target = dir_ / image.version;
  fs::remove_all(target);
  fs::rename(partial, target);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log_->info("node image {}: {} files, {} bytes, verified, in {} ms", image.version, image.files.size(),
             bytes, took.count());
}

}  // namespace harmony::luna
