#include "twilight/storage/pool_storage.hpp"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <unistd.h>

#include <optional>
#include <utility>

#include "common/atomic_file.hpp"
#include "common/logging.hpp"
#include "common/proto/enum_names.hpp"
#include "twilight/lib/xml_escape.hpp"

namespace harmony::twilight {
namespace {

namespace fs = std::filesystem;

std::string last_error(const std::string& what) {
  const char* message = virGetLastErrorMessage();
  return what + ": " + (message != nullptr ? message : "unknown libvirt error");
}

[[noreturn]] void fail(const std::string& what) {
  throw StorageError(last_error(what));
}

struct VolRef {
  virStorageVolPtr vol = nullptr;
  VolRef() = default;
  explicit VolRef(virStorageVolPtr v) : vol(v) {}
  VolRef(VolRef&& other) noexcept : vol(std::exchange(other.vol, nullptr)) {}
  VolRef(const VolRef&) = delete;
  VolRef& operator=(const VolRef&) = delete;
  VolRef& operator=(VolRef&& other) noexcept {
    std::swap(vol, other.vol);
    return *this;
  }
  ~VolRef() {
    if (vol != nullptr) virStorageVolFree(vol);
  }
  explicit operator bool() const { return vol != nullptr; }
};

// The volume, or none when the pool has no volume of that name; other failures throw.
VolRef find_volume(virStoragePoolPtr pool, const std::string& name) {
  virStorageVolPtr vol = virStorageVolLookupByName(pool, name.c_str());
  if (vol == nullptr && virGetLastErrorCode() != VIR_ERR_NO_STORAGE_VOL)
    fail("cannot look up volume " + name);
  return VolRef(vol);
}

std::string path_of(const VolRef& vol, const std::string& name) {
  char* path = virStorageVolGetPath(vol.vol);
  if (path == nullptr) fail("cannot get the path of volume " + name);
  std::string result(path);
  free(path);
  return result;
}

VolRef create_volume(virStoragePoolPtr pool, const std::string& xml, const std::string& name) {
  VolRef vol(virStorageVolCreateXML(pool, xml.c_str(), 0));
  if (!vol) fail("cannot create volume " + name);
  return vol;
}

std::string bytes(std::uint64_t gib) {
  return std::to_string(gib << 30);
}

// Sends a file through a libvirt stream.
int read_chunk(virStreamPtr, char* data, size_t nbytes, void* opaque) {
  const int fd = *static_cast<int*>(opaque);
  return static_cast<int>(::read(fd, data, nbytes));
}

// false when the driver cannot upload at all (the test driver).
bool upload(virConnectPtr conn, const VolRef& vol, const fs::path& file, const std::string& name) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StorageError("cannot open " + file.string());
  const auto size = fs::file_size(file);
  virStreamPtr stream = virStreamNew(conn, 0);
  if (stream == nullptr) {
    ::close(fd);
    fail("cannot open a stream for volume " + name);
  }
  bool sent = false;
  std::string error;
  bool unsupported = false;
  int source = fd;
  if (virStorageVolUpload(vol.vol, stream, 0, size, 0) != 0) {
    unsupported = virGetLastErrorCode() == VIR_ERR_NO_SUPPORT;
    error = last_error("cannot upload into volume " + name);
  } else if (virStreamSendAll(stream, read_chunk, &source) != 0) {
    error = last_error("cannot upload into volume " + name);
    virStreamAbort(stream);
  } else if (virStreamFinish(stream) != 0) {
    error = last_error("cannot finish the upload into volume " + name);
  } else {
    sent = true;
  }
  virStreamFree(stream);
  ::close(fd);
  if (!sent && !unsupported) throw StorageError(error);
  return sent;
}

}  // namespace

struct PoolStorage::PoolRef {
  virStoragePoolPtr pool = nullptr;
  PoolRef() = default;
  explicit PoolRef(virStoragePoolPtr p) : pool(p) {}
  PoolRef(PoolRef&& other) noexcept : pool(std::exchange(other.pool, nullptr)) {}
  PoolRef(const PoolRef&) = delete;
  PoolRef& operator=(const PoolRef&) = delete;
  PoolRef& operator=(PoolRef&& other) noexcept {
    std::swap(pool, other.pool);
    return *this;
  }
  ~PoolRef() {
    if (pool != nullptr) virStoragePoolFree(pool);
  }
};

