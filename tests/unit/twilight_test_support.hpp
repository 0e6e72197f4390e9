#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

// Shared by the twilight_*_test.cpp files: fixture paths, golden files, scratch directories.
namespace harmony::twilight::test {

inline std::filesystem::path source_dir() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : HARMONY_DEFAULT_SOURCE_DIR;
}

inline std::filesystem::path data_dir() {
  return source_dir() / "tests/data";
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

inline void spit(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

// Compares byte for byte; HARMONY_UPDATE_GOLDEN=1 rewrites the file instead (review the diff).
inline void expect_golden(const std::filesystem::path& golden, const std::string& actual) {
  const char* update = std::getenv("HARMONY_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    spit(golden, actual);
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " is missing; run with HARMONY_UPDATE_GOLDEN=1";
  EXPECT_EQ(slurp(golden), actual) << "differs from " << golden
                                   << " (HARMONY_UPDATE_GOLDEN=1 rewrites it; review the diff)";
}

// A fresh directory, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "twilight-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace harmony::twilight::test
