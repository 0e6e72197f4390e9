#include "common/proto/message.hpp"

namespace harmony::proto {

std::string_view type_name(const Body& body) {
  return std::visit([](const auto& value) { return std::decay_t<decltype(value)>::kType; }, body);
}

}  // namespace harmony::proto
