#pragma once

#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace harmony::test {

// A network namespace of its own (`ip netns add`), deleted with everything in it on destruction.
// Needs root (CI runs tests as root). Names carry the test's PID so that concurrent test runs on
// one machine never meet; namespaces left by a crashed run are removed by the next one.
class NetworkNamespace {
 public:
  explicit NetworkNamespace(const std::string& suffix);
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return name_; }
  // Runs `ip -n NAME ARGS`; throws with the command's output when it fails.
  void ip(const std::string& args) const;

  // Runs `fn` on a thread that joined this namespace: the sockets it opens and the processes it
  // forks (servers started from it) live in the namespace. Returns what `fn` returns.
  template <class F>
  auto run(F&& fn) const -> decltype(fn()) {
    using Result = decltype(fn());
    std::exception_ptr error;
    if constexpr (std::is_void_v<Result>) {
      std::thread([&] {
        try {
          enter();
          fn();
        } catch (...) {
          error = std::current_exception();
        }
      }).join();
      if (error) std::rethrow_exception(error);
    } else {
      std::optional<Result> result;
      std::thread([&] {
        try {
          enter();
          result.emplace(fn());
        } catch (...) {
          error = std::current_exception();
        }
      }).join();
      if (error) std::rethrow_exception(error);
      return std::move(*result);
    }
  }

  // Deletes namespaces of earlier test runs whose process no longer exists.
  static void remove_stale();

 private:
  void enter() const;  // the calling thread joins this namespace
  std::string name_;
};

// Runs a shell command; throws with its output when it fails.
void run_or_throw(const std::string& command);

}  // namespace harmony::test
