#include "sparkle/agents/agent_credentials.hpp"

#include <gtest/gtest.h>

#include "common/transport/curve_keys.hpp"

namespace harmony::sparkle {
namespace {

constexpr const char* kHost = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
constexpr const char* kOtherHost = "9b2c4d6e-1a3f-4e7b-9d8c-0f5a2e6b3c71";

TEST(AgentCredentials, IssuedCredentialNamesItsHost) {
  AgentCredentials credentials(transport::generate_curve_keypair());
  const auto token = credentials.issue(kHost);
  EXPECT_TRUE(token.starts_with(std::string(kHost) + "."));
  EXPECT_EQ(credentials.verify(token), kHost);
  EXPECT_EQ(credentials.issue(kHost), token) << "deterministic: the desired state does not change with it";
}

TEST(AgentCredentials, ForgedOrForeignCredentialsAreRefused) {
  const auto keys = transport::generate_curve_keypair();
  AgentCredentials credentials(keys);
  auto token = credentials.issue(kHost);
  // Another host's id with this host's MAC.
  EXPECT_FALSE(credentials.verify(std::string(kOtherHost) + token.substr(36)));
  auto tampered = token;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_FALSE(credentials.verify(tampered));
  EXPECT_FALSE(credentials.verify(""));
  EXPECT_FALSE(credentials.verify(kHost));
  EXPECT_FALSE(credentials.verify(token + "0"));
  // Another controller key (a replaced key pair) revokes every credential.
  AgentCredentials other(transport::generate_curve_keypair());
  EXPECT_FALSE(other.verify(token));
  // Controllers sharing the key pair (HA) accept each other's.
  EXPECT_EQ(AgentCredentials(keys).verify(token), kHost);
}

}  // namespace
}  // namespace harmony::sparkle
