#include "common/proto/codec.hpp"

#include <new>
#include <nlohmann/json.hpp>

#include "common/proto/field_error.hpp"

namespace harmony::proto {
namespace {

using json = nlohmann::json;

DecodeError fail(DecodeErrorCode code, std::string message) {
  return DecodeError{code, std::move(message), {}};
}

// Counts brackets outside strings before anything is parsed: cheaper than parsing, and it keeps
// a 10,000-deep input from ever becoming a 10,000-deep tree.
bool nesting_within(std::string_view bytes, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : bytes) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// A type name goes into the error text only when it cannot carry anything odd into a log line.
bool printable_type(std::string_view type) {
  if (type.empty() || type.size() > 64) return false;
  for (char c : type) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

template <std::size_t I = 0>
bool is_known_type(std::string_view type) {
  if constexpr (I < std::variant_size_v<Body>) {
    return type == std::variant_alternative_t<I, Body>::kType || is_known_type<I + 1>(type);
  } else {
    return false;
  }
}

template <std::size_t I = 0>
void read_body(std::string_view type, const json& j, Body& out) {
  if constexpr (I < std::variant_size_v<Body>) {
    using T = std::variant_alternative_t<I, Body>;
    if (type == T::kType) {
      T value;
      from_json(j, value);
      out = std::move(value);
      return;
    }
    read_body<I + 1>(type, j, out);
  }
}

DecodeResult decode_checked(std::string_view bytes, const DecodeLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return fail(DecodeErrorCode::too_large, "message of " + std::to_string(bytes.size()) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(limits.max_bytes));
  }
  if (!nesting_within(bytes, limits.max_depth)) {
    return fail(DecodeErrorCode::too_large,
                "nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }

  json root;
  try {
    root = json::parse(bytes);
  } catch (const json::parse_error& e) {
    // nlohmann's own text quotes the input around the error; only the offset is safe to log.
    return fail(DecodeErrorCode::malformed_json, "invalid JSON at byte " + std::to_string(e.byte));
  } catch (const json::out_of_range&) {
    return fail(DecodeErrorCode::malformed_json, "invalid JSON: a number is out of range");
  }

  if (!root.is_object()) return fail(DecodeErrorCode::bad_envelope, "expected a JSON object");
  // The version comes first: a later version may have changed any other member.
  auto version = root.find("v");
  if (version == root.end()) return fail(DecodeErrorCode::bad_envelope, "v: missing");
  if (!version->is_number_unsigned()) {
    return fail(DecodeErrorCode::bad_envelope, "v: expected an unsigned integer");
  }
  if (auto v = version->get<std::uint64_t>(); v != kProtocolVersion) {
    return fail(DecodeErrorCode::unsupported_version, "v: version " + std::to_string(v) +
                                                          " is not supported (expected " +
                                                          std::to_string(kProtocolVersion) + ")");
  }

  // The body is moved out first so that the envelope reader does not copy a large document.
  json body;
  if (auto it = root.find("body"); it != root.end()) {
    if (!it->is_object()) return fail(DecodeErrorCode::bad_envelope, "body: expected an object");
    body = std::move(*it);
    *it = json::object();
  }
  Message message;
  try {
    from_json(root, message.envelope);
  } catch (const FieldError& e) {
    return fail(DecodeErrorCode::bad_envelope, e.what());
  }

  const std::string& type = message.envelope.type;
  if (!is_known_type(type)) {
    std::string text =
        printable_type(type) ? "type: unknown message type \"" + type + "\"" : "type: unknown message type";
    return DecodeError{DecodeErrorCode::unknown_type, std::move(text), message.envelope};
  }
  try {
    read_body(type, body, message.body);
  } catch (FieldError& e) {
    e.prepend_key("body");
    return DecodeError{DecodeErrorCode::bad_body, e.what(), message.envelope};
  }
  return message;
}

}  // namespace

std::string_view to_string(DecodeErrorCode code) {
  switch (code) {
    case DecodeErrorCode::too_large:
      return "too_large";
    case DecodeErrorCode::malformed_json:
      return "malformed_json";
    case DecodeErrorCode::bad_envelope:
      return "bad_envelope";
    case DecodeErrorCode::unsupported_version:
      return "unsupported_version";
    case DecodeErrorCode::unknown_type:
      return "unknown_type";
    case DecodeErrorCode::bad_body:
      return "bad_body";
  }
  return "unknown";
}

DecodeResult decode(std::string_view bytes, const DecodeLimits& limits) {
  // The readers only throw FieldError, handled above; this is the backstop for the promise that
  // nothing escapes (an allocation failure on a huge document, a reader bug).
  try {
    return decode_checked(bytes, limits);
  } catch (const std::bad_alloc&) {
    return fail(DecodeErrorCode::too_large, "not enough memory to decode the message");
  } catch (...) {
    return fail(DecodeErrorCode::bad_body, "internal decoder error");
  }
}

std::string encode(const Message& message) {
  json j;
  to_json(j, message.envelope);
  j["type"] = type_name(message.body);
  j["body"] = std::visit(
      [](const auto& body) {
        json out;
        to_json(out, body);
        return out;
      },
      message.body);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace harmony::proto
