#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace harmony::pg {

// Owns a PGresult. Values are read as text (the protocol's text format) and converted here.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* result) : result_(result, &PQclear) {}

  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  bool empty() const { return rows() == 0; }
  int64_t affected() const;
  int column(std::string_view name) const;

  bool is_null(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  std::string_view text(int row, int col) const;
  std::optional<std::string> optional_text(int row, int col) const;
  int64_t int64(int row, int col) const;
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  nlohmann::json json(int row, int col) const;

  // By column name, for readability where speed does not matter.
  std::string_view text(int row, std::string_view name) const { return text(row, column(name)); }
  int64_t int64(int row, std::string_view name) const { return int64(row, column(name)); }
  nlohmann::json json(int row, std::string_view name) const { return json(row, column(name)); }
  bool is_null(int row, std::string_view name) const { return is_null(row, column(name)); }
  bool boolean(int row, std::string_view name) const { return boolean(row, column(name)); }
  std::optional<std::string> optional_text(int row, std::string_view name) const {
    return optional_text(row, column(name));
  }

 private:
  std::shared_ptr<PGresult> result_;
};

}  // namespace harmony::pg
