#pragma once

#include <string>

namespace harmony::test {

// Records a secret a test created or received (password, token) in
// $HARMONY_TEST_LOG_DIR/secrets.list, one per line, so that scripts/check-logs can prove that no
// daemon log written during the tests contains it. Does nothing when the variable is unset.
void remember_secret(const std::string& secret);

}  // namespace harmony::test