PoolStorage::PoolStorage(PoolOptions options, fs::path state_dir, const ControllerApi* controller)
    : options_(std::move(options)), files_(state_dir, controller), state_dir_(std::move(state_dir)) {
  if (options_.path.empty()) options_.path = state_dir_ / "pool";
  // Errors reach the log through the exceptions; libvirt's default handler would print them all,
  // expected ones too (a volume looked up before it exists).
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  std::lock_guard lock(mutex_);
  ensure_pool_locked();
}

PoolStorage::~PoolStorage() {
  if (conn_ != nullptr) virConnectClose(conn_);
}

namespace {

// The target path of a pool's definition, as libvirt writes it (XML-escaped).
std::optional<std::string> defined_path(virStoragePoolPtr pool) {
  char* xml = virStoragePoolGetXMLDesc(pool, 0);
  if (xml == nullptr) return std::nullopt;
  const std::string text(xml);
  free(xml);
  const auto target = text.find("<target>");
  const auto begin = text.find("<path>", target == std::string::npos ? 0 : target);
  const auto end = text.find("</path>", begin);
  if (target == std::string::npos || begin == std::string::npos || end == std::string::npos)
    return std::nullopt;
  return text.substr(begin + 6, end - begin - 6);
}

}  // namespace

std::string PoolStorage::image_volume_name(const proto::ImageRef& image) {
  return "image-" + image.id + "." + std::string(proto::to_string(image.format));
}

std::string PoolStorage::root_volume_name(const std::string& instance_id) {
  return "instance-" + instance_id + ".qcow2";
}

void PoolStorage::ensure_pool_locked() {
  if (conn_ == nullptr || virConnectIsAlive(conn_) != 1) {
    if (conn_ != nullptr) virConnectClose(conn_);
    conn_ = virConnectOpen(options_.uri.c_str());
    if (conn_ == nullptr) fail("cannot connect to " + options_.uri);
  }
  PoolRef pool(virStoragePoolLookupByName(conn_, options_.name.c_str()));
  if (pool.pool == nullptr && virGetLastErrorCode() != VIR_ERR_NO_STORAGE_POOL) {
    fail("cannot look up storage pool " + options_.name);
  }
  if (pool.pool != nullptr) {
    // Left by an installation at another path (a moved or deleted directory): libvirt cannot
    // start it, and its volumes are not this agent's. Files are never removed, only the definition.
    const auto defined = defined_path(pool.pool);
    if (defined && *defined != xml_escape(options_.path.string())) {
      if (virStoragePoolIsActive(pool.pool) == 1) {
        throw StorageError("storage pool " + options_.name + " is active at " + *defined +
                           ", not at the configured " + options_.path.string() +
                           ": stop it (virsh pool-destroy) or configure another pool name");
      }
      if (virStoragePoolUndefine(pool.pool) != 0) fail("cannot undefine storage pool " + options_.name);
      component_logger("storage")->warn("storage pool {} was defined at {}: defined again at {}",
                                        options_.name, *defined, options_.path.string());
      pool = PoolRef(nullptr);
    }
  }
  if (pool.pool == nullptr) {
    const std::string xml = "<pool type='dir'><name>" + xml_escape(options_.name) + "</name><target><path>" +
                            xml_escape(options_.path.string()) +
                            "</path><permissions><mode>0711</mode></permissions></target></pool>";
    pool = PoolRef(virStoragePoolDefineXML(conn_, xml.c_str(), 0));
    if (pool.pool == nullptr) fail("cannot define storage pool " + options_.name);
    // Makes the directory.
    if (virStoragePoolBuild(pool.pool, 0) != 0) fail("cannot build storage pool " + options_.name);
    component_logger("storage")->info("defined storage pool {} (dir {})", options_.name,
                                      options_.path.string());
  }
  if (virStoragePoolIsActive(pool.pool) != 1 && virStoragePoolCreate(pool.pool, 0) != 0) {
    fail("cannot start storage pool " + options_.name);
  }
  int autostart = 0;
  if (virStoragePoolGetAutostart(pool.pool, &autostart) == 0 && autostart == 0 &&
      virStoragePoolSetAutostart(pool.pool, 1) != 0) {
    fail("cannot mark storage pool " + options_.name + " autostart");
  }
}

