#include "rainbow/web/static_files.hpp"

#include <map>
#include <system_error>

#include "sparkle/http/api_error.hpp"

namespace harmony::rainbow {

namespace fs = std::filesystem;

StaticFiles::StaticFiles(fs::path root) {
  std::error_code ec;
  auto canonical = fs::weakly_canonical(root, ec);
  root_ = ec ? root : canonical;
}

std::optional<fs::path> StaticFiles::resolve(const std::string& path) const {
  fs::path relative;
  size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    auto segment = path.substr(start, end - start);
    // Dot files and parent segments never name a file of the application.
    if (!segment.empty()) {
      if (segment.front() == '.' || segment.find('\0') != std::string::npos) return std::nullopt;
      relative /= segment;
    }
    start = end + 1;
  }
  if (relative.empty()) relative = "index.html";
  std::error_code ec;
  auto file = fs::weakly_canonical(root_ / relative, ec);
  if (ec || !fs::is_regular_file(file, ec)) return std::nullopt;
  // A symbolic link inside the root must not lead out of it.
  auto [root_end, ignored] = std::mismatch(root_.begin(), root_.end(), file.begin(), file.end());
  if (root_end != root_.end()) return std::nullopt;
  return file;
}

std::string StaticFiles::content_type(const fs::path& file) {
  static const std::map<std::string, std::string> kTypes{{".html", "text/html; charset=utf-8"},
                                                         {".js", "text/javascript; charset=utf-8"},
                                                         {".css", "text/css; charset=utf-8"},
                                                         {".json", "application/json"},
                                                         {".svg", "image/svg+xml"},
                                                         {".png", "image/png"},
                                                         {".ico", "image/x-icon"},
                                                         {".woff2", "font/woff2"},
                                                         {".woff", "font/woff"},
                                                         {".txt", "text/plain; charset=utf-8"},
                                                         {".map", "application/json"}};
  auto it = kTypes.find(file.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

sparkle::Response StaticFiles::serve(const std::string& path) const {
  auto file = resolve(path);
  if (!file) throw sparkle::not_found("page " + path);
  sparkle::Response response;
  response.file = *file;
  response.content_type = content_type(*file);
  // Vite puts a content hash in every asset's name: those never change.
  bool hashed = path.starts_with("/assets/");
  response.with_header("Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
  if (file->extension() == ".html") {
    response.with_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                         "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    response.with_header("X-Frame-Options", "DENY");
    response.with_header("Referrer-Policy", "no-referrer");
  }
  return response;
}

}  // namespace harmony::rainbow
