#include "sparkle/imagelib/image_upload.hpp"

#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <optional>
#include <system_error>

#include "sparkle/api/json_body.hpp"
#include "sparkle/api/request_middleware.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/imagelib/image_access.hpp"
#include "sparkle/imagelib/image_kind.hpp"
#include "sparkle/images/image_store.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle {
namespace {

constexpr const char* kShaHeader = "x-image-sha256";
// No response was sent for an upload the client abandoned; nginx's "client closed request"
// keeps such events apart from the answers we gave.
constexpr int kClientClosedRequest = 499;

std::optional<std::string> expected_sha256(const Request& request) {
  auto header = request.header(kShaHeader);
  if (!header) return std::nullopt;
  std::string value = *header;
  bool ok = value.size() == 64;
  for (auto& c : value) {
    ok = ok && std::isxdigit(static_cast<unsigned char>(c));
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!ok) throw bad_request("X-Image-Sha256", "X-Image-Sha256 must be 64 hexadecimal digits");
  return value;
}

// What the client is told about a failing disk: a full one is the operator's to fix (507), any
// other error stays an internal one.
[[noreturn]] void rethrow_storage_error(const std::system_error& e) {
  if (e.code() == std::errc::no_space_on_device || e.code().value() == EDQUOT) {
    throw ApiError(507, "insufficient_storage", "the image store is full; ask an operator to free space");
  }
  throw;
}

int status_of(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ApiError& e) {
    return e.status;
  } catch (const pg::DbUnavailable&) {
    return 503;
  } catch (...) {
    return 500;
  }
}

std::optional<uint64_t> declared_length(const Request& request) {
  auto header = request.header("content-length");
  if (!header) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), value);
  if (ec != std::errc() || end != header->data() + header->size()) return std::nullopt;
  return value;
}

class ImageUploadSink : public UploadSink {
 public:
  ImageUploadSink(ApiContext& ctx, const Request& request, std::string image_id,
                  std::optional<std::string> expected, std::unique_ptr<ImageUpload> upload)
      : ctx_(ctx),
        request_(request),
        image_id_(std::move(image_id)),
        expected_(std::move(expected)),
        upload_(std::move(upload)) {}

  ~ImageUploadSink() override {
    if (succeeded_) return;
    try {
      Response response;
      response.status = failure_status_ ? *failure_status_ : inferred_status();
      // The row goes back to 'pending' while our .part file still exists: until it is gone no
      // other upload can start, so this cannot undo another upload's claim.
      release_claim();
      upload_.reset();
      audit_request(ctx_, request_, response);
    } catch (const std::exception& e) {
      spdlog::error("request {}: cleaning up the failed upload of image {}: {}", request_.request_id,
                    image_id_, e.what());
    }
  }

  void write(std::string_view chunk) override {
    try {
      try {
        upload_->write(chunk);
      } catch (const std::system_error& e) {
        rethrow_storage_error(e);
      }
    } catch (...) {
      failure_status_ = status_of(std::current_exception());
      throw;
    }
  }

  Response finish() override {
    try {
      Response response = complete();
      succeeded_ = true;
      audit_request(ctx_, request_, response);
      return response;
    } catch (...) {
      failure_status_ = status_of(std::current_exception());
      throw;
    }
  }

