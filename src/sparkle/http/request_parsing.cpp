#include "sparkle/http/request_parsing.hpp"

#include <boost/url/parse.hpp>
#include <cctype>

#include "common/crypto/random_token.hpp"

namespace harmony::sparkle {

namespace http = boost::beast::http;

namespace {

// A client-supplied request id is kept when it is short and plain, so a caller can follow one
// id through its own logs and ours; anything else is replaced.
std::string request_id_from(const http::request_header<>& header) {
  auto it = header.find("x-request-id");
  if (it != header.end()) {
    auto value = it->value();
    bool plain = !value.empty() && value.size() <= 64;
    for (char c : value)
      plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    if (plain) return std::string(value);
  }
  return crypto::random_hex(8);
}

}  // namespace

bool parse_request_head(const http::request_header<>& header, const std::string& client, Request& out,
                        const TrustedProxies& proxies) {
  out.method = std::string(header.method_string());
  out.client_address = client;
  if (!proxies.empty()) {
    auto forwarded = header.find("x-forwarded-for");
    if (forwarded != header.end()) out.client_address = proxies.client_of(client, forwarded->value());
  }
  out.request_id = request_id_from(header);
  for (const auto& field : header) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  auto url = boost::urls::parse_origin_form(header.target());
  if (!url) return false;
  out.path = url->path();
  for (auto param : url->params()) out.query[param.key] = param.value;
  return true;
}

}  // namespace harmony::sparkle