PoolStorage::PoolRef PoolStorage::pool_locked() {
  if (conn_ == nullptr || virConnectIsAlive(conn_) != 1) ensure_pool_locked();
  PoolRef pool(virStoragePoolLookupByName(conn_, options_.name.c_str()));
  if (pool.pool == nullptr || virStoragePoolIsActive(pool.pool) != 1) {
    // Removed or stopped behind the agent's back: made again, as at start.
    ensure_pool_locked();
    pool = PoolRef(virStoragePoolLookupByName(conn_, options_.name.c_str()));
    if (pool.pool == nullptr) fail("cannot look up storage pool " + options_.name);
  }
  return pool;
}

PreparedInstance PoolStorage::prepare(const proto::Instance& instance) {
  PreparedInstance prepared;
  {
    std::lock_guard lock(mutex_);
    auto pool = pool_locked();
    for (const auto& volume : instance.volumes) {
      prepared.volumes.push_back(VolumeDisk{volume.path ? *volume.path : volume_path(pool.pool, volume),
                                            "raw", volume.readonly, volume.shareable});
    }
    prepared.root_disk = root_disk(pool.pool, instance);
  }
  files_.prepare_files(instance, prepared);
  return prepared;
}

proto::InstanceFiles PoolStorage::files(const proto::Instance& instance) {
  const auto name = root_volume_name(instance.id);
  // libvirt's name for the volume when it exists; the one it will give it otherwise.
  std::string root = (options_.path / name).lexically_normal().string();
  {
    std::lock_guard lock(mutex_);
    if (conn_ != nullptr) {
      PoolRef pool(virStoragePoolLookupByName(conn_, options_.name.c_str()));
      if (pool.pool != nullptr) {
        if (auto vol = VolRef(virStorageVolLookupByName(pool.pool, name.c_str()))) root = path_of(vol, name);
      }
    }
  }
  return files_.layout().files(instance, std::move(root));
}

std::string PoolStorage::volume_path(virStoragePoolPtr pool, const proto::VolumeAttachment& volume) {
  if ((volume.pool != kLocalPool && volume.pool != options_.name) || !volume.name) {
    throw StorageError("volume " + volume.id + " is in storage pool " + volume.pool.value_or("?") +
                       ", which this agent does not have (\"local\" is pool " + options_.name + ")");
  }
  check_volume_name(*volume.name);
  auto vol = find_volume(pool, *volume.name);
  // Sparkle lists a host's volumes before the instances using them: this one is not made yet.
  if (!vol)
    throw StorageError("volume " + *volume.name + " is not in storage pool " + options_.name + " yet");
  return path_of(vol, *volume.name);
}

std::string PoolStorage::root_disk(virStoragePoolPtr pool, const proto::Instance& instance) {
  const auto name = root_volume_name(instance.id);
  if (auto existing = find_volume(pool, name)) return path_of(existing, name);
  std::string xml = "<volume><name>" + name + "</name>";
  if (instance.image) {
    const auto base = base_image_path(pool, *instance.image);
    // Without a capacity the overlay is as large as its image.
    if (instance.disk_gib > 0) xml += "<capacity unit='bytes'>" + bytes(instance.disk_gib) + "</capacity>";
    xml += "<target><format type='qcow2'/><permissions><mode>0600</mode></permissions></target>";
    xml += "<backingStore><path>" + xml_escape(base) + "</path><format type='" +
           std::string(proto::to_string(instance.image->format)) + "'/></backingStore>";
  } else {
    xml += "<capacity unit='bytes'>" + bytes(std::max<std::uint64_t>(instance.disk_gib, 1)) + "</capacity>";
    xml += "<target><format type='qcow2'/><permissions><mode>0600</mode></permissions></target>";
  }
  xml += "</volume>";
  return path_of(create_volume(pool, xml, name), name);
}

