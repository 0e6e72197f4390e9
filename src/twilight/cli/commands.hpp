#pragma once

namespace harmony::twilight {

// `twilight [--config FILE] [run | show-bootstrap]`; returns the process exit code.
int run_cli(int argc, char** argv);

}  // namespace harmony::twilight
