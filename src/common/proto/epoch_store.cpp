#include "common/proto/epoch_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace harmony::proto {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // close() reports write-back errors on some file systems, so it is checked on the success path.
  int release_and_close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::uint64_t read_epoch(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  std::uint64_t epoch = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), epoch);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw std::runtime_error(path.string() + " does not hold an epoch");
  }
  return epoch;
}

}  // namespace

EpochStore::EpochStore(std::filesystem::path state_dir)
    : dir_(std::move(state_dir)), path_(dir_ / kFileName) {
  std::filesystem::create_directories(dir_);
  if (std::filesystem::exists(path_)) epoch_ = read_epoch(path_);
}

std::uint64_t EpochStore::current() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

bool EpochStore::accept(std::uint64_t epoch) {
  std::lock_guard lock(mutex_);
  if (epoch < epoch_) return false;
  if (epoch == epoch_) return true;
  persist(epoch);
  epoch_ = epoch;
  return true;
}

// Temp file, fsync, rename, fsync of the directory: after a crash the file holds either the old
// or the new epoch, never a torn one, and a raised epoch is on disk before anyone acts on it.
void EpochStore::persist(std::uint64_t epoch) const {
  auto temp = dir_ / (std::string(kFileName) + ".tmp");
  std::string text = std::to_string(epoch) + "\n";
  {
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) throw_errno("open " + temp.string());
    // A temp file left by an older build could have other permissions; O_CREAT keeps them.
    if (::fchmod(fd.get(), 0600) != 0) throw_errno("chmod " + temp.string());
    std::size_t written = 0;
    while (written < text.size()) {
      ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("write " + temp.string());
      }
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) throw_errno("fsync " + temp.string());
    if (fd.release_and_close() != 0) throw_errno("close " + temp.string());
  }
  if (::rename(temp.c_str(), path_.c_str()) != 0) throw_errno("rename to " + path_.string());
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) throw_errno("open " + dir_.string());
  if (::fsync(dir.get()) != 0) throw_errno("fsync " + dir_.string());
}

}  // namespace harmony::proto
