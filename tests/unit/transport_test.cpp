#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "common/transport/curve_keys.hpp"
#include "common/transport/endpoints.hpp"
#include "common/transport/zap_handler.hpp"

using namespace harmony::transport;
using namespace std::chrono_literals;

namespace {

class TransportTest : public ::testing::Test {
 protected:
  zmq::context_t context;
  CurveKeyPair server_keys = generate_curve_keypair();
  CurveKeyPair enrolled = generate_curve_keypair();
  std::atomic<int> asked{0};
  ZapHandler zap{context, "harmony",
                 [this](const std::string& key, const std::string&) -> std::optional<std::string> {
                   ++asked;
                   if (key == enrolled.public_key) return std::string("host-1");
                   return std::nullopt;
                 }};
  RouterEndpoint router{context, "tcp://127.0.0.1:0", server_keys, "harmony"};

  std::optional<InboundMessage> receive_within(std::chrono::milliseconds total) {
    auto deadline = std::chrono::steady_clock::now() + total;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto m = router.receive(50ms)) return m;
    }
    return std::nullopt;
  }
};

}  // namespace

TEST_F(TransportTest, EnrolledKeyIsAdmittedAndTaggedWithItsHost) {
  DealerEndpoint dealer(context, router.endpoint(), server_keys.public_key, enrolled, "host-1");
  ASSERT_TRUE(dealer.send("hello"));
  auto message = receive_within(5s);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->identity, "host-1");
  EXPECT_EQ(message->user_id, "host-1");
  EXPECT_EQ(message->payload, "hello");
  ASSERT_TRUE(router.send("host-1", "welcome"));
  auto reply = dealer.receive(5s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "welcome");
}

TEST_F(TransportTest, UnknownKeyDeliversNothing) {
  auto stranger = generate_curve_keypair();
  DealerEndpoint dealer(context, router.endpoint(), server_keys.public_key, stranger, "host-1");
  dealer.send("let me in");
  EXPECT_FALSE(receive_within(1500ms));
  EXPECT_GE(zap.refused(), 1u);
  EXPECT_EQ(zap.accepted(), 0u);
  // The router cannot reach it either.
  EXPECT_FALSE(router.send("host-1", "anything"));
}

TEST_F(TransportTest, WrongServerKeyNeverConnects) {
  auto impostor_server = generate_curve_keypair();
  DealerEndpoint dealer(context, router.endpoint(), impostor_server.public_key, enrolled, "host-1");
  dealer.send("hello");
  EXPECT_FALSE(receive_within(1500ms));
}

TEST_F(TransportTest, OversizedMessageIsDroppedAndTheConnectionRecovers) {
  DealerEndpoint dealer(context, router.endpoint(), server_keys.public_key, enrolled, "host-1");
  ASSERT_TRUE(dealer.send("first"));
  ASSERT_TRUE(receive_within(5s));
  std::string huge(kMaxMessageBytes + 1, 'x');
  dealer.send(huge);
  dealer.send("after");
  // The huge one never arrives; the reconnected DEALER delivers later messages.
  std::optional<InboundMessage> message;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    message = router.receive(50ms);
    if (message) {
      EXPECT_LT(message->payload.size(), 1000u);
      if (message->payload == "after") break;
    }
    dealer.send("after");
  }
  ASSERT_TRUE(message);
  EXPECT_EQ(message->payload, "after");
}

TEST(CurveKeys, CreatedOnceWithPrivateModeAndReloaded) {
  auto dir = std::filesystem::temp_directory_path() / ("harmony-keys-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto path = dir / "agent.key";
  auto first = load_or_create_keypair(path);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = load_or_create_keypair(path);
  EXPECT_EQ(first.public_key, second.public_key);
  EXPECT_EQ(first.secret_key, second.secret_key);
  EXPECT_TRUE(is_z85_key(first.public_key));
  EXPECT_TRUE(key_fingerprint(first.public_key).starts_with("SHA256:"));

  std::ofstream(path) << "public=garbage\n";
  EXPECT_THROW(load_or_create_keypair(path), std::runtime_error);
  std::filesystem::remove_all(dir);
}
