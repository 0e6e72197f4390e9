#include "twilight/cli/commands.hpp"

int main(int argc, char** argv) {
  return harmony::twilight::run_cli(argc, argv);
}
