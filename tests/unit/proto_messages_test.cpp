#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/proto/codec.hpp"

using namespace harmony::proto;
using nlohmann::json;

namespace {

std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("HARMONY_SOURCE_DIR")) return dir;
  return HARMONY_DEFAULT_SOURCE_DIR;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::filesystem::path> examples() {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "proto" / "examples")) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "desired_state.empty.json" -> "desired_state"
std::string example_type(const std::filesystem::path& path) {
  auto name = path.filename().string();
  return name.substr(0, name.find('.'));
}

template <std::size_t I = 0>
void collect_types(std::set<std::string>& out) {
  if constexpr (I < std::variant_size_v<Body>) {
    out.insert(std::string(std::variant_alternative_t<I, Body>::kType));
    collect_types<I + 1>(out);
  }
}

std::set<std::string> all_types() {
  std::set<std::string> out;
  collect_types(out);
  return out;
}

struct ProcessResult {
  int exit_code = -1;
  std::string output;
};

// argv[0] is run as given (no PATH search); stdout and stderr are captured together.
ProcessResult run(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  ProcessResult result;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0)
    result.output.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Validates every example against proto/<type>.schema.json with the Debian python3-jsonschema
// (scripts/lib/packages.txt), and checks that the validator really rejects broken documents.
constexpr const char* kValidator = R"PY(
import copy, json, pathlib, sys
import jsonschema
root = pathlib.Path(sys.argv[1]) / "proto"
schemas = {p.name: json.loads(p.read_text()) for p in sorted(root.glob("*.schema.json"))}
store = {s["$id"]: s for s in schemas.values()}
def validator(name):
    schema = schemas[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)
failures = 0
examples = sorted((root / "examples").glob("*.json"))
for name in schemas:
    if name != "envelope.schema.json" and not any(p.name.split(".")[0] + ".schema.json" == name for p in examples):
        print(name, ": no example"); failures += 1
for path in examples:
    schema_name = path.name.split(".")[0] + ".schema.json"
    if schema_name not in schemas:
        print(path.name, ": no schema", schema_name); failures += 1; continue
    v = validator(schema_name)
    doc = json.loads(path.read_text())
    for e in sorted(v.iter_errors(doc), key=str):
        print(path.name, ":", "/".join(map(str, e.absolute_path)), ":", e.message); failures += 1
    broken = copy.deepcopy(doc); broken["body"]["unexpected_member"] = 1
    if v.is_valid(broken):
        print(path.name, ": schema accepts an unknown body member"); failures += 1
    broken = copy.deepcopy(doc); broken["incarnation"] = "not-a-uuid"
    if v.is_valid(broken):
        print(path.name, ": schema accepts a bad incarnation"); failures += 1
print("validated", len(examples), "examples")
sys.exit(1 if failures else 0)
)PY";

Message sample_message() {
  DesiredState state;
  state.revision = 9;
  state.host_id = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
  Instance instance;
  instance.id = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
  instance.name = "db-1";
  instance.generation = 2;
  instance.power_state = PowerState::running;
  instance.vcpus = 2;
  instance.ram_mib = 4096;
  instance.domain_type = DomainType::qemu;
  instance.volumes.push_back(VolumeAttachment{
      .id = "c4e6a8b0-2d1f-4c3e-a5b7-9d8f0e1a2b3c", .path = "/dev/sdb", .size_gib = 10, .readonly = true});
  instance.cloud_init =
      CloudInit{.instance_id = instance.id, .hostname = "db-1", .user_data = "#cloud-config\n"};
  state.instances.push_back(instance);
  state.networks.push_back(Network{.id = "2a4c6e8f-0b1d-4f3a-9c5e-7b9d1f3a5c7e",
                                   .generation = 1,
                                   .type = NetworkType::vlan,
                                   .bridge = "br-a",
                                   .vlan_id = 7,
                                   .mtu = 1500});
  state.bootstrap.controller_endpoints = {"tcp://10.0.0.1:5555"};
  state.bootstrap.server_public_key = std::string(40, 'k');
  state.bootstrap.cluster_id = "c1";

  Message message;
  message.envelope.epoch = 3;
  message.envelope.seq = 12;
  message.envelope.incarnation = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";
  message.envelope.sent_at = "2024-05-01T12:00:00Z";
  message.body = state;
  return message;
}

}  // namespace

TEST(ProtoExamples, EveryMessageTypeHasAnExampleAndNoExampleIsOfAnUnknownType) {
  std::set<std::string> seen;
  for (const auto& path : examples()) seen.insert(example_type(path));
  EXPECT_EQ(seen, all_types());
}

TEST(ProtoExamples, EveryExampleDecodesAndReencodesToEqualJson) {
  auto paths = examples();
  ASSERT_FALSE(paths.empty());
  for (const auto& path : paths) {
    SCOPED_TRACE(path.filename().string());
    std::string text = read_file(path);
    auto result = decode(text);
    ASSERT_TRUE(result.ok()) << to_string(result.error().code) << ": " << result.error().message;
    const Message& message = result.message();
    EXPECT_EQ(type_name(message.body), example_type(path));
    EXPECT_EQ(message.envelope.type, example_type(path));

    std::string encoded = encode(message);
    EXPECT_EQ(json::parse(encoded), json::parse(text));
    auto again = decode(encoded);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.message(), message);
  }
}

