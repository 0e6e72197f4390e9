#include "common/proto/field_error.hpp"

#include <utility>

namespace harmony::proto {

FieldError::FieldError(std::string path, std::string problem)
    : path_(std::move(path)), problem_(std::move(problem)) {
  rebuild();
}

void FieldError::prepend_key(std::string_view key) {
  std::string step(key);
  if (!path_.empty() && path_.front() != '[') step += '.';
  path_ = step + path_;
  rebuild();
}

void FieldError::prepend_index(std::size_t index) {
  std::string step = "[" + std::to_string(index) + "]";
  if (!path_.empty() && path_.front() != '[') step += '.';
  path_ = step + path_;
  rebuild();
}

void FieldError::rebuild() {
  what_ = path_.empty() ? problem_ : path_ + ": " + problem_;
}

}  // namespace harmony::proto
