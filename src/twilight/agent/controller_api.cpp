#include "twilight/agent/controller_api.hpp"

#include "twilight/lib/http_client.hpp"

namespace harmony::twilight {
namespace {

std::string resolve(const proto::AgentApi& api, const std::string& url) {
  if (!url.starts_with("/")) return url;
  std::string base = api.url;
  while (base.ends_with("/")) base.pop_back();
  return base + url;
}

}  // namespace

void ControllerApi::update(const std::optional<proto::AgentApi>& api) {
  std::lock_guard lock(mutex_);
  api_ = api;
}

bool ControllerApi::available() const {
  std::lock_guard lock(mutex_);
  return api_.has_value();
}

proto::AgentApi ControllerApi::current() const {
  std::lock_guard lock(mutex_);
  if (!api_)
    throw ControllerApiError("the controller has not given this agent its API URL and credential yet");
  return *api_;
}

void ControllerApi::download(const std::string& url, const std::filesystem::path& destination) const {
  const auto api = current();
  const auto full = resolve(api, url);
  HttpRequestOptions options;
  options.bearer_token = api.token;
  HttpAnswer answer;
  try {
    answer = http_download_file(full, destination, options);
  } catch (const HttpError& e) {
    throw ControllerApiError(std::string("downloading: ") + e.what());
  }
  if (answer.status != 200) {
    throw ControllerApiError("downloading " + full + ": HTTP " + std::to_string(answer.status) + " " +
                             answer.body.substr(0, 300));
  }
}

void ControllerApi::put_console(const std::string& instance_id, std::string_view tail,
                                std::uint64_t total_bytes) const {
  const auto api = current();
  const auto url = resolve(api, "/api/v1/agent/instances/" + instance_id + "/console");
  HttpRequestOptions options;
  options.bearer_token = api.token;
  options.timeout = std::chrono::seconds(30);
  options.headers = {{"X-Console-Total-Bytes", std::to_string(total_bytes)}};
  HttpAnswer answer;
  try {
    answer = http_put(url, tail, options);
  } catch (const HttpError& e) {
    throw ControllerApiError(std::string("sending console: ") + e.what());
  }
  if (answer.status / 100 != 2) {
    throw ControllerApiError("sending console of " + instance_id + ": HTTP " + std::to_string(answer.status) +
                             " " + answer.body.substr(0, 300));
  }
}

}  // namespace harmony::twilight
