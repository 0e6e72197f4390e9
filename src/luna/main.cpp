#include "luna/cli/commands.hpp"

int main(int argc, char** argv) {
  return harmony::luna::run_cli(argc, argv);
}
