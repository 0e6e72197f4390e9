#pragma once

namespace harmony::twilight {

// `twilight [--config FILE] [run | show-bootstrap | show-key [--key-file FILE]]`; returns the exit code.
int run_cli(int argc, char** argv);

}  // namespace harmony::twilight
