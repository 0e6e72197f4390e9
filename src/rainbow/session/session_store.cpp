#include "rainbow/session/session_store.hpp"

#include "common/crypto/random_token.hpp"

namespace harmony::rainbow {

SessionView SessionStore::create() {
  SessionView view{crypto::random_token("rbs_"), crypto::random_token("csrf_"), {}};
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  evict_locked(now);
  sessions_[view.id] = Entry{view, now};
  return view;
}

std::optional<SessionView> SessionStore::find(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  auto now = Clock::now();
  if (now - it->second.last_used > idle_timeout_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second.view;
}

void SessionStore::set_login(const std::string& id, const std::string& cloud, CloudLogin login) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.view.logins[cloud] = std::move(login);
}

std::optional<std::string> SessionStore::drop_login(const std::string& id, const std::string& cloud) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  auto login = it->second.view.logins.find(cloud);
  if (login == it->second.view.logins.end()) return std::nullopt;
  auto token = std::move(login->second.token);
  it->second.view.logins.erase(login);
  return token;
}

std::map<std::string, CloudLogin> SessionStore::destroy(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return {};
  auto logins = std::move(it->second.view.logins);
  sessions_.erase(it);
  return logins;
}

void SessionStore::evict_locked(Clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = now - it->second.last_used > idle_timeout_ ? sessions_.erase(it) : std::next(it);
  }
  while (sessions_.size() >= max_sessions_) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    sessions_.erase(oldest);
  }
}

}  // namespace harmony::rainbow
