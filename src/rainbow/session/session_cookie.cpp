#include "rainbow/session/session_cookie.hpp"

namespace harmony::rainbow {

std::optional<std::string> SessionCookie::read(const sparkle::Request& request) const {
  auto header = request.header("cookie");
  if (!header) return std::nullopt;
  const std::string wanted = name() + "=";
  std::string_view rest = *header;
  while (!rest.empty()) {
    auto end = rest.find(';');
    auto pair = rest.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.starts_with(wanted)) return std::string(pair.substr(wanted.size()));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::string SessionCookie::attributes() const {
  return std::string("; Path=/; HttpOnly; SameSite=Strict") + (secure_ ? "; Secure" : "");
}

std::string SessionCookie::set(const std::string& session_id) const {
  return name() + "=" + session_id + attributes();
}

std::string SessionCookie::clear() const {
  return name() + "=" + attributes() + "; Max-Age=0";
}

}  // namespace harmony::rainbow
