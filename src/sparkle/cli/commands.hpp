#pragma once

namespace harmony::sparkle {

// `sparkle [--config FILE] serve|migrate|create-admin|schema-version`.
int run_cli(int argc, char** argv);

// Exit codes besides 0 (success) and 1 (error).
inline constexpr int kExitUsage = 2;
inline constexpr int kExitAlreadyExists = 3;
inline constexpr int kExitSchemaMismatch = 4;

}  // namespace harmony::sparkle
