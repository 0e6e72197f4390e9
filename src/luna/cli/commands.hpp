#pragma once

namespace harmony::luna {

// The `luna` command line: run (the daemon, default) and fence.
int run_cli(int argc, char** argv);

}  // namespace harmony::luna
