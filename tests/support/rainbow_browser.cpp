#include "support/rainbow_browser.hpp"

#include <filesystem>
#include <fstream>

#include "support/secret_registry.hpp"

namespace harmony::test {

HttpResult RainbowBrowser::open() {
  auto r = http_.get("/rainbow/v1/session");
  auto set_cookie = r.header("set-cookie");
  if (!set_cookie.empty()) cookie_ = set_cookie.substr(0, set_cookie.find(';'));
  if (r.status == 200) csrf_ = r.json().at("csrf_token").get<std::string>();
  // Session ids and CSRF tokens are as good as a login: scripts/check-logs makes sure that
  // Rainbow's log never shows them.
  if (!cookie_.empty()) remember_secret(cookie_.substr(cookie_.find('=') + 1));
  if (!csrf_.empty()) remember_secret(csrf_);
  return r;
}

HttpResult RainbowBrowser::send(const std::string& method, const std::string& target, const std::string& body,
                                std::map<std::string, std::string> headers, bool with_csrf) {
  if (!cookie_.empty()) headers["Cookie"] = cookie_;
  if (with_csrf && !csrf_.empty()) headers["X-CSRF-Token"] = csrf_;
  return http_.request(method, target, body, headers);
}

HttpResult RainbowBrowser::post(const std::string& target, const nlohmann::json& body, bool with_csrf) {
  return send("POST", target, body.dump(), {{"Content-Type", "application/json"}}, with_csrf);
}

HttpResult RainbowBrowser::login(const std::string& cloud, const std::string& user,
                                 const std::string& password) {
  return post("/rainbow/v1/clouds/" + cloud + "/login", {{"username", user}, {"password", password}});
}

long proc_status_field(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

size_t open_descriptors(pid_t pid) {
  std::error_code ec;
  size_t count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++count;
  return count;
}

}  // namespace harmony::test
