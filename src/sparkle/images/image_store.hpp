#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/crypto/sha256.hpp"
#include "sparkle/images/image_format.hpp"

namespace harmony::sparkle {

// What a completed upload turned out to be.
struct UploadResult {
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex of the whole content
  DetectedFormat format;
  // False when the content was refused (format.refusal says why): the partial file is deleted
  // and nothing is stored under the image id.
  bool stored = false;
};

// One image being received. Memory use is constant whatever the image size: data goes straight
// to `<dir>/<id>.part` and only a hash state and the first bytes (for format detection) are kept.
// Destroying it without finish() deletes the partial file, so an aborted upload leaves nothing.
class ImageUpload {
 public:
  ImageUpload(const ImageUpload&) = delete;
  ImageUpload& operator=(const ImageUpload&) = delete;
  ~ImageUpload();

  // Appends a chunk. Throws std::system_error with the errno and a message naming the image on
  // any write error (ENOSPC, EIO, ...); the upload is then unusable and should be dropped.
  void write(std::string_view chunk);

  // Flushes the content to disk and, if the format is accepted, atomically publishes it as
  // `<dir>/<id>` (never replacing an existing image). Refused content is deleted. Throws
  // std::system_error on I/O failure and std::logic_error if called twice or after a failed write.
  UploadResult finish();

  std::uint64_t size() const { return size_; }

 private:
  friend class ImageStore;
  ImageUpload(std::filesystem::path dir, std::string id, int fd);
  void discard() noexcept;

  std::filesystem::path dir_;
  std::string id_;
  std::filesystem::path part_path_;
  int fd_;
  bool done_ = false;
  bool failed_ = false;
  std::uint64_t size_ = 0;
  crypto::Sha256 sha256_;
  std::string head_;
};

// Image files on the controller's disk, one per image id. Ids must be lowercase UUID-like strings
// ([0-9a-f-], 1..64 chars) so they can never name a path outside the store; every method throws
// std::invalid_argument for any other id.
class ImageStore {
 public:
  // Creates `dir` (mode 0750) if needed.
  explicit ImageStore(std::filesystem::path dir);

  // Starts receiving image `id`. Throws std::system_error (EEXIST) if the image is already stored
  // or another upload of it is in progress.
  std::unique_ptr<ImageUpload> begin_upload(std::string image_id);

  std::filesystem::path path_of(std::string_view image_id) const;
  bool exists(std::string_view image_id) const;
  // Deletes a stored image; nothing happens if it is absent.
  void remove(std::string_view image_id);
  // Re-reads the stored file to verify it against the checksum recorded at upload.
  std::string sha256_of_file(std::string_view image_id) const;

  // Deletes `.part` files left by a crashed process. Call once at startup, before any upload
  // begins (it would delete in-progress uploads too). Returns how many were removed.
  std::size_t remove_partial_uploads();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// Whether `id` is acceptable as an image id (see ImageStore).
bool is_valid_image_id(std::string_view id);

}  // namespace harmony::sparkle
