#pragma once

#include <memory>

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

// PUT /api/v1/images/{id}/file: checks the caller and the image before any body byte is read,
// then streams the body into the image store. The image is 'uploading' meanwhile and becomes
// 'active' (format, size, sha256 recorded) or goes back to 'pending' when anything fails.
// Every outcome, refusals included, is written to the audit log.
std::unique_ptr<UploadSink> start_image_upload(ApiContext& ctx, Request& request);

}  // namespace harmony::sparkle
