#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace harmony::proto {

// A body or envelope member that is missing, of the wrong type or out of range. `path` locates it
// from the object being read ("instances[2].nics[0].mac"); the problem never quotes the value,
// because message fields can carry secrets (user data, keys) and errors get logged.
class FieldError : public std::exception {
 public:
  FieldError(std::string path, std::string problem);

  const std::string& path() const { return path_; }
  const std::string& problem() const { return problem_; }
  const char* what() const noexcept override { return what_.c_str(); }

  // The readers of enclosing objects and arrays add their step while the error unwinds.
  void prepend_key(std::string_view key);
  void prepend_index(std::size_t index);

 private:
  void rebuild();

  std::string path_;
  std::string problem_;
  std::string what_;
};

}  // namespace harmony::proto
