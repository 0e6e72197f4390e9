#include "sparkle/cli/commands.hpp"

int main(int argc, char** argv) {
  return harmony::sparkle::run_cli(argc, argv);
}
