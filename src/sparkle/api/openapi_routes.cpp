#include "sparkle/api/api_context.hpp"
#include "sparkle/api/openapi_document.hpp"

namespace harmony::sparkle {

void register_openapi_routes(Router& router, ApiContext&) {
  // Public like the API's own documentation: it describes routes, never data.
  router.add("GET", "/api/v1/openapi.json", [](Request&) {
    Response response;
    response.body = openapi_document();
    return response;
  });
}

}  // namespace harmony::sparkle