TEST(ProtoExamples, EveryExampleValidatesAgainstItsSchema) {
  // Not skipped when the validator is missing: scripts/install-deps installs python3-jsonschema.
  auto result = run({"/usr/bin/python3", "-c", kValidator, source_dir().string()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("validated"), std::string::npos) << result.output;
}

TEST(ProtoMessages, EncodeTakesTypeAndBodyFromTheVariant) {
  Message message = sample_message();
  message.envelope.type = "stale";
  message.envelope.body = {{"stale", true}};
  auto j = json::parse(encode(message));
  EXPECT_EQ(j.at("type"), "desired_state");
  EXPECT_EQ(j.at("v"), 1);
  EXPECT_EQ(j.at("epoch"), 3);
  EXPECT_EQ(j.at("seq"), 12);
  EXPECT_FALSE(j.contains("host_id"));  // absent optionals are left out, not null
  EXPECT_EQ(j.at("body").at("revision"), 9);
  EXPECT_FALSE(j.at("body").contains("stale"));
  EXPECT_EQ(j.at("body").at("instances")[0].at("domain_type"), "qemu");
  EXPECT_EQ(j.at("body").at("instances")[0].at("power_state"), "running");
  EXPECT_FALSE(j.at("body").at("instances")[0].contains("image"));
  EXPECT_EQ(j.at("body").at("networks")[0].at("vlan_id"), 7);
}

TEST(ProtoMessages, StructsSurviveEncodeAndDecode) {
  Message message = sample_message();
  auto result = decode(encode(message));
  ASSERT_TRUE(result.ok()) << result.error().message;
  // The decoded envelope carries no body copy; everything else is equal.
  EXPECT_EQ(result.message().envelope.body, json::object());
  message.envelope.type = "desired_state";
  EXPECT_EQ(result.message(), message);
}

TEST(ProtoMessages, EveryBodyTypeSurvivesEncodeAndDecode) {
  std::vector<Body> bodies = {
      Hello{.agent_version = "1", .host_name = "h", .hardware = {.domain_types = {DomainType::kvm}}},
      Heartbeat{.load = {.cpu_used_pct = 99.75,
                         .memory_used_mib = 1,
                         .vcpus_allocated = 2,
                         .instances_running = 3}},
      StateReport{.revision_applied = 4,
                  .resources = {{.kind = ResourceKind::network,
                                 .id = "2a4c6e8f-0b1d-4f3a-9c5e-7b9d1f3a5c7e",
                                 .observed_generation = 5,
                                 .status = {.state = ObservedState::ready, .details = json{{"k", "v"}}}}},
                  .full = true},
      Event{.kind = EventKind::fc_port_down,
            .resource_kind = EventResourceKind::host,
            .resource_id = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13",
            .detail = {{"port", "host3"}},
            .at = "2024-05-01T12:00:00.123456789-05:30"},
      MetricsBatch{.interval_s = 10, .host = {.cpu_pct = 0.5}, .domains = {}},
      ErrorMessage{.code = "stale_epoch", .message = "epoch 3 < 4"},
      ResyncRequest{.reason = ResyncReason::new_incarnation},
      LunaDesiredState{.luna_id = "9d3b1f6e-2c4a-4e8b-a7d0-5f1c3e9b2a84",
                       .revision = 3,
                       .profiles = {{.name = "node", .kernel = "vmlinuz", .initrd = "initrd.img"}},
                       .hosts = {{.id = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13",
                                  .macs = {"52:54:00:12:34:56"},
                                  .ip = "10.99.0.20",
                                  .boot_profile = "node",
                                  .fence_methods = {{.agent = "fence_ipmilan",
                                                     .parameters = {{"ip", "10.98.0.20"}},
                                                     .secrets = {{"password", "p"}},
                                                     .timeout_seconds = 20}}}}},
      FenceRequest{.request_id = "c4e2a7b9-1d3f-4a6c-8e0b-2f5d7a9c1e3b",
                   .host_id = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13",
                   .action = FenceAction::reboot},
      FenceResult{
          .request_id = "c4e2a7b9-1d3f-4a6c-8e0b-2f5d7a9c1e3b",
          .host_id = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13",
          .action = FenceAction::off,
          .success = false,
          .power = FencePower::unknown,
          .attempts = {{.agent = "fence_ipmilan", .timed_out = true, .message = "killed", .took_ms = 5}}},
  };
  for (const auto& body : bodies) {
    SCOPED_TRACE(std::string(type_name(body)));
    Message message = sample_message();
    message.body = body;
    message.envelope.type = std::string(type_name(body));
    auto result = decode(encode(message));
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result.message(), message);
  }
}

TEST(ProtoMessages, EncodeReplacesInvalidUtf8InsteadOfThrowing) {
  Message message = sample_message();
  message.body = ErrorMessage{.code = "internal", .message = std::string("bad \xff\xfe bytes")};
  std::string encoded;
  ASSERT_NO_THROW(encoded = encode(message));
  auto result = decode(encoded);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(std::get<ErrorMessage>(result.message().body).message, "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST(ProtoMessages, FromJsonIsUsableThroughNlohmannGet) {
  auto text = read_file(source_dir() / "proto" / "examples" / "hello.json");
  auto hello = json::parse(text).at("body").get<Hello>();
  EXPECT_EQ(hello.host_name, "compute-01.example.net");
  EXPECT_EQ(hello.hardware.domain_types, (std::vector<DomainType>{DomainType::kvm, DomainType::qemu}));
  EXPECT_EQ(json(hello), json::parse(text).at("body"));
  EXPECT_THROW(json::parse(R"({"agent_version": "1"})").get<Hello>(), FieldError);
}

TEST(ProtoMessages, EnumNamesRoundTrip) {
  EXPECT_EQ(to_string(ObservedState::converging), "converging");
  EXPECT_EQ(enum_from_string<EventKind>("link_down"), EventKind::link_down);
  EXPECT_EQ(enum_from_string<EventKind>("Link_Down"), std::nullopt);
  for (auto name : EnumNames<EventKind>::names)
    EXPECT_EQ(to_string(*enum_from_string<EventKind>(name)), name);
}
