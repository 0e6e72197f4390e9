#pragma once

namespace harmony::sparkle {

// docs/openapi.json as compiled into this binary.
const char* openapi_document();

}  // namespace harmony::sparkle
