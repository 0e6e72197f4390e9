#include "twilight/storage/file_storage.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/atomic_file.hpp"
#include "common/crypto/sha256.hpp"
#include "twilight/lib/command.hpp"
#include "twilight/lib/seed_iso.hpp"
#include "twilight/storage/seed_documents.hpp"

namespace harmony::twilight {
namespace {

namespace fs = std::filesystem;

std::string sha256_of_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError("cannot read " + path.string());
  crypto::Sha256 hash;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw StorageError("cannot read " + path.string());
  return hash.final_hex();
}

void run_or_throw(const std::vector<std::string>& argv, const std::string& what) {
  CommandResult result;
  try {
    result = run_command(argv);
  } catch (const std::system_error& e) {
    throw StorageError("cannot run " + argv.front() + " (" + what + "): " + e.what());
  }
  if (!result.succeeded()) {
    throw StorageError(argv.front() + " " + result.describe() + " (" + what + "): " + result.output);
  }
}

// A private scratch directory, removed with its contents.
class TempDir {
 public:
  explicit TempDir(const fs::path& parent) {
    std::string pattern = (parent / ".tmp-XXXXXX").string();
    // mkdtemp makes it 0700: the user data written into it stays private.
    if (::mkdtemp(pattern.data()) == nullptr)
      throw StorageError("cannot create a directory in " + parent.string());
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

FileStorage::FileStorage(fs::path state_dir, const ControllerApi* controller)
    : layout_{std::move(state_dir)}, controller_(controller) {}

PreparedInstance FileStorage::prepare(const proto::Instance& instance) {
  PreparedInstance prepared;
  const auto disk = layout_.root_disk(instance.id);
  try {
    fs::create_directories(disk.parent_path());
  } catch (const fs::filesystem_error& e) {
    throw StorageError(e.what());
  }
  for (const auto& volume : instance.volumes) {
    if (volume.path) {
      prepared.volumes.push_back(VolumeDisk{*volume.path, "raw", volume.readonly, volume.shareable});
      continue;
    }
    if (volume.pool != kLocalPool || !volume.name) {
      throw StorageError("volume " + volume.id + " is in storage pool " + volume.pool.value_or("?") +
                         ", which this agent does not have (only \"local\")");
    }
    check_volume_name(*volume.name);
    prepared.volumes.push_back(
        VolumeDisk{layout_.volume(*volume.name).string(), "raw", volume.readonly, volume.shareable});
  }
  if (!fs::exists(disk)) create_root_disk(instance, disk);
  prepared.root_disk = disk.string();
  prepare_files(instance, prepared);
  return prepared;
}

proto::InstanceFiles FileStorage::files(const proto::Instance& instance) {
  return layout_.files(instance, layout_.root_disk(instance.id).string());
}

void FileStorage::prepare_files(const proto::Instance& instance, PreparedInstance& prepared) {
  const auto console = layout_.console_log(instance.id);
  try {
    fs::create_directories(console.parent_path());
  } catch (const fs::filesystem_error& e) {
    throw StorageError(e.what());
  }
  prepared.console_log = console.string();
  if (instance.cloud_init) {
    const auto iso = layout_.seed_iso(instance.id);
    build_seed(instance, *instance.cloud_init, iso);
    prepared.seed_iso = iso.string();
  }
}

void FileStorage::release(const std::string& instance_id) {
  std::error_code ec;
  const auto disk = layout_.root_disk(instance_id);
  fs::remove(disk, ec);
  if (ec) throw StorageError("cannot remove " + disk.string() + ": " + ec.message());
  release_files(instance_id);
}

void FileStorage::release_files(const std::string& instance_id) {
  std::error_code ec;
  for (const auto& path : {layout_.seed_iso(instance_id), layout_.console_log(instance_id)}) {
    fs::remove(path, ec);
    if (ec) throw StorageError("cannot remove " + path.string() + ": " + ec.message());
  }
}

void FileStorage::ensure_volume(const proto::HostVolume& volume) {
  check_volume_name(volume.name);
  const auto path = layout_.volume(volume.name);
  const auto size = volume.size_gib << 30;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (fs::exists(path)) {
    if (fs::file_size(path, ec) < size) fs::resize_file(path, size, ec);
    if (ec) throw StorageError("cannot grow volume " + path.string() + ": " + ec.message());
    return;
  }
  const auto partial = fs::path(path.string() + ".partial");
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) throw StorageError("cannot create volume " + partial.string());
  }
  ::chmod(partial.c_str(), 0600);
  // Sparse: space is taken as the guest writes.
  fs::resize_file(partial, size, ec);
  if (!ec) fs::rename(partial, path, ec);
  if (ec) throw StorageError("cannot create volume " + path.string() + ": " + ec.message());
}

void FileStorage::remove_volume(const proto::HostVolume& volume) {
  check_volume_name(volume.name);
  std::error_code ec;
  fs::remove(layout_.volume(volume.name), ec);
  if (ec) throw StorageError("cannot remove volume " + volume.name + ": " + ec.message());
}

bool FileStorage::has_volume(const proto::HostVolume& volume) {
  check_volume_name(volume.name);
  return fs::exists(layout_.volume(volume.name));
}

std::optional<StorageCapacity> FileStorage::capacity() {
  std::error_code ec;
  fs::create_directories(layout_.state_dir, ec);
  const auto space = fs::space(layout_.state_dir, ec);
  if (ec) return std::nullopt;
  return StorageCapacity{space.capacity, space.available};
}

fs::path FileStorage::fetch_image(const proto::ImageRef& image) {
  const auto path = layout_.cached_image(image);
  // The hash of a file once checked, so that a multi-gigabyte image is not read at every create.
  const auto verified_marker = fs::path(path.string() + ".sha256");
  if (fs::exists(path)) {
    if (read_state_file(verified_marker).value_or("") == image.sha256) return path;
    if (sha256_of_file(path) != image.sha256) {
      throw StorageError("cached image " + path.string() + " does not match its sha256; remove it");
    }
    write_file_atomically(verified_marker, image.sha256, 0644);
    return path;
  }
  fs::create_directories(path.parent_path());
  const auto partial = fs::path(path.string() + ".partial");
  std::error_code ec;
  if (image.url.starts_with("file://")) {
    const fs::path source = image.url.substr(std::string_view("file://").size());
    fs::copy_file(source, partial, fs::copy_options::overwrite_existing, ec);
    if (ec)
      throw StorageError("cannot copy image " + image.id + " from " + source.string() + ": " + ec.message());
  } else if (controller_ != nullptr) {
    try {
      controller_->download(image.url, partial);
    } catch (const ControllerApiError& e) {
      fs::remove(partial, ec);
      throw StorageError("image " + image.id + ": " + e.what());
    }
  } else {
    throw StorageError("image " + image.id + " is not in the cache and this agent has no controller API to " +
                       "download it from; place the file at " + path.string());
  }
  if (sha256_of_file(partial) != image.sha256) {
    fs::remove(partial, ec);
    throw StorageError("image " + image.id + " from " + image.url + " does not match its sha256");
  }
  fs::rename(partial, path);
  write_file_atomically(verified_marker, image.sha256, 0644);
  return path;
}

void FileStorage::create_root_disk(const proto::Instance& instance, const fs::path& disk) {
  const auto partial = fs::path(disk.string() + ".partial");
  std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
  if (instance.image) {
    const auto base = fs::absolute(fetch_image(*instance.image));
    argv.insert(argv.end(),
                {"-b", base.string(), "-F", std::string(proto::to_string(instance.image->format))});
    argv.push_back(partial.string());
    // Without a size the overlay is as large as its image.
    if (instance.disk_gib > 0) argv.push_back(std::to_string(instance.disk_gib) + "G");
  } else {
    argv.push_back(partial.string());
    argv.push_back(std::to_string(std::max<std::uint64_t>(instance.disk_gib, 1)) + "G");
  }
  run_or_throw(argv, "root disk of instance " + instance.id);
  // The guest's data; libvirt hands the file to QEMU's user when it starts the domain.
  ::chmod(partial.c_str(), 0600);
  std::error_code ec;
  fs::rename(partial, disk, ec);
  if (ec) throw StorageError("cannot move " + partial.string() + " into place: " + ec.message());
}

void FileStorage::build_seed(const proto::Instance& instance, const proto::CloudInit& cloud_init,
                             const fs::path& iso) {
  SeedDocuments documents;
  try {
    documents = seed_documents(instance, cloud_init);
  } catch (const std::invalid_argument& e) {
    throw StorageError(std::string("cloud-init seed of instance ") + instance.id + ": " + e.what());
  }
  fs::create_directories(iso.parent_path());
  TempDir scratch(iso.parent_path());
  try {
    write_seed_directory(scratch.path() / "seed", documents);
  } catch (const std::system_error& e) {
    throw StorageError(e.what());
  }
  const auto partial = fs::path(iso.string() + ".partial");
  if (auto error = build_seed_iso(scratch.path() / "seed", partial)) throw StorageError(error->message);
  ::chmod(partial.c_str(), 0600);
  std::error_code ec;
  fs::rename(partial, iso, ec);
  if (ec) throw StorageError("cannot move " + partial.string() + " into place: " + ec.message());
}

}  // namespace harmony::twilight
