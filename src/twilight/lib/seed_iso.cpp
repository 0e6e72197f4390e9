#include "twilight/lib/seed_iso.hpp"

#include <fstream>
#include <system_error>
#include <vector>

#include "twilight/lib/command.hpp"

namespace harmony::twilight {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) throw std::system_error(errno, std::generic_category(), "cannot write " + path.string());
}

}  // namespace

void write_seed_directory(const fs::path& dir, const SeedDocuments& documents) {
  fs::create_directories(dir);
  write_file(dir / "meta-data", documents.meta_data);
  write_file(dir / "user-data", documents.user_data);
  write_file(dir / "network-config", documents.network_config);
}

std::optional<SeedIsoError> build_seed_iso(const fs::path& dir, const fs::path& output_path) {
  std::error_code ec;
  for (const char* required : {"user-data", "meta-data"}) {
    if (!fs::is_regular_file(dir / required, ec)) {
      return SeedIsoError{"seed directory " + dir.string() + " has no " + required};
    }
  }
  // genisoimage runs inside `dir` so that the files land at the image's root under their names.
  const auto output = fs::absolute(output_path, ec);
  if (ec) return SeedIsoError{"cannot resolve " + output_path.string() + ": " + ec.message()};
  std::vector<std::string> argv = {"genisoimage", "-output", output.string(), "-volid",    "cidata",
                                   "-joliet",     "-rock",   "-quiet",        "user-data", "meta-data"};
  if (fs::is_regular_file(dir / "network-config", ec)) argv.push_back("network-config");
  CommandResult result;
  try {
    result = run_command(argv, dir);
  } catch (const std::system_error& e) {
    return SeedIsoError{std::string("cannot run genisoimage (Debian package genisoimage): ") + e.what()};
  }
  if (!result.succeeded()) {
    fs::remove(output, ec);
    return SeedIsoError{"genisoimage " + result.describe() + " building " + output.string() + ": " +
                        result.output};
  }
  return std::nullopt;
}

}  // namespace harmony::twilight
