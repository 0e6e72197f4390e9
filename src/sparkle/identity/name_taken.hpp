#pragma once

#include <string>
#include <utility>

#include "common/pg/errors.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::identity {

// Runs `work` (typically a Pool::transact) and turns a unique violation into 409 "name_taken"
// naming `field`: the live-name unique indexes, not a prior SELECT, decide, so two concurrent
// creations of one name cannot both succeed.
template <typename F>
auto unique_name_or_409(const std::string& field, const std::string& what, F&& work) {
  try {
    return std::forward<F>(work)();
  } catch (const pg::DbError& e) {
    if (!e.is_unique_violation()) throw;
    throw ApiError(409, "name_taken", "a " + what + " with this " + field + " exists already", field);
  }
}

}  // namespace harmony::sparkle::identity
