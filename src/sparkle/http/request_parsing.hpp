#pragma once

#include <boost/beast/http/message.hpp>
#include <string>

#include "sparkle/http/request.hpp"

namespace harmony::sparkle {

// Fills everything of `out` but the body from a parsed request head: method, client address,
// request id, lower-cased headers, percent-decoded path and query. False when the target is not
// a valid origin-form URL. Separate from the server so that it can be fuzzed without sockets.
bool parse_request_head(const boost::beast::http::request_header<>& header, const std::string& client,
                        Request& out);

}  // namespace harmony::sparkle
