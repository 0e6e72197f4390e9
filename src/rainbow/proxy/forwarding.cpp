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

namespace {

// X-Accel-Buffering: a proxy in front of Rainbow (nginx) must not hold event streams back either.
constexpr std::array kPassedAnswerFields{"etag", "idempotent-replayed", "retry-after", "content-disposition",
                                         "x-accel-buffering"};

std::string browser_location(const std::string& location, const std::string& cloud) {
  return location.starts_with("/") ? "/clouds/" + cloud + location : location;
}

}  // namespace

sparkle::Response browser_response(const UpstreamResponse& upstream, const std::string& cloud) {
  const auto& kPassed = kPassedAnswerFields;
  sparkle::Response out;
  out.status = upstream.status;
  out.content_type = upstream.header("content-type").value_or("");
  out.body = upstream.body;
  for (const char* name : kPassed) {
    if (auto value = upstream.header(name)) out.with_header(name, *value);
  }
  if (auto location = upstream.header("location")) {
    out.with_header("Location", browser_location(*location, cloud));
  }
  out.with_header("Cache-Control", "no-store");
  return out;
}

void copy_answer_fields(const boost::beast::http::response_header<>& from,
                        boost::beast::http::response_header<>& to, const std::string& cloud) {
  namespace http = boost::beast::http;
  if (auto type = from.find(http::field::content_type); type != from.end())
    to.set(http::field::content_type, type->value());
  for (const char* name : kPassedAnswerFields) {
    if (auto field = from.find(name); field != from.end()) to.set(name, field->value());
  }
  if (auto location = from.find(http::field::location); location != from.end())
    to.set(http::field::location, browser_location(std::string(location->value()), cloud));
  to.set(http::field::cache_control, "no-store");
}

}  // namespace harmony::rainbow
