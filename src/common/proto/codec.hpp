#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/proto/message.hpp"

namespace harmony::proto {

struct DecodeLimits {
  std::size_t max_bytes = 16 * 1024 * 1024;
  // Real messages nest less than 10 deep; the limit keeps hostile input from exhausting the stack
  // of whatever walks the parsed tree recursively (comparison, dump, destruction).
  std::size_t max_depth = 64;
};

// Stage by stage, in the order decode() checks them.
enum class DecodeErrorCode {
  too_large,            // over max_bytes, or nested deeper than max_depth
  malformed_json,       // not JSON (including invalid UTF-8 and numbers too large for a double)
  bad_envelope,         // not an object, or "v" missing or not an unsigned integer, or a bad envelope member
  unsupported_version,  // "v" is not kProtocolVersion; nothing else was looked at
  unknown_type,
  bad_body,
};

std::string_view to_string(DecodeErrorCode code);

struct DecodeError {
  DecodeErrorCode code;
  // Names the member ("body.instances[0].vcpus: expected an unsigned integer") and never quotes
  // the input, so that it can be logged and sent back in an ErrorMessage.
  std::string message;
  // Set when the envelope itself was valid (unknown_type, bad_body), so that the receiver can
  // still count the seq and reply with in_reply_to_seq. Its body is left empty.
  std::optional<Envelope> envelope;
};

class DecodeResult {
 public:
  DecodeResult(Message message) : value_(std::move(message)) {}
  DecodeResult(DecodeError error) : value_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<Message>(value_); }
  explicit operator bool() const { return ok(); }

  // Only when ok() / only when !ok().
  const Message& message() const& { return std::get<Message>(value_); }
  Message&& message() && { return std::get<Message>(std::move(value_)); }
  const DecodeError& error() const { return std::get<DecodeError>(value_); }

 private:
  std::variant<Message, DecodeError> value_;
};

// Never throws and never crashes, whatever the bytes: every failure is a DecodeError. Members the
// receiver does not know are ignored (a newer peer may add optional ones).
DecodeResult decode(std::string_view bytes, const DecodeLimits& limits = {});

// The compact JSON of `message`, with "type" and "body" taken from message.body. Strings that are
// not valid UTF-8 are sent with U+FFFD in place of the bad bytes rather than throwing.
std::string encode(const Message& message);

}  // namespace harmony::proto
