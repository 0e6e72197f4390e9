#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/proto/codec.hpp"

using namespace harmony::proto;
using nlohmann::json;

namespace {

std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("HARMONY_SOURCE_DIR")) return dir;
  return HARMONY_DEFAULT_SOURCE_DIR;
}

std::string example(const std::string& name) {
  std::ifstream in(source_dir() / "proto" / "examples" / name, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

json example_json(const std::string& name) {
  return json::parse(example(name));
}

// Decodes and expects a failure with `code` whose message contains `fragment`.
void expect_error(const std::string& bytes, DecodeErrorCode code, const std::string& fragment,
                  const DecodeLimits& limits = {}) {
  auto result = decode(bytes, limits);
  ASSERT_FALSE(result.ok()) << "decoded: " << bytes.substr(0, 200);
  EXPECT_EQ(to_string(result.error().code), to_string(code)) << result.error().message;
  EXPECT_NE(result.error().message.find(fragment), std::string::npos)
      << "message \"" << result.error().message << "\" lacks \"" << fragment << "\"";
}

void expect_doc_error(const json& doc, DecodeErrorCode code, const std::string& fragment) {
  expect_error(doc.dump(), code, fragment);
}

}  // namespace

TEST(ProtoDecoder, EveryTruncationOfAMessageIsMalformedJson) {
  std::string text = example("desired_state.json");
  for (std::size_t length = 0; length < text.size(); ++length) {
    // Trailing whitespace after the closing brace still makes a complete document.
    if (text.find_first_not_of(" \n", length) == std::string::npos) break;
    auto result = decode(std::string_view(text).substr(0, length));
    ASSERT_FALSE(result.ok()) << length;
    ASSERT_EQ(result.error().code, DecodeErrorCode::malformed_json) << length;
  }
}

TEST(ProtoDecoder, MalformedJsonErrorsDoNotQuoteTheInput) {
  std::string text = example("desired_state.json");
  auto cut = text.find("ssh-ed25519") + 20;
  auto result = decode(std::string_view(text).substr(0, cut));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, DecodeErrorCode::malformed_json);
  EXPECT_EQ(result.error().message.find("ssh-ed25519"), std::string::npos) << result.error().message;
  EXPECT_EQ(result.error().message.find("AAAA"), std::string::npos) << result.error().message;
}

TEST(ProtoDecoder, NotJsonAtAll) {
  expect_error("", DecodeErrorCode::malformed_json, "byte");
  expect_error("hello", DecodeErrorCode::malformed_json, "byte");
  expect_error("{\"v\":1}garbage", DecodeErrorCode::malformed_json, "byte");
  expect_error(std::string("{\"v\":1,\"type\":\"x\xff\"}"), DecodeErrorCode::malformed_json, "byte");
  expect_error(std::string("{\"v\":1,\0}", 9), DecodeErrorCode::malformed_json, "byte");
}

TEST(ProtoDecoder, EnvelopeMustBeAnObject) {
  for (const char* text : {"[]", "null", "42", "\"hello\"", "true", "[{\"v\":1}]"}) {
    expect_error(text, DecodeErrorCode::bad_envelope, "expected a JSON object");
  }
}

TEST(ProtoDecoder, VersionIsCheckedFirst) {
  auto doc = example_json("heartbeat.json");
  doc["v"] = 2;
  expect_doc_error(doc, DecodeErrorCode::unsupported_version, "version 2");
  // A later version may change everything else; v alone decides.
  expect_error(R"({"v": 2})", DecodeErrorCode::unsupported_version, "v: ");
  expect_error(R"({"v": 0, "type": "hello"})", DecodeErrorCode::unsupported_version, "version 0");

  doc.erase("v");
  expect_doc_error(doc, DecodeErrorCode::bad_envelope, "v: missing");
  doc["v"] = "1";
  expect_doc_error(doc, DecodeErrorCode::bad_envelope, "v: expected an unsigned integer");
  doc["v"] = 1.0;
  expect_doc_error(doc, DecodeErrorCode::bad_envelope, "v: expected an unsigned integer");
  doc["v"] = -1;
  expect_doc_error(doc, DecodeErrorCode::bad_envelope, "v: expected an unsigned integer");
}

TEST(ProtoDecoder, MissingEnvelopeMembers) {
  for (const char* member : {"type", "epoch", "seq", "incarnation", "body"}) {
    auto doc = example_json("heartbeat.json");
    doc.erase(member);
    expect_doc_error(doc, DecodeErrorCode::bad_envelope, std::string(member) + ": missing");
  }
  // host_id and sent_at are optional.
  auto doc = example_json("heartbeat.json");
  doc.erase("host_id");
  doc.erase("sent_at");
  EXPECT_TRUE(decode(doc.dump()).ok());
}

