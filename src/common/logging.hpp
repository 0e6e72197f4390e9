#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace harmony {

// Sets up the default logger for a daemon. Under systemd (JOURNAL_STREAM is set) lines go to
// journald with their priority; otherwise to stderr. An optional file sink mirrors everything,
// which tests use to check that no secret ever reaches a log.
void init_logging(const std::string& daemon, const std::string& level, const std::string& log_file = "");

// A named logger per component, sharing the default logger's sinks.
std::shared_ptr<spdlog::logger> component_logger(const std::string& component);

}  // namespace harmony
