#include "rainbow/proxy/gateway.hpp"

#include <spdlog/spdlog.h>

#include <future>

#include "common/crypto/constant_time.hpp"
#include "rainbow/proxy/event_relay.hpp"
#include "rainbow/proxy/forwarding.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::rainbow {

using sparkle::ApiError;
using sparkle::Request;
using sparkle::Response;

namespace {

constexpr size_t kMaxResponseBytes = 64u << 20;
constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

bool is_safe(const std::string& method) {
  return method == "GET" || method == "HEAD";
}

ApiError unavailable(const CloudConfig& cloud, const std::string& why) {
  return ApiError(502, "cloud_unavailable", "cloud " + cloud.name + " is unavailable: " + why);
}

// Rainbow's logins carry no token to the browser, only who is logged in.
nlohmann::json identity_of(const nlohmann::json& login_answer) {
  nlohmann::json identity = nlohmann::json::object();
  for (const char* key : {"user", "tenant_id", "role", "expires_at", "token_id"}) {
    if (login_answer.contains(key)) identity[key] = login_answer[key];
  }
  return identity;
}

// Sparkle checks the JSON content type of bodies: say it on requests Rainbow makes itself.
HeaderList json_headers(const Request& request, const std::string& token = "") {
  HeaderList headers{{"content-type", "application/json"}, {"x-request-id", request.request_id}};
  // Sparkle limits login attempts per client address: the browser's, when it trusts Rainbow.
  if (!request.client_address.empty()) headers.emplace_back("x-forwarded-for", request.client_address);
  if (!token.empty()) headers.emplace_back("authorization", "Bearer " + token);
  return headers;
}

}  // namespace

Gateway::Gateway(const RainbowConfig& config)
    : config_(config),
      sessions_(config.session_idle_timeout, config.max_sessions),
      cookie_(config.secure_cookies) {
  for (const auto& cloud : config.clouds) clouds_.emplace(cloud.name, cloud);
}

void Gateway::register_routes(sparkle::Router& router) {
  router.add("GET", "/rainbow/v1/session", [this](Request& r) { return session_info(r); });
  router.add("POST", "/rainbow/v1/logout", [this](Request& r) { return logout_all(r); });
  router.add("POST", "/rainbow/v1/clouds/{cloud}/login", [this](Request& r) { return login(r); });
  router.add("POST", "/rainbow/v1/clouds/{cloud}/logout", [this](Request& r) { return logout(r); });
  // Before the generic route, so that image files stream through instead of being buffered.
  router.add_upload("PUT", "/clouds/{cloud}/api/v1/images/{id}/file",
                    [this](Request& r) { return forward_upload(r); });
  for (const char* method : kMethods) {
    router.add(method, "/clouds/{cloud}/api/v1/{rest...}", [this](Request& r) { return forward(r); });
  }
}

const CloudConfig& Gateway::cloud(const Request& request) const {
  auto it = clouds_.find(request.param("cloud"));
  if (it == clouds_.end()) throw sparkle::not_found("cloud " + request.param("cloud"));
  return it->second;
}

SessionView Gateway::require_session(const Request& request) {
  auto id = cookie_.read(request);
  std::optional<SessionView> session;
  if (id) session = sessions_.find(*id);
  if (!session) throw ApiError(401, "no_session", "no session: load the dashboard again");
  return *session;
}

void Gateway::require_csrf(const Request& request, const SessionView& session) const {
  if (is_safe(request.method)) return;
  auto token = request.header("x-csrf-token");
  if (!token || !crypto::equal_constant_time(*token, session.csrf_token)) {
    throw ApiError(403, "csrf", "missing or wrong CSRF token", "X-CSRF-Token");
  }
}

const CloudLogin& Gateway::require_login(const SessionView& session, const CloudConfig& cloud) const {
  auto it = session.logins.find(cloud.name);
  if (it == session.logins.end()) throw ApiError(401, "not_logged_in", "log in to cloud " + cloud.name);
  return it->second;
}

UpstreamExchange Gateway::exchange(const CloudConfig& cloud) const {
  return UpstreamExchange(cloud.url, config_.upstream_timeout, kMaxResponseBytes);
}