TEST(ProtoDecoder, WrongEnvelopeTypes) {
  struct Case {
    const char* member;
    json value;
    const char* fragment;
  };
  std::vector<Case> cases = {
      {"type", 5, "type: expected a string"},
      {"type", "", "type: must not be empty"},
      {"epoch", "7", "epoch: expected an unsigned integer"},
      {"epoch", -7, "epoch: expected an unsigned integer"},
      {"epoch", 7.5, "epoch: expected an unsigned integer"},
      {"seq", nullptr, "seq: expected an unsigned integer"},
      {"seq", json::array(), "seq: expected an unsigned integer"},
      {"incarnation", 1, "incarnation: expected a string"},
      {"incarnation", "not-a-uuid", "incarnation: must be a lowercase UUID"},
      {"incarnation", "A7D4E2B1-9C3F-4E8A-B5D6-1F0E3C2A7B94", "incarnation: must be a lowercase UUID"},
      {"host_id", "x", "host_id: must be a lowercase UUID"},
      {"sent_at", "yesterday", "sent_at: must be an RFC 3339 timestamp"},
      {"sent_at", "2024-05-01 12:00:00Z", "sent_at: must be an RFC 3339 timestamp"},
      {"body", json::array(), "body: expected an object"},
      {"body", "{}", "body: expected an object"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.member);
    auto doc = example_json("heartbeat.json");
    doc[c.member] = c.value;
    expect_doc_error(doc, DecodeErrorCode::bad_envelope, c.fragment);
  }
}

TEST(ProtoDecoder, HugeNumbers) {
  // Beyond a double: the parser refuses the literal.
  auto text = example("heartbeat.json");
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string out = text;
    out.replace(out.find(from), from.size(), to);
    return out;
  };
  expect_error(replace("\"seq\": 2", "\"seq\": 1e400"), DecodeErrorCode::malformed_json, "out of range");
  // Beyond uint64: parsed as a double, which is not an integer.
  expect_error(replace("\"seq\": 2", "\"seq\": 99999999999999999999999"), DecodeErrorCode::bad_envelope,
               "seq: expected an unsigned integer");
  expect_error(replace("\"epoch\": 7", "\"epoch\": -99999999999999999999999"), DecodeErrorCode::bad_envelope,
               "epoch: expected an unsigned integer");
  // The largest uint64 is fine.
  auto max = decode(replace("\"seq\": 2", "\"seq\": 18446744073709551615"));
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ(max.message().envelope.seq, 18446744073709551615u);
  // Narrower members are range-checked.
  expect_error(replace("\"vcpus_allocated\": 12", "\"vcpus_allocated\": 4294967296"),
               DecodeErrorCode::bad_body, "body.load.vcpus_allocated: must be at most 4294967295");
  // A large but finite double is just a number.
  EXPECT_TRUE(decode(replace("\"cpu_used_pct\": 37.5", "\"cpu_used_pct\": 1e308")).ok());
}

TEST(ProtoDecoder, DeepNestingIsRefusedBeforeParsing) {
  std::string open(10000, '[');
  expect_error(open, DecodeErrorCode::too_large, "nested deeper than 64");
  expect_error(open + std::string(10000, ']'), DecodeErrorCode::too_large, "nested deeper than 64");
  std::string objects;
  for (int i = 0; i < 10000; ++i) objects += "{\"a\":";
  expect_error(objects, DecodeErrorCode::too_large, "nested deeper");

  // Deep inside a free-form member of an otherwise valid message.
  auto text = example("event.json");
  std::string deep = std::string(100, '[') + std::string(100, ']');
  text.replace(text.find("\"panicked\""), std::string("\"panicked\"").size(), deep);
  expect_error(text, DecodeErrorCode::too_large, "nested deeper than 64");
  DecodeLimits generous;
  generous.max_depth = 200;
  EXPECT_TRUE(decode(text, generous).ok());

  // Brackets inside strings do not count.
  auto doc = example_json("error.json");
  doc["body"]["message"] = std::string(10000, '[') + "\\\"" + std::string(10000, '{');
  auto result = decode(doc.dump());
  ASSERT_TRUE(result.ok()) << result.error().message;
}

TEST(ProtoDecoder, SizeLimit) {
  auto doc = example_json("error.json");
  doc["body"]["message"] = std::string(17 * 1024 * 1024, 'x');
  std::string text = doc.dump();
  expect_error(text, DecodeErrorCode::too_large, "exceeds the limit of 16777216");

  std::string small = example("heartbeat.json");
  DecodeLimits limits;
  limits.max_bytes = small.size();
  EXPECT_TRUE(decode(small, limits).ok());
  limits.max_bytes = small.size() - 1;
  expect_error(small, DecodeErrorCode::too_large, "exceeds the limit", limits);
}