std::string PoolStorage::base_image_path(virStoragePoolPtr pool, const proto::ImageRef& image) {
  const auto name = image_volume_name(image);
  const auto marker = state_dir_ / "images" / (name.substr(std::string_view("image-").size()) + ".in-pool");
  auto vol = find_volume(pool, name);
  if (vol && read_state_file(marker).value_or("") == image.sha256) return path_of(vol, name);
  if (vol) {
    // An upload cut short, or an image replaced under the same id: made again.
    if (virStorageVolDelete(vol.vol, 0) != 0) fail("cannot remove incomplete image volume " + name);
  }
  const auto file = files_.fetch_image(image);
  const auto size = fs::file_size(file);
  const std::string xml = "<volume><name>" + name + "</name><capacity unit='bytes'>" + std::to_string(size) +
                          "</capacity><allocation unit='bytes'>0</allocation><target><format type='raw'/>"
                          "<permissions><mode>0644</mode></permissions></target></volume>";
  vol = create_volume(pool, xml, name);
  if (!upload(conn_, vol, file, name)) {
    component_logger("storage")->info("storage pool {}: the driver cannot upload; image volume {} left empty",
                                      options_.name, name);
  }
  // The refresh makes libvirt read what the file now is (a qcow2 image's header).
  virStoragePoolRefresh(pool, 0);
  write_file_atomically(marker, image.sha256, 0644);
  // The pool holds the image now; the cache would only double the space it takes.
  std::error_code ec;
  fs::remove(file, ec);
  fs::remove(fs::path(file.string() + ".sha256"), ec);
  return path_of(find_volume(pool, name), name);
}

void PoolStorage::release(const std::string& instance_id) {
  {
    std::lock_guard lock(mutex_);
    auto pool = pool_locked();
    const auto name = root_volume_name(instance_id);
    if (auto vol = find_volume(pool.pool, name); vol && virStorageVolDelete(vol.vol, 0) != 0) {
      fail("cannot remove volume " + name);
    }
  }
  files_.release_files(instance_id);
}

void PoolStorage::ensure_volume(const proto::HostVolume& volume) {
  check_volume_name(volume.name);
  std::lock_guard lock(mutex_);
  auto pool = pool_locked();
  const auto size = volume.size_gib << 30;
  if (auto vol = find_volume(pool.pool, volume.name)) {
    virStorageVolInfo info;
    if (virStorageVolGetInfo(vol.vol, &info) != 0) fail("cannot read volume " + volume.name);
    if (info.capacity < size && virStorageVolResize(vol.vol, size, 0) != 0) {
      fail("cannot grow volume " + volume.name);
    }
    return;
  }
  const std::string xml = "<volume><name>" + volume.name + "</name><capacity unit='bytes'>" +
                          std::to_string(size) +
                          "</capacity><allocation unit='bytes'>0</allocation><target><format type='raw'/>"
                          "<permissions><mode>0600</mode></permissions></target></volume>";
  create_volume(pool.pool, xml, volume.name);
}

void PoolStorage::remove_volume(const proto::HostVolume& volume) {
  check_volume_name(volume.name);
  std::lock_guard lock(mutex_);
  auto pool = pool_locked();
  if (auto vol = find_volume(pool.pool, volume.name); vol && virStorageVolDelete(vol.vol, 0) != 0) {
    fail("cannot remove volume " + volume.name);
  }
}

bool PoolStorage::has_volume(const proto::HostVolume& volume) {
  check_volume_name(volume.name);
  std::lock_guard lock(mutex_);
  auto pool = pool_locked();
  return static_cast<bool>(find_volume(pool.pool, volume.name));
}

std::optional<StorageCapacity> PoolStorage::capacity() {
  std::lock_guard lock(mutex_);
  try {
    auto pool = pool_locked();
    // Files written by guests since the last look count too.
    virStoragePoolRefresh(pool.pool, 0);
    virStoragePoolInfo info;
    if (virStoragePoolGetInfo(pool.pool, &info) != 0) return std::nullopt;
    return StorageCapacity{info.capacity, info.available};
  } catch (const StorageError&) {
    return std::nullopt;
  }
}

}  // namespace harmony::twilight
