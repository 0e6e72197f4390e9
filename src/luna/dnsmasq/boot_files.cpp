#include "luna/dnsmasq/boot_files.hpp"

#include <fstream>
#include <stdexcept>

namespace harmony::luna {

int sync_boot_files(const std::filesystem::path& tftp_root, const std::map<std::string, std::string>& files) {
  namespace fs = std::filesystem;
  const auto owned = tftp_root / "luna";
  int changes = 0;
  for (const auto& [relative, content] : files) {
    if (!relative.starts_with("luna/") || relative.find("..") != std::string::npos) {
      throw std::invalid_argument("boot file outside luna/: " + relative);
    }
    const auto path = tftp_root / relative;
    std::error_code error;
    if (fs::exists(path, error)) {
      std::ifstream in(path, std::ios::binary);
      const std::string current{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      if (current == content) continue;
    }
    fs::create_directories(path.parent_path());
    const auto temporary = path.string() + ".tmp";
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      out << content;
      if (!out.flush()) throw std::runtime_error("cannot write " + temporary);
    }
    // TFTP serves only world-readable files when dnsmasq runs as another user.
    fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                   fs::perms::others_read);
    fs::rename(temporary, path);
    ++changes;
  }
  if (!fs::exists(owned)) return changes;
  for (const auto& entry : fs::recursive_directory_iterator(owned)) {
    if (!entry.is_regular_file()) continue;
    const auto relative = fs::relative(entry.path(), tftp_root).generic_string();
    if (!files.contains(relative)) {
      fs::remove(entry.path());
      ++changes;
    }
  }
  return changes;
}

}  // namespace harmony::luna
