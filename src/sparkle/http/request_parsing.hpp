#pragma once

#include <boost/beast/http/message.hpp>
#include <string>

#include "sparkle/http/request.hpp"
#include "sparkle/http/trusted_proxies.hpp"

namespace harmony::sparkle {

// Fills everything of `out` but the body from a parsed request head: method, client address,
// request id, lower-cased headers, percent-decoded path and query. False when the target is not
// a valid origin-form URL. Separate from the server so that it can be fuzzed without sockets.
// `client` is the peer's address; a trusted proxy's X-Forwarded-For replaces it.
bool parse_request_head(const boost::beast::http::request_header<>& header, const std::string& client,
                        Request& out, const TrustedProxies& proxies = {});

}  // namespace harmony::sparkle