nlohmann::json Gateway::probe(const CloudConfig& cloud) const {
  try {
    UpstreamExchange probe(cloud.url, config_.probe_timeout, 64 * 1024);
    auto answer = probe.send({"GET", "/healthz", {}, ""});
    if (answer.status == 200) return {{"available", true}};
    return {{"available", false}, {"reason", "health check answered " + std::to_string(answer.status)}};
  } catch (const UpstreamUnavailable& e) {
    return {{"available", false}, {"reason", e.what()}};
  }
}

Response Gateway::session_info(Request& request) {
  std::optional<SessionView> session;
  if (auto id = cookie_.read(request)) session = sessions_.find(*id);
  bool created = !session;
  if (created) session = sessions_.create();
  // Probed together: one cloud that is down costs its timeout once, not once per cloud.
  std::vector<std::future<nlohmann::json>> probes;
  for (const auto& [name, cloud] : clouds_) {
    probes.push_back(std::async(std::launch::async, [this, &cloud = cloud] { return probe(cloud); }));
  }
  nlohmann::json clouds = nlohmann::json::array();
  size_t i = 0;
  for (const auto& [name, cloud] : clouds_) {
    auto entry = probes[i++].get();
    entry["name"] = name;
    auto login = session->logins.find(name);
    entry["login"] = login == session->logins.end() ? nlohmann::json() : login->second.identity;
    clouds.push_back(std::move(entry));
  }
  auto response = Response::json(200, {{"csrf_token", session->csrf_token}, {"clouds", clouds}});
  response.with_header("Cache-Control", "no-store");
  if (created) response.with_header("Set-Cookie", cookie_.set(session->id));
  return response;
}

Response Gateway::login(Request& request) {
  const auto& target = cloud(request);
  auto session = require_session(request);
  require_csrf(request, session);
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object()) throw sparkle::bad_request("", "the body must be a JSON object");
  nlohmann::json credentials = nlohmann::json::object();
  for (const char* field : {"username", "password"}) {
    if (!body.contains(field) || !body[field].is_string() || body[field].get<std::string>().empty())
      throw sparkle::bad_request(field, std::string(field) + " is required");
    credentials[field] = body[field];
  }
  if (body.contains("tenant") && body["tenant"].is_string() && !body["tenant"].get<std::string>().empty())
    credentials["tenant"] = body["tenant"];

  UpstreamResponse answer;
  try {
    answer =
        exchange(target).send({"POST", "/api/v1/auth/tokens", json_headers(request), credentials.dump()});
  } catch (const UpstreamUnavailable& e) {
    throw unavailable(target, e.what());
  }
  if (answer.status != 200 && answer.status != 201) return browser_response(answer, target.name);
  auto parsed = nlohmann::json::parse(answer.body, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("token") || !parsed["token"].is_string())
    throw unavailable(target, "its login answer has no token");
  CloudLogin fresh{parsed["token"].get<std::string>(), identity_of(parsed)};
  if (auto old = sessions_.drop_login(session.id, target.name)) revoke(target, *old);
  sessions_.set_login(session.id, target.name, fresh);
  spdlog::info("request {}: logged in to cloud {}", request.request_id, target.name);
  auto response = Response::json(200, fresh.identity);
  response.with_header("Cache-Control", "no-store");
  return response;
}

void Gateway::revoke(const CloudConfig& cloud, const std::string& token) const {
  try {
    HeaderList headers{{"authorization", "Bearer " + token}};
    exchange(cloud).send({"DELETE", "/api/v1/auth/tokens/current", headers, ""});
  } catch (const UpstreamUnavailable& e) {
    // The token expires by itself; logging out locally must still work with the cloud down.
    spdlog::warn("could not revoke a token at cloud {}: {}", cloud.name, e.what());
  }
}

Response Gateway::logout(Request& request) {
  const auto& target = cloud(request);
  auto session = require_session(request);
  require_csrf(request, session);
  if (auto token = sessions_.drop_login(session.id, target.name)) revoke(target, *token);
  return Response::no_content();
}

Response Gateway::logout_all(Request& request) {
  auto session = require_session(request);
  require_csrf(request, session);
  for (auto& [name, login] : sessions_.destroy(session.id)) {
    auto it = clouds_.find(name);
    if (it != clouds_.end()) revoke(it->second, login.token);
  }
  auto response = Response::no_content();
  response.with_header("Set-Cookie", cookie_.clear());
  return response;
}