TEST(ProtoDecoder, UnknownTypeKeepsTheEnvelopeForTheReply) {
  auto doc = example_json("heartbeat.json");
  doc["type"] = "teleport";
  auto result = decode(doc.dump());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, DecodeErrorCode::unknown_type);
  EXPECT_EQ(result.error().message, "type: unknown message type \"teleport\"");
  ASSERT_TRUE(result.error().envelope.has_value());
  EXPECT_EQ(result.error().envelope->seq, 2u);
  EXPECT_EQ(result.error().envelope->incarnation, "a7d4e2b1-9c3f-4e8a-b5d6-1f0e3c2a7b94");

  // Odd type names are not echoed into logs.
  doc["type"] = "evil\n2024-01-01 fake log line";
  expect_doc_error(doc, DecodeErrorCode::unknown_type, "type: unknown message type");
  EXPECT_EQ(decode(doc.dump()).error().message, "type: unknown message type");
}

TEST(ProtoDecoder, BodyErrorsNameTheMember) {
  struct Case {
    const char* example;
    json::json_pointer pointer;
    std::optional<json> value;  // nullopt: erase the member
    const char* message;
  };
  using P = json::json_pointer;
  std::vector<Case> cases = {
      {"hello.json", P("/body/hardware/cpu/model"), std::nullopt, "body.hardware.cpu.model: missing"},
      {"hello.json", P("/body/hardware/cpu/threads"), "32",
       "body.hardware.cpu.threads: expected an unsigned integer"},
      {"hello.json", P("/body/hardware/nics/1/link_up"), 1,
       "body.hardware.nics[1].link_up: expected a boolean"},
      {"hello.json", P("/body/hardware/domain_types/1"), "xen",
       "body.hardware.domain_types[1]: must be one of kvm, qemu"},
      {"hello.json", P("/body/running_domains/0"), "web-1",
       "body.running_domains[0]: must be a lowercase UUID"},
      {"hello.json", P("/body/hardware"), json::array(), "body.hardware: expected an object"},
      {"heartbeat.json", P("/body/load/cpu_used_pct"), -1, "body.load.cpu_used_pct: must not be negative"},
      {"heartbeat.json", P("/body/load/cpu_used_pct"), "37.5", "body.load.cpu_used_pct: expected a number"},
      {"desired_state.json", P("/body/instances/0/vcpus"), "4",
       "body.instances[0].vcpus: expected an unsigned integer"},
      {"desired_state.json", P("/body/instances/0/vcpus"), 0, "body.instances[0].vcpus: must be positive"},
      {"desired_state.json", P("/body/instances/0/power_state"), "paused",
       "body.instances[0].power_state: must be one of running, stopped"},
      {"desired_state.json", P("/body/instances/0/nics/0/mac"), "52-54-00-6b-3c-01",
       "body.instances[0].nics[0].mac: must be a lowercase MAC address"},
      {"desired_state.json", P("/body/instances/0/nics/0/ip"), "192.168.10.300",
       "body.instances[0].nics[0].ip: must be an IPv4 or IPv6 address"},
      {"desired_state.json", P("/body/instances/0/nics/0/cidr"), "192.168.10.0/33",
       "body.instances[0].nics[0].cidr: must be an address/prefix-length"},
      {"desired_state.json", P("/body/instances/0/image/sha256"), "abc",
       "body.instances[0].image.sha256: must be 64 lowercase hex digits"},
      {"desired_state.json", P("/body/instances/0/image/format"), "vmdk",
       "body.instances[0].image.format: must be one of qcow2, raw"},
      {"desired_state.json", P("/body/instances/0/volumes/1/pool"), "san",
       "body.instances[0].volumes[1]: needs either path, or pool and name"},
      {"desired_state.json", P("/body/instances/0/volumes/0/name"), std::nullopt,
       "body.instances[0].volumes[0]: needs either path, or pool and name"},
      {"desired_state.json", P("/body/instances/0/cloud_init/network_config"), "version: 2",
       "body.instances[0].cloud_init.network_config: expected an object"},
      {"desired_state.json", P("/body/instances/1/id"), "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13",
       "body.instances[1].id: duplicate id"},
      {"desired_state.json", P("/body/networks/0/vni"), std::nullopt,
       "body.networks[0].vni: required for vxlan networks"},
      {"desired_state.json", P("/body/networks/0/vni"), 16777216, "body.networks[0].vni: must be between"},
      {"desired_state.json", P("/body/networks/1/vlan_id"), 4095,
       "body.networks[1].vlan_id: must be between"},
      {"desired_state.json", P("/body/networks/1/mtu"), 70000, "body.networks[1].mtu: must be at most 65535"},
      {"desired_state.json", P("/body/bootstrap/controller_endpoints"), json::array(),
       "body.bootstrap.controller_endpoints: must not be empty"},
      {"desired_state.json", P("/body/bootstrap/server_public_key"), "short",
       "body.bootstrap.server_public_key: must be a 40-character Z85 key"},
      {"state_report.json", P("/body/resources/2/status/state"), "on fire",
       "body.resources[2].status.state: must be one of running, stopped"},
      {"state_report.json", P("/body/resources/0/status/details"), 5901,
       "body.resources[0].status.details: expected an object"},
      {"state_report.json", P("/body/resources/0/kind"), "host",
       "body.resources[0].kind: must be one of instance, volume, network"},
      {"state_report.json", P("/body/full"), "false", "body.full: expected a boolean"},
      {"event.json", P("/body/at"), 1714564803, "body.at: expected a string"},
      {"event.json", P("/body/at"), "2024-05-01T12:00:03.1234567890Z",
       "body.at: must be an RFC 3339 timestamp"},
      {"event.json", P("/body/detail"), std::nullopt, "body.detail: missing"},
      {"metrics_batch.json", P("/body/interval_s"), 0, "body.interval_s: must be positive"},
      {"metrics_batch.json", P("/body/domains/0/net_rx_bps"), 1.5,
       "body.domains[0].net_rx_bps: expected an unsigned integer"},
      {"error.json", P("/body/code"), "", "body.code: must not be empty"},
      {"error.json", P("/body/in_reply_to_seq"), -16, "body.in_reply_to_seq: expected an unsigned integer"},
      {"resync_request.json", P("/body/reason"), "bored",
       "body.reason: must be one of new_incarnation, seq_gap, startup"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.example) + " " + c.pointer.to_string());
    auto doc = example_json(c.example);
    if (c.value) {
      doc[c.pointer] = *c.value;
    } else {
      doc[c.pointer.parent_pointer()].erase(c.pointer.back());
    }
    auto result = decode(doc.dump());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(to_string(result.error().code), "bad_body");
    EXPECT_EQ(result.error().message.rfind(c.message, 0), 0u) << result.error().message;
    ASSERT_TRUE(result.error().envelope.has_value());
    EXPECT_EQ(result.error().envelope->seq, doc.at("seq").get<std::uint64_t>());
  }
}

