#include "rainbow/proxy/forwarding.hpp"

#include <array>
#include <boost/url/url.hpp>

namespace harmony::rainbow {

std::optional<std::string> upstream_target(const std::string& rest, const sparkle::Request& request) {
  boost::urls::url url;
  url.set_path_absolute(true);
  auto segments = url.segments();
  segments.push_back("api");
  segments.push_back("v1");
  size_t start = 0;
  while (start <= rest.size()) {
    auto end = rest.find('/', start);
    if (end == std::string::npos) end = rest.size();
    auto segment = rest.substr(start, end - start);
    if (segment == "." || segment == "..") return std::nullopt;
    if (!segment.empty()) segments.push_back(segment);
    start = end + 1;
  }
  for (const auto& [key, value] : request.query) url.params().append({key, value});
  return std::string(url.encoded_target());
}

HeaderList forwarded_headers(const sparkle::Request& request) {
  // Last-Event-ID: an event stream resumes where the browser's EventSource left off.
  static constexpr std::array kPassed{"content-type",    "accept",         "if-match",
                                      "idempotency-key", "x-image-sha256", "last-event-id"};
  HeaderList out;
  for (const char* name : kPassed) {
    if (auto value = request.header(name)) out.emplace_back(name, *value);
  }
  // One id across the browser's request, Rainbow's log and Sparkle's log and audit.
  out.emplace_back("x-request-id", request.request_id);
  if (!request.client_address.empty()) out.emplace_back("x-forwarded-for", request.client_address);
  return out;
}

sparkle::Response browser_response(const UpstreamResponse& upstream, const std::string& cloud) {
  static constexpr std::array kPassed{"etag", "idempotent-replayed", "retry-after", "content-disposition"};
  sparkle::Response out;
  out.status = upstream.status;
  out.content_type = upstream.header("content-type").value_or("");
  out.body = upstream.body;
  for (const char* name : kPassed) {
    if (auto value = upstream.header(name)) out.with_header(name, *value);
  }
  if (auto location = upstream.header("location")) {
    out.with_header("Location", location->starts_with("/") ? "/clouds/" + cloud + *location : *location);
  }
  out.with_header("Cache-Control", "no-store");
  return out;
}

}  // namespace harmony::rainbow