Response Gateway::forward(Request& request) {
  const auto& target = cloud(request);
  auto session = require_session(request);
  require_csrf(request, session);
  const auto& login = require_login(session, target);
  const auto& rest = request.param("rest");
  auto path = upstream_target(rest, request);
  if (!path) throw sparkle::not_found("path " + request.path);
  auto headers = forwarded_headers(request);
  headers.emplace_back("authorization", "Bearer " + login.token);
  if (rest == "events" && request.method == "GET")
    return forward_events(request, target, session, *path, headers);
  UpstreamResponse answer;
  try {
    answer = exchange(target).send({request.method, *path, std::move(headers), request.body});
  } catch (const UpstreamUnavailable& e) {
    throw unavailable(target, e.what());
  }
  // The token expired or was revoked elsewhere: forget it, so the dashboard asks to log in.
  if (answer.status == 401) sessions_.drop_login(session.id, target.name);
  return browser_response(answer, target.name);
}

Response Gateway::forward_events(const Request& request, const CloudConfig& target,
                                 const SessionView& session, const std::string& path,
                                 const HeaderList& headers) {
  auto upstream = std::make_unique<UpstreamExchange>(target.url, config_.upstream_timeout, kMaxResponseBytes);
  UpstreamResponse head;
  try {
    head = upstream->send_and_read_head({"GET", path, headers, ""});
    if (head.status != 200) {
      // An error (401, 404 from a Sparkle without the stream...): a short body, relayed whole.
      bool done = false;
      while (!done) head.body += upstream->read_some(config_.upstream_timeout, done);
    }
  } catch (const UpstreamUnavailable& e) {
    throw unavailable(target, e.what());
  }
  if (head.status != 200) {
    if (head.status == 401) sessions_.drop_login(session.id, target.name);
    return browser_response(head, target.name);
  }
  spdlog::info("request {}: relaying the event stream of cloud {}", request.request_id, target.name);
  Response response;
  response.status = 200;
  response.content_type = "text/event-stream";
  response.stream = std::make_shared<EventRelay>(std::move(upstream));
  return response;
}

namespace {

class UpstreamUploadSink : public sparkle::UploadSink {
 public:
  UpstreamUploadSink(std::unique_ptr<UpstreamExchange> exchange, std::string cloud)
      : exchange_(std::move(exchange)), cloud_(std::move(cloud)) {}
  void write(std::string_view chunk) override {
    try {
      exchange_->write_chunk(chunk);
    } catch (const UpstreamUnavailable& e) {
      throw ApiError(502, "cloud_unavailable", "cloud " + cloud_ + " stopped taking the upload: " + e.what());
    }
  }
  Response finish() override {
    try {
      return browser_response(exchange_->finish_stream(), cloud_);
    } catch (const UpstreamUnavailable& e) {
      throw ApiError(502, "cloud_unavailable",
                     "cloud " + cloud_ + " did not confirm the upload: " + e.what());
    }
  }

 private:
  std::unique_ptr<UpstreamExchange> exchange_;
  std::string cloud_;
};

}  // namespace

std::unique_ptr<sparkle::UploadSink> Gateway::forward_upload(Request& request) {
  const auto& target = cloud(request);
  auto session = require_session(request);
  require_csrf(request, session);
  const auto& login = require_login(session, target);
  auto length = request.header("content-length");
  if (!length) throw ApiError(411, "length_required", "an upload needs Content-Length", "Content-Length");
  uint64_t bytes = 0;
  try {
    bytes = std::stoull(*length);
  } catch (const std::exception&) {
    throw sparkle::bad_request("Content-Length", "not a number");
  }
  auto path = upstream_target("images/" + request.param("id") + "/file", request);
  if (!path) throw sparkle::not_found("path " + request.path);
  auto headers = forwarded_headers(request);
  headers.emplace_back("authorization", "Bearer " + login.token);
  auto upstream = std::make_unique<UpstreamExchange>(target.url, config_.upstream_timeout, kMaxResponseBytes);
  try {
    upstream->begin_stream({"PUT", *path, std::move(headers), ""}, bytes);
  } catch (const UpstreamUnavailable& e) {
    throw unavailable(target, e.what());
  }
  return std::make_unique<UpstreamUploadSink>(std::move(upstream), target.name);
}

}  // namespace harmony::rainbow
