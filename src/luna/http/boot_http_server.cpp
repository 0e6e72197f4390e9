#include "luna/http/boot_http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/logging.hpp"

namespace harmony::luna {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

fs::path resolve_http_target(const fs::path& root, std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (!target.starts_with("/")) return {};
  std::string path;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      path += target[i];
      continue;
    }
    if (i + 2 >= target.size() || hex_value(target[i + 1]) < 0 || hex_value(target[i + 2]) < 0) return {};
    path += static_cast<char>(hex_value(target[i + 1]) * 16 + hex_value(target[i + 2]));
    i += 2;
  }
  // No segment may climb out or name a hidden file (partial downloads are hidden).
  for (const auto& segment : fs::path(path.substr(1))) {
    const auto name = segment.string();
    if (name.empty() || name.starts_with(".") || name.find('\0') != std::string::npos) return {};
  }
  std::error_code error;
  const auto canonical_root = fs::canonical(root, error);
  if (error) return {};
  const auto file = fs::canonical(root / path.substr(1), error);
  if (error || !fs::is_regular_file(file, error)) return {};
  const auto relative = file.lexically_relative(canonical_root);
  if (relative.empty() || relative.begin()->string() == "..") return {};
  return file;
}

struct BootHttpServer::Impl {
  Impl(fs::path root_dir, const std::string& address, std::uint16_t port, HealthReport health_report)
      : root(std::move(root_dir)),
        health(std::move(health_report)),
        acceptor(io),
        log(component_logger("http")) {
    const tcp::endpoint endpoint(asio::ip::make_address(address), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
  }

  void accept_loop() {
    while (!stopping.load()) {
      auto socket = std::make_shared<tcp::socket>(io);
      beast::error_code error;
      acceptor.accept(*socket, error);
      if (error) {
        if (stopping.load()) break;
        continue;
      }
      std::lock_guard lock(mutex);
      // Finished connections' threads are joined as new ones come, so they never pile up.
      std::erase_if(connections, [](Connection& c) {
        if (!c.done->load()) return false;
        c.thread.join();
        return true;
      });
      auto done = std::make_shared<std::atomic<bool>>(false);
      connections.push_back({socket, done, std::thread([this, socket, done] {
                               serve(*socket);
                               done->store(true);
                             })});
    }
  }

  void serve(tcp::socket& socket) {
    beast::error_code error;
    const auto peer = socket.remote_endpoint(error).address().to_string();
    // A client that says nothing for a minute is let go.
    timeval timeout{60, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    beast::flat_buffer buffer;
    while (!stopping.load()) {
      http::request<http::empty_body> request;
      http::read(socket, buffer, request, error);
      if (error) break;
      const bool keep_alive = request.keep_alive();
      const auto target = std::string(request.target());
      const bool readable = request.method() == http::verb::get || request.method() == http::verb::head;
      if (readable && health && target.substr(0, target.find_first_of("?#")) == "/healthz") {
        http::response<http::string_body> answer{http::status::ok, request.version()};
        answer.set(http::field::content_type, "application/json");
        answer.set(http::field::cache_control, "no-store");
        answer.body() = health();
        answer.keep_alive(keep_alive);
        answer.prepare_payload();
        if (request.method() == http::verb::head) {
          http::response_serializer<http::string_body> serializer(answer);
          http::write_header(socket, serializer, error);
        } else {
          http::write(socket, answer, error);
        }
        if (error || !keep_alive) break;
        continue;
      }
      const auto file = (request.method() == http::verb::get || request.method() == http::verb::head)
                            ? resolve_http_target(root, target)
                            : fs::path();
      http::file_body::value_type body;
      if (!file.empty()) body.open(file.c_str(), beast::file_mode::scan, error);
      if (file.empty() || error) {
        const bool allowed = request.method() == http::verb::get || request.method() == http::verb::head;
        http::response<http::string_body> answer{
            allowed ? http::status::not_found : http::status::method_not_allowed, request.version()};
        answer.set(http::field::content_type, "text/plain");
        answer.body() = allowed ? "not found\n" : "only GET and HEAD\n";
        answer.keep_alive(keep_alive);
        answer.prepare_payload();
        http::write(socket, answer, error);
        log->info("{} {} {}: {}", peer, request.method_string(), target, answer.result_int());
      } else {
        const auto size = body.size();
        http::response<http::file_body> answer{std::piecewise_construct, std::make_tuple(std::move(body)),
                                               std::make_tuple(http::status::ok, request.version())};
        answer.set(http::field::content_type, "application/octet-stream");
        answer.content_length(size);
        answer.keep_alive(keep_alive);
        if (request.method() == http::verb::head) {
          http::response_serializer<http::file_body> serializer(answer);
          http::write_header(socket, serializer, error);
        } else {
          http::write(socket, answer, error);
        }
        log->info("{} {} {}: 200, {} bytes{}", peer, request.method_string(), target, size,
                  error ? " (cut: " + error.message() + ")" : "");
      }
      if (error || !keep_alive) break;
    }
    socket.shutdown(tcp::socket::shutdown_both, error);
  }

  struct Connection {
    std::shared_ptr<tcp::socket> socket;
    std::shared_ptr<std::atomic<bool>> done;
    std::thread thread;
  };

  fs::path root;
  HealthReport health;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::shared_ptr<spdlog::logger> log;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::list<Connection> connections;
  std::thread acceptor_thread;
};

BootHttpServer::BootHttpServer(fs::path root, const std::string& address, std::uint16_t port,
                               HealthReport health)
    : impl_(std::make_unique<Impl>(std::move(root), address, port, std::move(health))) {
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->acceptor_thread = std::thread([this] { impl_->accept_loop(); });
  impl_->log->info("serving {} over HTTP on {}:{}", impl_->root.string(), address, port_);
}

BootHttpServer::~BootHttpServer() {
  impl_->stopping.store(true);
  beast::error_code error;
  // Closing wakes the blocked accept and reads.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  impl_->acceptor_thread.join();
  impl_->acceptor.close(error);
  std::lock_guard lock(impl_->mutex);
  for (auto& connection : impl_->connections) {
    ::shutdown(connection.socket->native_handle(), SHUT_RDWR);
    connection.thread.join();
  }
}

}  // namespace harmony::luna
