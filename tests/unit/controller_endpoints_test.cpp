#include "common/transport/controller_endpoints.hpp"

#include <gtest/gtest.h>

using harmony::transport::ControllerEndpoints;

TEST(ControllerEndpointsTest, StartsWithTheConfiguredOneAndGoesRoundAllKnown) {
  ControllerEndpoints endpoints("tcp://a:1", {"tcp://b:1", "tcp://a:1", "tcp://c:1"});
  ASSERT_EQ(endpoints.size(), 3u);
  EXPECT_EQ(endpoints.current(), "tcp://a:1");
  EXPECT_EQ(endpoints.next(), "tcp://b:1");
  EXPECT_EQ(endpoints.next(), "tcp://c:1");
  EXPECT_EQ(endpoints.next(), "tcp://a:1");
}

TEST(ControllerEndpointsTest, AloneItStaysOnTheConfiguredOne) {
  ControllerEndpoints endpoints("tcp://a:1", {});
  EXPECT_EQ(endpoints.next(), "tcp://a:1");
}

TEST(ControllerEndpointsTest, LearningKeepsTheCurrentOneAndTheConfiguredOne) {
  ControllerEndpoints endpoints("tcp://a:1", {"tcp://b:1"});
  endpoints.next();  // on b
  endpoints.learn({"tcp://c:1", "tcp://d:1"});
  EXPECT_EQ(endpoints.current(), "tcp://b:1");
  EXPECT_EQ(endpoints.all(), (std::vector<std::string>{"tcp://a:1", "tcp://c:1", "tcp://d:1", "tcp://b:1"}));
  EXPECT_EQ(endpoints.next(), "tcp://a:1");
}
