#include "sparkle/placement/placement_config.hpp"

#include <string>

namespace harmony::sparkle::placement {
namespace {

double non_negative(const ConfigFile& file, const std::string& key, double fallback) {
  const auto* section = file.table().get_as<toml::table>("placement");
  if (section == nullptr) return fallback;
  const auto* node = section->get(key);
  if (node == nullptr) return fallback;
  std::optional<double> value = node->value<double>();
  if (!value) throw ConfigError("placement." + key + " must be a number");
  if (*value < 0) throw ConfigError("placement." + key + " must not be negative");
  return *value;
}

}  // namespace

Config config_from(const ConfigFile& file) {
  Config c;
  c.weights.allocation = non_negative(file, "weight_allocation", c.weights.allocation);
  c.weights.measured_load = non_negative(file, "weight_measured_load", c.weights.measured_load);
  c.weights.rare_traits = non_negative(file, "weight_rare_traits", c.weights.rare_traits);
  c.weights.soft_affinity = non_negative(file, "weight_soft_affinity", c.weights.soft_affinity);
  c.reserve_hosts = static_cast<int64_t>(non_negative(file, "reserve_hosts", 0));
  c.reserve_percent = non_negative(file, "reserve_percent", 0);
  if (c.reserve_percent > 100) throw ConfigError("placement.reserve_percent must be at most 100");
  return c;
}

}  // namespace harmony::sparkle::placement
