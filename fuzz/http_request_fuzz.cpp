// Raw bytes from a client, through what the server does with them before a handler runs:
// Beast's parser (the server's limits), parse_request_head, the real route table, the error
// responses the router builds itself, pagination parameters, and the JSON body decoding.
#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "body_exercise.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/app/application.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/http/request_parsing.hpp"
#include "sparkle/http/response.hpp"

namespace {

namespace http = boost::beast::http;
using namespace harmony;
using namespace harmony::sparkle;

// The real route table. Nothing here connects to a database: the pool opens connections on
// first use, and only routing (never a handler) runs.
struct Routes {
  SparkleConfig config;
  pg::Pool db{pg::PoolOptions{.conninfo = "host=/nonexistent"}};
  AuditLog audit{db};
  Authenticator auth{db, audit, config.auth};
  ImageStore images{std::filesystem::temp_directory_path() / "harmony-fuzz-images"};
  ApiContext ctx{db, auth, audit, images, config};
  Router router;

  Routes() {
    spdlog::set_level(spdlog::level::off);
    register_all_routes(router, ctx);
  }
};

// Feeds the input in steps like a socket would, so incremental parsing runs too; true when at
// least the header parsed.
bool parse(std::string_view input, http::request_parser<http::string_body>& parser) {
  const size_t step = 1 + input.size() % 97;
  size_t used = 0;
  size_t available = std::min(step, input.size());
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(input.data() + used, available - used), ec);
    used += n;
    if (ec == http::error::need_more || (!ec && n == 0 && used == available)) {
      if (available == input.size()) {
        // The client closed the connection here.
        ec = {};
        parser.put_eof(ec);
        break;
      }
      ec = {};
      available = std::min(available + step, input.size());
      continue;
    }
    if (ec) break;
  }
  return parser.is_header_done();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Routes routes;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  http::request_parser<http::string_body> parser;
  // The server's limits (HttpServer::run_session and HttpServerOptions).
  parser.header_limit(16 * 1024);
  parser.body_limit(routes.config.http.max_body_bytes);
  if (!parse(input, parser)) return 0;

  Request request;
  if (!parse_request_head(parser.get().base(), "127.0.0.1", request)) return 0;
  auto match = routes.router.match(request);
  if (match.handler == nullptr) {
    // Unknown path, wrong method or a streamed route: the router answers by itself, no handler
    // (nor database) involved.
    auto response = routes.router.dispatch(request);
    if (response.status < 400) __builtin_trap();
  } else {
    for (const auto& [name, value] : request.path_params) {
      try {
        (void)require_uuid_param(request, name, "resource");
      } catch (const ApiError& e) {
        (void)Response::json(e.status, e.to_json());
      }
    }
  }
  try {
    (void)parse_page(request);
  } catch (const ApiError& e) {
    (void)Response::json(e.status, e.to_json());
  }
  if (parser.is_done()) {
    request.body = parser.get().body();
    harmony::fuzz::exercise_body(request);
  }
  return 0;
}
