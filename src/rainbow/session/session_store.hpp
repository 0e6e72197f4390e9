#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

namespace harmony::rainbow {

// What Rainbow keeps of one login to one cloud. The token never leaves the server.
struct CloudLogin {
  std::string token;
  nlohmann::json identity;  // the login answer without its token: user, tenant_id, role, expires_at
};

struct SessionView {
  std::string id;
  std::string csrf_token;
  std::map<std::string, CloudLogin> logins;  // by cloud name
};

// Browser sessions, in memory: a restart logs everybody out, which is acceptable for a dashboard
// and keeps bearer tokens off disk. Sessions expire after an idle timeout; when the store is
// full the least recently used one goes, so anonymous visitors cannot grow it without bound.
class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;
  SessionStore(std::chrono::seconds idle_timeout, size_t max_sessions)
      : idle_timeout_(idle_timeout), max_sessions_(max_sessions) {}

  SessionView create();
  // A live session by the id from the cookie; touching it extends its life.
  std::optional<SessionView> find(const std::string& id);
  void set_login(const std::string& id, const std::string& cloud, CloudLogin login);
  // Returns the token that was dropped (to revoke it), if any.
  std::optional<std::string> drop_login(const std::string& id, const std::string& cloud);
  // Removes the session; returns its logins so that their tokens can be revoked.
  std::map<std::string, CloudLogin> destroy(const std::string& id);

 private:
  struct Entry {
    SessionView view;
    Clock::time_point last_used;
  };
  void evict_locked(Clock::time_point now);

  std::chrono::seconds idle_timeout_;
  size_t max_sessions_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> sessions_;
};

}  // namespace harmony::rainbow
