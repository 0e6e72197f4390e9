#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace harmony::test {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const { return body.empty() ? nlohmann::json() : nlohmann::json::parse(body); }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A small blocking HTTP/1.1 client over one keep-alive connection (reconnects when needed).
class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::string host = "127.0.0.1");
  ~HttpClient();

  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }

  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     std::map<std::string, std::string> headers = {});
  HttpResult get(const std::string& target) { return request("GET", target); }
  HttpResult del(const std::string& target) { return request("DELETE", target); }
  HttpResult post(const std::string& target, const nlohmann::json& body,
                  std::map<std::string, std::string> headers = {});
  HttpResult patch(const std::string& target, const nlohmann::json& body,
                   std::map<std::string, std::string> headers = {});
  HttpResult put(const std::string& target, const nlohmann::json& body,
                 std::map<std::string, std::string> headers = {});

  // Logs in and keeps the token; returns the login response.
  HttpResult login(const std::string& username, const std::string& password,
                   const std::optional<std::string>& tenant = std::nullopt);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string token_;
};

}  // namespace harmony::test
