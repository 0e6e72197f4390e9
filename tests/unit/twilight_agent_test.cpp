#include <gtest/gtest.h>

#include "common/proto/codec.hpp"
#include "common/proto/epoch_store.hpp"
#include "common/transport/curve_keys.hpp"
#include "twilight/agent/agent_config.hpp"
#include "twilight/agent/hardware_report.hpp"
#include "twilight/agent/outbox.hpp"
#include "twilight/agent/session.hpp"
#include "twilight/hypervisor/domain_xml_reader.hpp"
#include "twilight/lib/discovery.hpp"
#include "twilight/lib/domain_xml.hpp"
#include "twilight/state/agent_files.hpp"
#include "unit/twilight_test_support.hpp"

namespace harmony::twilight {
namespace {

constexpr const char* kHost = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
constexpr const char* kIncarnation = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";

TEST(AgentConfig, ThePackagedFileGivesTheDefaults) {
  const auto packaged =
      AgentConfig::from(ConfigFile::load(test::source_dir() / "packaging/etc/twilight/twilight.conf"));
  const auto defaults = AgentConfig::from(ConfigFile::parse(""));
  EXPECT_EQ(packaged.state_dir, "/var/lib/twilight");
  EXPECT_EQ(packaged.state_dir, defaults.state_dir);
  EXPECT_EQ(packaged.controller, "tcp://127.0.0.1:5555");
  EXPECT_EQ(packaged.libvirt_uri, "qemu:///system");
  EXPECT_EQ(packaged.libvirt_uri, defaults.libvirt_uri);
  EXPECT_EQ(packaged.hypervisor, "libvirt");
  EXPECT_EQ(packaged.storage, "pool");
  EXPECT_EQ(packaged.storage, defaults.storage);
  EXPECT_EQ(packaged.pool_name, "harmony");
  EXPECT_TRUE(packaged.pool_path.empty()) << "<state_dir>/pool";
  EXPECT_EQ(packaged.heartbeat_interval, std::chrono::seconds(2));
  EXPECT_EQ(packaged.recheck_interval, std::chrono::seconds(30));
  EXPECT_EQ(packaged.hardware_root, "/");
  EXPECT_EQ(packaged.log_level, "info");
  EXPECT_TRUE(packaged.host_id.empty());
  EXPECT_TRUE(packaged.migration_uri.empty()) << "qemu+tcp://<host name>/system";
  EXPECT_TRUE(packaged.migration_data_uri.empty());
}

TEST(AgentConfig, RefusesValuesThatCannotWork) {
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[agent]\nhost_id = \"host-1\"\n")), ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[agent]\nheartbeat_seconds = 0\n")), ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[agent]\nhypervisor = \"xen\"\n")), ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[agent]\nserver_public_key = \"short\"\n")), ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[agent]\nheartbeat_seconds = \"2\"\n")), ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[agent]\nstorage = \"lvm\"\n")), ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[storage]\npool_path = \"relative/dir\"\n")),
               ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[migration]\nuri = \"host-a\"\n")), ConfigError);
  EXPECT_THROW(AgentConfig::from(ConfigFile::parse("[migration]\ndata_uri = \"10.1.0.2\"\n")), ConfigError);
}

TEST(AgentConfig, MigrationKeys) {
  const auto config = AgentConfig::from(ConfigFile::parse(
      "[migration]\nuri = \"qemu+tls://host-a.example/system\"\ndata_uri = \"tcp://10.1.0.2\"\n"));
  EXPECT_EQ(config.migration_uri, "qemu+tls://host-a.example/system");
  EXPECT_EQ(config.migration_data_uri, "tcp://10.1.0.2");
}

TEST(AgentConfig, ServerKeyFromAKeyPairFileTakesOnlyThePublicLine) {
  test::ScratchDir dir;
  const auto keys = transport::load_or_create_keypair(dir.path() / "server.key");
  AgentConfig config;
  config.server_public_key_file = (dir.path() / "server.key").string();
  EXPECT_EQ(configured_server_key(config), keys.public_key);
  test::spit(dir.path() / "bare", keys.public_key + "\n");
  config.server_public_key_file = (dir.path() / "bare").string();
  EXPECT_EQ(configured_server_key(config), keys.public_key);
  test::spit(dir.path() / "empty", "\n");
  config.server_public_key_file = (dir.path() / "empty").string();
  EXPECT_THROW(configured_server_key(config), ConfigError);
}

TEST(AgentFiles, HostIdIsMadeOnceAndKeptUntilAControllerNamesTheHost) {
  test::ScratchDir dir;
  AgentFiles files{dir.path()};
  const auto made = files.load_or_create_host_id();
  EXPECT_TRUE(is_uuid(made.id));
  EXPECT_FALSE(made.confirmed);
  EXPECT_EQ(files.load_or_create_host_id().id, made.id);
  files.confirm_host_id(kHost);
  EXPECT_EQ(files.load_or_create_host_id().id, kHost);
  EXPECT_TRUE(files.load_or_create_host_id().confirmed);
  EXPECT_EQ(files.load_applied_revision(), 0u);
  files.save_applied_revision(42);
  EXPECT_EQ(AgentFiles{dir.path()}.load_applied_revision(), 42u);
  test::spit(files.host_id_path(), "not-a-uuid\n");
  EXPECT_THROW(files.load_or_create_host_id(), std::runtime_error);
}