TEST(ProtoDecoder, BodyErrorsNeverQuoteValues) {
  auto doc = example_json("desired_state.json");
  doc["body"]["instances"][0]["cloud_init"]["user_data"] = json::array({"s3cr3t-password"});
  auto result = decode(doc.dump());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, "body.instances[0].cloud_init.user_data: expected a string");
}

TEST(ProtoDecoder, UnknownMembersAreIgnored) {
  auto doc = example_json("desired_state.json");
  doc["trace_id"] = "abc";
  doc["body"]["future_member"] = {{"x", 1}};
  doc["body"]["instances"][0]["numa"] = json::array();
  auto result = decode(doc.dump());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(json::parse(encode(result.message())), example_json("desired_state.json"));
}

TEST(ProtoDecoder, DuplicateKeysTakeTheLastValue) {
  auto result =
      decode(R"({"v":1,"type":"resync_request","epoch":1,"seq":1,"seq":2,)"
             R"("incarnation":"a7d4e2b1-9c3f-4e8a-b5d6-1f0e3c2a7b94","body":{"reason":"startup"}})");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.message().envelope.seq, 2u);
}

// A deterministic miniature of fuzz/proto_decoder_fuzz.cpp: mutated examples must decode or fail
// cleanly, and whatever decodes must survive a second round trip unchanged.
TEST(ProtoDecoder, MutatedExamplesNeverThrowOrCrash) {
  std::mt19937 random(42);
  const std::string alphabet = "{}[]\",:0123456789-.eE \\ntfalsenull\xff\x80";
  std::size_t decoded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "proto" / "examples")) {
    std::string text = example(entry.path().filename().string());
    for (int round = 0; round < 300; ++round) {
      std::string mutated = text;
      int edits = 1 + static_cast<int>(random() % 4);
      for (int e = 0; e < edits; ++e) {
        std::size_t at = random() % mutated.size();
        switch (random() % 3) {
          case 0:
            mutated[at] = alphabet[random() % alphabet.size()];
            break;
          case 1:
            mutated.erase(at, 1 + random() % 8);
            break;
          default:
            mutated.insert(at, 1, alphabet[random() % alphabet.size()]);
        }
        if (mutated.empty()) mutated = "{";
      }
      DecodeResult result = Message{};
      ASSERT_NO_THROW(result = decode(mutated));
      if (result.ok()) {
        ++decoded;
        auto again = decode(encode(result.message()));
        ASSERT_TRUE(again.ok()) << again.error().message;
        EXPECT_EQ(again.message(), result.message());
      }
    }
  }
  EXPECT_GT(decoded, 0u);
}
