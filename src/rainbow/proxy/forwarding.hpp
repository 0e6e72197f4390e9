#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <optional>
#include <string>

#include "rainbow/proxy/upstream_client.hpp"
#include "sparkle/http/request.hpp"
#include "sparkle/http/response.hpp"

namespace harmony::rainbow {

// The Sparkle path for the part of a browser path after /clouds/NAME/api/v1/, with the query
// re-encoded. Empty when the path tries to leave the API (".", ".." segments).
std::optional<std::string> upstream_target(const std::string& rest, const sparkle::Request& request);

// The browser's headers that Sparkle understands; never its cookies or its own Authorization.
HeaderList forwarded_headers(const sparkle::Request& request);

// Sparkle's answer as Rainbow's, with Location moved under /clouds/NAME.
sparkle::Response browser_response(const UpstreamResponse& upstream, const std::string& cloud);

// The same for a streamed answer: the head fields of Sparkle's answer that the browser gets
// (framing fields are the proxy's business).
void copy_answer_fields(const boost::beast::http::response_header<>& from,
                        boost::beast::http::response_header<>& to, const std::string& cloud);

}  // namespace harmony::rainbow