TEST(HardwareReport, MapsDiscoveryToTheProtocol) {
  const auto inventory = discover_inventory(test::data_dir() / "hosts/fc-ssd");
  const auto hardware = to_hardware_inventory(inventory, {"qemu", "kvm", "test", "qemu"});
  EXPECT_EQ(hardware.cpu.sockets, 2u);
  EXPECT_EQ(hardware.cpu.threads, 8u);
  EXPECT_EQ(hardware.memory_mib, 263856740ULL / 1024);
  EXPECT_EQ(hardware.domain_types,
            (std::vector<proto::DomainType>{proto::DomainType::qemu, proto::DomainType::kvm}));
  EXPECT_EQ(hardware.traits, (std::vector<std::string>{"fc", "ssd"}));
  ASSERT_FALSE(hardware.fc_hosts.empty());
  EXPECT_FALSE(hardware.fc_hosts[0].port_name.empty());
  ASSERT_EQ(hardware.nics.size(), inventory.nics.size());
  EXPECT_EQ(hardware.nics[0].speed_mbps, 25000u);
  // What the protocol's own validation accepts.
  proto::Message message;
  message.envelope.incarnation = kIncarnation;
  message.envelope.seq = 1;
  message.body = proto::Hello{"0.1.0", "node-1", hardware, {}, 0};
  EXPECT_TRUE(proto::decode(proto::encode(message)).ok());
}

TEST(DomainXmlReader, ReadsWhatTheRendererWrites) {
  DomainSpec spec;
  spec.uuid = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
  spec.name = "harmony-3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
  spec.vcpus = 3;
  spec.ram_mib = 1536;
  spec.root_disk = "/var/lib/twilight/disks/x.qcow2";
  spec.console_log = "/var/lib/twilight/console/x.log";
  spec.instance_id = spec.uuid;
  spec.generation = 17;
  const auto identity = read_domain_identity(render_domain_xml(spec));
  EXPECT_EQ(identity.uuid, spec.uuid);
  EXPECT_EQ(identity.name, spec.name);
  EXPECT_EQ(identity.vcpus, 3u);
  EXPECT_EQ(identity.memory_mib, 1536u);
  ASSERT_TRUE(identity.metadata);
  EXPECT_EQ(identity.metadata->instance_id, spec.uuid);
  EXPECT_EQ(identity.metadata->generation, 17u);
}

TEST(DomainXmlReader, MetadataAsLibvirtReturnsIt) {
  auto metadata = parse_instance_metadata(R"(<instance id="abc" generation="3"/>)");
  ASSERT_TRUE(metadata);
  EXPECT_EQ(metadata->instance_id, "abc");
  EXPECT_EQ(metadata->generation, 3u);
  EXPECT_TRUE(parse_instance_metadata("<harmony:instance xmlns:harmony='x' id='a' generation='0'/>"));
  EXPECT_FALSE(parse_instance_metadata(R"(<instance id="abc"/>)"));
  EXPECT_FALSE(parse_instance_metadata(R"(<instance id="abc" generation="-1"/>)"));
  EXPECT_FALSE(parse_instance_metadata(R"(<other id="abc" generation="1"/>)"));
  EXPECT_FALSE(parse_instance_metadata(""));
}

class SessionTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  proto::EpochStore epochs{dir.path()};
  Session session{kHost, epochs, 0};
  std::uint64_t seq = 0;

  Reaction deliver(proto::Body body, std::uint64_t epoch = 1, std::optional<std::uint64_t> at_seq = {}) {
    proto::Message m;
    m.envelope.epoch = epoch;
    m.envelope.seq = at_seq ? *at_seq : ++seq;
    m.envelope.incarnation = kIncarnation;
    m.body = std::move(body);
    return session.receive(proto::encode(m));
  }

  static proto::DesiredState desired(std::uint64_t revision, std::string host = kHost) {
    proto::DesiredState d;
    d.revision = revision;
    d.host_id = std::move(host);
    d.bootstrap = {{"tcp://127.0.0.1:5555"}, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "c"};
    return d;
  }

  static std::string error_code(const Reaction& reaction) {
    for (const auto& reply : reaction.replies) {
      if (auto* error = std::get_if<proto::ErrorMessage>(&reply)) return error->code;
    }
    return {};
  }
};