 private:
  Response complete() {
    UploadResult result;
    try {
      result = upload_->finish();
    } catch (const std::system_error& e) {
      rethrow_storage_error(e);
    }
    if (!result.stored) throw ApiError(422, "unsupported_image_format", result.format.refusal, "body");
    if (expected_ && *expected_ != result.sha256) {
      // Published already (the digest is only known at the end): take it back, releasing the
      // row first so that the file's presence keeps other uploads out until both are undone.
      release_claim();
      ctx_.images.remove(image_id_);
      throw ApiError(422, "checksum_mismatch",
                     "the content's sha256 is " + result.sha256 + ", not the X-Image-Sha256 given",
                     "X-Image-Sha256");
    }
    pg::Result row;
    try {
      auto conn = ctx_.db.acquire();
      row = conn->query(
          "UPDATE images SET upload_state = 'active', disk_format = $2, size_bytes = $3, sha256 = $4,"
          " updated_at = now() WHERE id = $1 AND deleted_at IS NULL AND upload_state <> 'active'"
          " RETURNING " +
              ResourceStore::select_list(image_kind()),
          image_id_, std::string(to_string(*result.format.format)), static_cast<int64_t>(result.size),
          result.sha256);
    } catch (...) {
      ctx_.images.remove(image_id_);
      throw;
    }
    if (row.empty()) {
      // Deleted while the body was arriving; its file must not outlive it.
      ctx_.images.remove(image_id_);
      throw ApiError(409, "image_deleted", "the image was deleted during the upload");
    }
    auto body = ResourceStore::to_json(row, 0, image_kind());
    return Response::json(200, body).with_header(
        "ETag", "\"" + std::to_string(body.at("generation").get<int64_t>()) + "\"");
  }

  void release_claim() {
    if (claim_released_) return;
    claim_released_ = true;
    auto conn = ctx_.db.acquire();
    conn->query(
        "UPDATE images SET upload_state = 'pending', updated_at = now() WHERE id = $1"
        " AND upload_state = 'uploading'",
        image_id_);
  }

  // The server ended the upload without telling us why: the body was over the size limit, or
  // the client went away.
  int inferred_status() const {
    const uint64_t limit = ctx_.config.http.max_upload_bytes;
    auto declared = declared_length(request_);
    if ((declared && *declared > limit) || upload_->size() >= limit) return 413;
    return kClientClosedRequest;
  }

  ApiContext& ctx_;
  Request request_;
  std::string image_id_;
  std::optional<std::string> expected_;
  std::unique_ptr<ImageUpload> upload_;
  std::optional<int> failure_status_;
  bool succeeded_ = false;
  bool claim_released_ = false;
};

std::unique_ptr<UploadSink> start(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  request.audit_target_type = "image";
  const auto& id = require_uuid_param(request, "id", "image");
  ImageRow image;
  {
    auto conn = ctx.db.acquire();
    image = load_visible_image(*conn, p, id);
  }
  request.audit_target_id = image.id;
  require_image_writer(p, image);
  if (image.deleted) throw ApiError(409, "image_deleted", "the image is deleted");
  if (image.upload_state == "active") throw ApiError(409, "image_has_file", "the image already has its file");
  auto expected = expected_sha256(request);

  // The store's exclusive .part file is the lock: while we hold it no other upload of this image
  // can run, so a row still marked 'uploading' is left over from a crashed process.
  std::unique_ptr<ImageUpload> upload;
  try {
    upload = ctx.images.begin_upload(image.id);
  } catch (const std::system_error& e) {
    if (e.code() != std::errc::file_exists) rethrow_storage_error(e);
    if (ctx.images.exists(image.id)) throw ApiError(409, "image_has_file", "the image already has its file");
    throw ApiError(409, "upload_in_progress", "another upload of this image is in progress");
  }
  auto conn = ctx.db.acquire();
  auto claimed = conn->query(
      "UPDATE images SET upload_state = 'uploading', updated_at = now() WHERE id = $1 AND deleted_at IS NULL"
      " AND upload_state IN ('pending', 'uploading') RETURNING 1",
      image.id);
  if (claimed.empty()) throw conflict("the image changed during the request; read it again");
  return std::make_unique<ImageUploadSink>(ctx, request, image.id, std::move(expected), std::move(upload));
}

}  // namespace

std::unique_ptr<UploadSink> start_image_upload(ApiContext& ctx, Request& request) {
  try {
    return start(ctx, request);
  } catch (...) {
    // Refused before the body was read; the server sends the error, we record it.
    Response refused;
    refused.status = status_of(std::current_exception());
    audit_request(ctx, request, refused);
    throw;
  }
}

}  // namespace harmony::sparkle
