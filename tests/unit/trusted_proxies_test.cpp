#include "sparkle/http/trusted_proxies.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using harmony::sparkle::TrustedProxies;

TEST(TrustedProxiesTest, NobodyIsTrustedByDefault) {
  TrustedProxies none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.client_of("127.0.0.1", "10.0.0.7"), "127.0.0.1");
  EXPECT_TRUE(TrustedProxies::parse(" , ").empty());
}

TEST(TrustedProxiesTest, ReadsAddressesAndNetworksAndRefusesTheRest) {
  auto proxies = TrustedProxies::parse("127.0.0.1, 10.8.0.0/16 ,::1,fd00::/8");
  using boost::asio::ip::make_address;
  EXPECT_TRUE(proxies.trusts(make_address("127.0.0.1")));
  EXPECT_FALSE(proxies.trusts(make_address("127.0.0.2")));
  EXPECT_TRUE(proxies.trusts(make_address("10.8.200.1")));
  EXPECT_FALSE(proxies.trusts(make_address("10.9.0.1")));
  EXPECT_TRUE(proxies.trusts(make_address("::1")));
  EXPECT_TRUE(proxies.trusts(make_address("fd12::5")));
  EXPECT_TRUE(proxies.trusts(make_address("::ffff:127.0.0.1"))) << "IPv4 on a dual-stack socket";
  EXPECT_THROW(TrustedProxies::parse("127.0.0.1, rainbow.example"), std::invalid_argument);
  EXPECT_THROW(TrustedProxies::parse("10.0.0.0/33"), std::invalid_argument);
}

TEST(TrustedProxiesTest, TheClientIsTheFirstHopNoTrustedProxyHolds) {
  auto proxies = TrustedProxies::parse("127.0.0.1, 10.8.0.0/16");
  // Rainbow (trusted) says who the browser is.
  EXPECT_EQ(proxies.client_of("127.0.0.1", "192.0.2.7"), "192.0.2.7");
  // nginx (trusted) in front of Rainbow (trusted): read past both.
  EXPECT_EQ(proxies.client_of("127.0.0.1", "192.0.2.7, 10.8.0.4"), "192.0.2.7");
  // What a client wrote itself stays left of the address its proxy saw: it cannot pick its own.
  EXPECT_EQ(proxies.client_of("127.0.0.1", "203.0.113.9, 192.0.2.7"), "192.0.2.7");
  // From a peer that is no trusted proxy, the header counts for nothing.
  EXPECT_EQ(proxies.client_of("192.0.2.50", "203.0.113.9"), "192.0.2.50");
  // Garbage ends the walk at the hop that sent it; an empty header leaves the peer.
  EXPECT_EQ(proxies.client_of("127.0.0.1", "not-an-address"), "127.0.0.1");
  EXPECT_EQ(proxies.client_of("127.0.0.1", "192.0.2.7, junk, 10.8.0.4"), "10.8.0.4");
  EXPECT_EQ(proxies.client_of("127.0.0.1", ""), "127.0.0.1");
  // Only trusted hops all the way: the leftmost is the best we know.
  EXPECT_EQ(proxies.client_of("127.0.0.1", "10.8.0.9"), "10.8.0.9");
}
