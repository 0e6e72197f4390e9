#pragma once

#include <optional>
#include <string>

#include "sparkle/http/request.hpp"

namespace harmony::rainbow {

// The browser's handle on its server-side session: HttpOnly (scripts never see it),
// SameSite=Strict (other sites' pages never send it), Secure behind TLS, where the __Host-
// prefix also pins it to this origin and path.
class SessionCookie {
 public:
  explicit SessionCookie(bool secure) : secure_(secure) {}

  std::optional<std::string> read(const sparkle::Request& request) const;
  std::string set(const std::string& session_id) const;
  std::string clear() const;

 private:
  std::string name() const { return secure_ ? "__Host-rainbow_session" : "rainbow_session"; }
  std::string attributes() const;
  bool secure_;
};

}  // namespace harmony::rainbow
