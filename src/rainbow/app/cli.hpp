#pragma once

namespace harmony::rainbow {

// Parses the command line, loads the configuration and runs the server; returns the exit code.
int run_cli(int argc, char** argv);

}  // namespace harmony::rainbow
