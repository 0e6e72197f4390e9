#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "support/secret_registry.hpp"

namespace harmony::test {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  boost::asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void connect() {
    tcp::resolver resolver(ioc);
    stream.emplace(ioc);
    stream->connect(resolver.resolve(host, std::to_string(port)));
    buffer.clear();
  }
};

HttpClient::HttpClient(uint16_t port, std::string host) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               std::map<std::string, std::string> headers) {
  for (int attempt = 0;; ++attempt) {
    try {
      if (!impl_->stream) impl_->connect();
      http::request<http::string_body> req{http::string_to_verb(method), target, 11};
      req.set(http::field::host, impl_->host);
      if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
      if (!body.empty()) req.set(http::field::content_type, "application/json");
      for (const auto& [name, value] : headers) req.set(name, value);
      req.body() = body;
      req.prepare_payload();
      beast::error_code write_error;
      http::write(*impl_->stream, req, write_error);
      // A server may answer (413) and close before reading a large body: read that answer.
      if (write_error && write_error != boost::asio::error::broken_pipe &&
          write_error != boost::asio::error::connection_reset) {
        throw boost::system::system_error(write_error);
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      http::read_header(*impl_->stream, impl_->buffer, parser);
      auto& res = parser.get();
      HttpResult out;
      out.status = static_cast<int>(res.result_int());
      for (const auto& field : res) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(field.value());
      }
      if (out.header("content-type").starts_with("text/event-stream")) {
        // A stream never ends: only its head is read, and the connection is dropped.
        impl_->stream.reset();
        return out;
      }
      http::read(*impl_->stream, impl_->buffer, parser);
      out.body = res.body();
      if (!res.keep_alive()) impl_->stream.reset();
      return out;
    } catch (const boost::system::system_error&) {
      // A kept-alive connection the server closed: reconnect once.
      impl_->stream.reset();
      if (attempt >= 1) throw;
    }
  }
}

HttpResult HttpClient::post(const std::string& target, const nlohmann::json& body,
                            std::map<std::string, std::string> headers) {
  return request("POST", target, body.dump(), std::move(headers));
}

HttpResult HttpClient::patch(const std::string& target, const nlohmann::json& body,
                             std::map<std::string, std::string> headers) {
  return request("PATCH", target, body.dump(), std::move(headers));
}

HttpResult HttpClient::put(const std::string& target, const nlohmann::json& body,
                           std::map<std::string, std::string> headers) {
  return request("PUT", target, body.dump(), std::move(headers));
}

HttpResult HttpClient::login(const std::string& username, const std::string& password,
                             const std::optional<std::string>& tenant) {
  remember_secret(password);
  nlohmann::json body = {{"username", username}, {"password", password}};
  if (tenant) body["tenant"] = *tenant;
  token_.clear();
  auto result = post("/api/v1/auth/tokens", body);
  if (result.status == 201) {
    token_ = result.json().at("token").get<std::string>();
    remember_secret(token_);
  }
  return result;
}

}  // namespace harmony::test
