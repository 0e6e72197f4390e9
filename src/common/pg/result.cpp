#include "common/pg/result.hpp"

#include <charconv>
#include <stdexcept>

namespace harmony::pg {

int64_t Result::affected() const {
  const char* count = PQcmdTuples(result_.get());
  if (count == nullptr || *count == '\0') return 0;
  return std::stoll(count);
}

int Result::column(std::string_view name) const {
  int index = PQfnumber(result_.get(), std::string(name).c_str());
  if (index < 0) throw std::logic_error("result has no column " + std::string(name));
  return index;
}

std::string_view Result::text(int row, int col) const {
  return {PQgetvalue(result_.get(), row, col), static_cast<size_t>(PQgetlength(result_.get(), row, col))};
}

std::optional<std::string> Result::optional_text(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return std::string(text(row, col));
}

int64_t Result::int64(int row, int col) const {
  auto value = text(row, col);
  int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size()) {
    throw std::logic_error("column is not an integer: " + std::string(value));
  }
  return out;
}

nlohmann::json Result::json(int row, int col) const {
  if (is_null(row, col)) return nullptr;
  return nlohmann::json::parse(text(row, col));
}

}  // namespace harmony::pg
