#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/pg/errors.hpp"
#include "common/pg/result.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/http/request.hpp"
#include "sparkle/http/response.hpp"
#include "sparkle/resources/resource_kind.hpp"

namespace harmony::sparkle::net {

// HTTP details shared by the network, subnet, host and affinity-group routes.

// 201 with `Location: <collection>/<id>` and the ETag of the new resource.
Response created(const std::string& collection_path, const nlohmann::json& resource);
// {"items": [...], "next_cursor"?} from rows selected with ResourceStore::select_list(kind).
nlohmann::json list_page(const pg::Result& rows, const ResourceKind& kind, const Page& page);
// `status` with the resource and `ETag: "<generation>"`.
Response resource_response(int status, const nlohmann::json& resource);

// The generation a PATCH updates: `If-Match: "N"` or the body field "generation". Neither: 428
// "precondition_required" (field If-Match); malformed: 400.
int64_t required_generation(const Request& request, const nlohmann::json& body);
// 409 "generation_mismatch" when the caller updated from a stale read.
void check_generation(int64_t current, int64_t expected);
// 409 "resource_deleted": a deleted resource only converges to absent, it is not changed again.
void refuse_if_deleted(bool deleted, const std::string& what);

// ?include_deleted=true|false (400 otherwise).
bool include_deleted(const Request& request);

// True when `error` is a unique violation of the index or constraint `name`.
bool violates(const pg::DbError& error, std::string_view name);

}  // namespace harmony::sparkle::net
