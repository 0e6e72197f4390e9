#pragma once

#include <string>
#include <vector>

namespace harmony::sparkle {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migrations compiled into this binary, in order (generated from sql/).
const std::vector<Migration>& embedded_migrations();

}  // namespace harmony::sparkle