TEST_F(SessionTest, AFirstDocumentNeedsNoResyncButOtherFirstMessagesDo) {
  auto first = deliver(desired(1));
  EXPECT_TRUE(first.converge);
  EXPECT_TRUE(first.replies.empty()) << "a desired state is whole: no resync needed";

  Session other{kHost, epochs, 0};
  proto::Message m;
  m.envelope.epoch = 1;
  m.envelope.seq = 1;
  m.envelope.incarnation = kIncarnation;
  m.body = proto::ResyncRequest{};
  auto reaction = other.receive(proto::encode(m));
  EXPECT_TRUE(reaction.send_hello);
  EXPECT_TRUE(reaction.send_report);
  ASSERT_EQ(reaction.replies.size(), 1u);
  EXPECT_EQ(std::get<proto::ResyncRequest>(reaction.replies[0]).reason, proto::ResyncReason::new_incarnation);
}

TEST_F(SessionTest, TheControllerNamesTheHost) {
  EXPECT_FALSE(deliver(desired(1)).host_id_learned) << "the id it already has";
  auto renamed = deliver(desired(2, "7c1d9e2f-4a3b-4c5d-8e6f-1a2b3c4d5e6f"));
  EXPECT_TRUE(renamed.converge);
  EXPECT_EQ(renamed.host_id_learned, "7c1d9e2f-4a3b-4c5d-8e6f-1a2b3c4d5e6f");
  EXPECT_FALSE(deliver(desired(3, "7c1d9e2f-4a3b-4c5d-8e6f-1a2b3c4d5e6f")).host_id_learned);

  Session fresh{std::nullopt, epochs, 0};
  proto::Message m;
  m.envelope.epoch = 1;
  m.envelope.seq = 1;
  m.envelope.incarnation = kIncarnation;
  m.body = desired(1);
  EXPECT_EQ(fresh.receive(proto::encode(m)).host_id_learned, kHost);
}

TEST_F(SessionTest, MessagesAgentsDoNotTakeAreAnsweredWithAnError) {
  deliver(desired(1));
  auto reaction = deliver(proto::Heartbeat{});
  EXPECT_EQ(error_code(reaction), "unexpected_type");
  EXPECT_EQ(session.counters().unexpected, 1u);
  // An error from the controller is only logged: no error about an error.
  EXPECT_TRUE(deliver(proto::ErrorMessage{"x", "y", std::nullopt}).replies.empty());
}

TEST_F(SessionTest, DuplicatesAreIgnored) {
  deliver(desired(1));
  auto duplicate = deliver(desired(2), 1, seq);
  EXPECT_FALSE(duplicate.converge);
  EXPECT_TRUE(duplicate.replies.empty());
  EXPECT_EQ(session.counters().duplicates, 1u);
}

TEST_F(SessionTest, AfterARestartTheLastAppliedRevisionIsTakenOnceMore) {
  Session restarted{kHost, epochs, 7};
  proto::Message m;
  m.envelope.epoch = 1;
  m.envelope.incarnation = kIncarnation;
  const auto receive = [&](std::uint64_t revision) {
    m.envelope.seq++;
    m.body = desired(revision);
    return restarted.receive(proto::encode(m));
  };
  EXPECT_FALSE(receive(6).converge) << "older than what was applied before the restart";
  EXPECT_TRUE(receive(7).converge) << "the document itself is not kept: take it again";
  EXPECT_FALSE(receive(7).converge);
  restarted.converge_failed(7);
  EXPECT_TRUE(receive(7).converge) << "a failed converge is retried on resend";
}

TEST_F(SessionTest, MalformedInputNeverThrows) {
  for (std::string bytes : {std::string(""), std::string("\0\0\0", 3), std::string("[]"),
                            std::string("{\"v\":2}"), std::string(100000, '['),
                            std::string("{\"v\":1,\"type\":\"nope\",\"epoch\":1,\"seq\":1,"
                                        "\"incarnation\":\"x\",\"body\":{}}")}) {
    Reaction reaction;
    ASSERT_NO_THROW(reaction = session.receive(bytes));
    EXPECT_FALSE(reaction.converge);
    EXPECT_FALSE(error_code(reaction).empty());
  }
  EXPECT_EQ(session.counters().malformed, 6u);
}

TEST(Outbox, StampsEveryMessage) {
  test::ScratchDir dir;
  proto::EpochStore epochs(dir.path());
  epochs.accept(12);
  Outbox outbox(std::nullopt, kIncarnation, epochs);
  EXPECT_FALSE(proto::decode(outbox.seal(proto::Heartbeat{})).message().envelope.host_id)
      << "no host id before the controller confirmed one";
  outbox.set_host_id(kHost);
  for (std::uint64_t expected = 2; expected <= 4; ++expected) {
    auto decoded = proto::decode(outbox.seal(proto::Heartbeat{}));
    ASSERT_TRUE(decoded.ok());
    const auto& envelope = decoded.message().envelope;
    EXPECT_EQ(envelope.seq, expected);
    EXPECT_EQ(envelope.epoch, 12u);
    EXPECT_EQ(envelope.incarnation, kIncarnation);
    EXPECT_EQ(envelope.host_id, kHost);
    EXPECT_TRUE(envelope.sent_at);
  }
}

}  // namespace
}  // namespace harmony::twilight
