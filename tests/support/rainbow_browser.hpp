#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "support/http_client.hpp"

namespace harmony::test {

// A browser's view of Rainbow: one connection, the session cookie and the CSRF token.
class RainbowBrowser {
 public:
  explicit RainbowBrowser(uint16_t port) : http_(port) {}

  // GET /rainbow/v1/session: keeps the cookie and the CSRF token.
  HttpResult open();
  HttpResult send(const std::string& method, const std::string& target, const std::string& body = "",
                  std::map<std::string, std::string> headers = {}, bool with_csrf = true);
  HttpResult get(const std::string& target) { return send("GET", target); }
  HttpResult post(const std::string& target, const nlohmann::json& body, bool with_csrf = true);
  HttpResult login(const std::string& cloud, const std::string& user, const std::string& password);
  const std::string& cookie() const { return cookie_; }
  const std::string& csrf() const { return csrf_; }

 private:
  HttpClient http_;
  std::string cookie_;
  std::string csrf_;
};

// A field of /proc/PID/status in KiB (VmHWM, VmRSS) or as a count (Threads); -1 when missing.
long proc_status_field(pid_t pid, const std::string& field);
// How many file descriptors the process has open.
size_t open_descriptors(pid_t pid);

}  // namespace harmony::test
