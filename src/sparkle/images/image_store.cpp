#include "sparkle/images/image_store.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace harmony::sparkle {
namespace {

constexpr std::size_t kMaxImageIdLength = 64;
constexpr std::string_view kPartSuffix = ".part";
constexpr std::size_t kReadBufferBytes = 1 << 20;

// Callers save errno first: building the message allocates, which may change errno.
[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

void require_valid_id(std::string_view id) {
  if (!is_valid_image_id(id)) {
    throw std::invalid_argument("invalid image id (expected lowercase UUID characters [0-9a-f-])");
  }
}

// A rename is only durable once the directory entry itself reaches the disk.
void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    throw_errno(error, "cannot open image directory " + dir.string());
  }
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) throw_errno(error, "cannot fsync image directory " + dir.string());
}

// Publishes without ever replacing an image that is already there.
void rename_no_replace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  int error = errno;
  if (error == EINVAL) {
    // The filesystem lacks RENAME_NOREPLACE: a hard link also fails if the target exists.
    if (::link(from.c_str(), to.c_str()) == 0) {
      ::unlink(from.c_str());
      return;
    }
    error = errno;
  }
  throw_errno(error, "cannot publish image " + to.string());
}

}  // namespace

bool is_valid_image_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxImageIdLength) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) return false;
  }
  return true;
}

ImageUpload::ImageUpload(std::filesystem::path dir, std::string id, int fd)
    : dir_(std::move(dir)), id_(std::move(id)), part_path_(dir_ / (id_ + std::string(kPartSuffix))), fd_(fd) {
  head_.reserve(kImageDetectionBytes);
}

ImageUpload::~ImageUpload() {
  if (!done_) discard();
}

void ImageUpload::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ::unlink(part_path_.c_str());
  done_ = true;
}

void ImageUpload::write(std::string_view chunk) {
  if (done_ || failed_) throw std::logic_error("write on a finished or failed upload of image " + id_);
  const char* data = chunk.data();
  std::size_t left = chunk.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed_ = true;
      const int error = errno;
      throw_errno(error, "writing image " + id_ + " failed after " + std::to_string(size_) + " bytes");
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  sha256_.update(chunk);
  size_ += chunk.size();
  if (head_.size() < kImageDetectionBytes) {
    head_.append(chunk.substr(0, kImageDetectionBytes - head_.size()));
  }
}

UploadResult ImageUpload::finish() {
  if (done_ || failed_) throw std::logic_error("finish on a finished or failed upload of image " + id_);
  if (::fsync(fd_) != 0) {
    failed_ = true;
    const int error = errno;
    throw_errno(error, "flushing image " + id_ + " to disk failed");
  }
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    failed_ = true;
    const int error = errno;
    throw_errno(error, "closing image " + id_ + " failed");
  }

  UploadResult result;
  result.size = size_;
  result.sha256 = sha256_.final_hex();
  result.format = detect_image_format(head_);
  if (!result.format.accepted()) {
    discard();
    return result;
  }
  try {
    rename_no_replace(part_path_, dir_ / id_);
  } catch (...) {
    discard();
    throw;
  }
  done_ = true;
  try {
    fsync_directory(dir_);
  } catch (...) {
    // Keep "an exception means nothing was stored" true, so a retry can upload the image again.
    ::unlink((dir_ / id_).c_str());
    throw;
  }
  result.stored = true;
  return result;
}

ImageStore::ImageStore(std::filesystem::path dir) : dir_(std::move(dir)) {
  if (dir_.has_parent_path()) std::filesystem::create_directories(dir_.parent_path());
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    const int error = errno;
    throw_errno(error, "cannot create image directory " + dir_.string());
  }
  if (!std::filesystem::is_directory(dir_)) {
    throw std::runtime_error("image store path is not a directory: " + dir_.string());
  }
}

std::unique_ptr<ImageUpload> ImageStore::begin_upload(std::string image_id) {
  require_valid_id(image_id);
  if (exists(image_id)) throw_errno(EEXIST, "image " + image_id + " is already stored");
  const auto part = dir_ / (image_id + std::string(kPartSuffix));
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int error = errno;
    if (error == EEXIST) throw_errno(error, "an upload of image " + image_id + " is already in progress");
    throw_errno(error, "cannot create " + part.string());
  }
  return std::unique_ptr<ImageUpload>(new ImageUpload(dir_, std::move(image_id), fd));
}

std::filesystem::path ImageStore::path_of(std::string_view image_id) const {
  require_valid_id(image_id);
  return dir_ / image_id;
}

bool ImageStore::exists(std::string_view image_id) const {
  return std::filesystem::is_regular_file(path_of(image_id));
}

void ImageStore::remove(std::string_view image_id) {
  std::filesystem::remove(path_of(image_id));
}

std::string ImageStore::sha256_of_file(std::string_view image_id) const {
  const auto path = path_of(image_id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    throw_errno(error, "cannot open image " + path.string());
  }
  crypto::Sha256 sha;
  std::vector<char> buffer(kReadBufferBytes);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      throw_errno(error, "reading image " + path.string() + " failed");
    }
    sha.update(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return sha.final_hex();
}

std::size_t ImageStore::remove_partial_uploads() {
  std::size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const auto name = entry.path().filename().string();
    if (!name.ends_with(kPartSuffix)) continue;
    if (!is_valid_image_id(std::string_view(name).substr(0, name.size() - kPartSuffix.size()))) continue;
    if (std::filesystem::remove(entry.path())) ++removed;
  }
  return removed;
}

}  // namespace harmony::sparkle
