#include "rainbow/proxy/gateway.hpp"

#include <spdlog/spdlog.h>

#include <future>

#include "common/crypto/constant_time.hpp"
#include "rainbow/proxy/forwarding.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::rainbow {

using sparkle::ApiError;
using sparkle::Request;
using sparkle::Response;

namespace {

// Rainbow's own calls (logins, logouts, health checks) get short answers; API calls stream
// through the StreamProxy instead.
constexpr size_t kMaxResponseBytes = 1u << 20;

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

ForwardPlan Gateway::plan(const Request& request) {
  const auto& target = cloud(request);
  auto session = require_session(request);
  require_csrf(request, session);
  const auto& login = require_login(session, target);
  auto path = upstream_target(request.param("rest"), request);
  if (!path) throw sparkle::not_found("path " + request.path);
  ForwardPlan plan{&target, session.id, std::move(*path), forwarded_headers(request)};
  plan.headers.emplace_back("authorization", "Bearer " + login.token);
  return plan;
}

void Gateway::forget_login(const std::string& session_id, const std::string& cloud) {
  sessions_.drop_login(session_id, cloud);
}

}  // namespace harmony::rainbow
