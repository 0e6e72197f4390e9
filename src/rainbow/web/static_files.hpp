#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "sparkle/http/response.hpp"

namespace harmony::rainbow {

// Serves the built web application (web/dist): hashed assets cached for good, index.html never,
// and nothing outside the root.
class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root);

  // The file for a decoded request path ("/" is index.html), or nullopt.
  std::optional<std::filesystem::path> resolve(const std::string& path) const;
  sparkle::Response serve(const std::string& path) const;

  static std::string content_type(const std::filesystem::path& file);

 private:
  std::filesystem::path root_;
};

}  // namespace harmony::rainbow
