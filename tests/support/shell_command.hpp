#pragma once

#include <string>
#include <utility>

namespace harmony::test {

// Runs a command through /bin/sh (virsh, build scripts): its exit status (-1 when it did not exit
// normally) and everything it wrote to standard output.
std::pair<int, std::string> shell(const std::string& command);

}  // namespace harmony::test
