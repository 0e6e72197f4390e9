#include "rainbow/app/cli.hpp"

int main(int argc, char** argv) {
  return harmony::rainbow::run_cli(argc, argv);
}
