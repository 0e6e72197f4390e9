#include <gtest/gtest.h>

#include <cstdio>

#include "common/proto/codec.hpp"
#include "luna/agent/provisioning_reporter.hpp"

namespace harmony::luna {
namespace {

DhcpEvent lease(int n, DhcpEvent::Kind kind = DhcpEvent::Kind::lease_added) {
  DhcpEvent e;
  e.kind = kind;
  char mac[18];
  std::snprintf(mac, sizeof mac, "52:54:00:00:%02x:%02x", (n / 256) % 256, n % 256);
  e.mac = mac;
  e.ip = "10.99.0." + std::to_string(n % 250 + 1);
  e.name = "node-" + std::to_string(n);
  e.expires = 1714568400;
  return e;
}

TEST(ProvisioningReporter, ConvertsLeasesAndTransfers) {
  ProvisioningReporter reporter;
  reporter.add(lease(1), "2024-05-01T12:00:00.000Z");
  DhcpEvent tftp;
  tftp.kind = DhcpEvent::Kind::tftp_sent;
  tftp.ip = "10.99.0.2";
  tftp.file = "/srv/luna/tftp/undionly.kpxe";
  tftp.bytes = 70304;
  reporter.add(tftp, "2024-05-01T12:00:01.000Z");
  auto released = lease(1, DhcpEvent::Kind::lease_released);
  released.expires.reset();
  released.name.clear();
  reporter.add(released, "2024-05-01T12:00:02.000Z");
  auto batch = reporter.take_batch();
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 3u);
  EXPECT_EQ(batch->dropped, 0u);
  EXPECT_EQ(batch->events[0].kind, proto::ProvisioningEventKind::lease_added);
  EXPECT_EQ(batch->events[0].mac, "52:54:00:00:00:01");
  EXPECT_EQ(batch->events[0].hostname, "node-1");
  EXPECT_EQ(batch->events[0].expires_at, "2024-05-01T13:00:00.000Z");
  EXPECT_EQ(batch->events[1].file, "/srv/luna/tftp/undionly.kpxe");
  EXPECT_EQ(batch->events[1].bytes, 70304u);
  EXPECT_FALSE(batch->events[1].mac);
  EXPECT_FALSE(batch->events[2].expires_at);
  EXPECT_FALSE(batch->events[2].hostname);
  // What it sends decodes on the other side.
  proto::Message message;
  message.envelope.incarnation = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";
  message.envelope.seq = 1;
  message.envelope.sent_at = "2024-05-01T12:00:03Z";
  message.body = *batch;
  auto decoded = proto::decode(proto::encode(message));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.message().body, message.body);
  EXPECT_FALSE(reporter.take_batch());
}

TEST(ProvisioningReporter, BatchesAreBoundedAndTheQueueDropsTheOldest) {
  ProvisioningReporter reporter(300);
  for (int n = 0; n < 400; ++n) reporter.add(lease(n), "2024-05-01T12:00:00.000Z");
  EXPECT_EQ(reporter.queued(), 300u);
  auto first = reporter.take_batch();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->events.size(), proto::ProvisioningEvents::kMaxEvents);
  EXPECT_EQ(first->dropped, 100u);
  EXPECT_EQ(first->events[0].hostname, "node-100");  // the oldest 100 gave way
  auto second = reporter.take_batch();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->events.size(), 300u - proto::ProvisioningEvents::kMaxEvents);
  EXPECT_EQ(second->dropped, 0u);
  EXPECT_FALSE(reporter.take_batch());
}

TEST(ProvisioningReporter, WhatSparkleWouldRefuseIsDroppedAndCounted) {
  ProvisioningReporter reporter;
  auto bad_ip = lease(1);
  bad_ip.ip = "fe80::1";
  reporter.add(bad_ip, "2024-05-01T12:00:00.000Z");
  auto bad_mac = lease(2);
  bad_mac.mac = "52:54:00:AA:BB:CC";
  reporter.add(bad_mac, "2024-05-01T12:00:00.000Z");
  auto batch = reporter.take_batch();
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->events.empty());
  EXPECT_EQ(batch->dropped, 2u);
}

TEST(ProvisioningEvents, TheDecoderRefusesOversizedBatchesAndLeasesWithoutMac) {
  proto::ProvisioningEvents batch;
  batch.events.resize(proto::ProvisioningEvents::kMaxEvents + 1,
                      proto::ProvisioningEvent{.kind = proto::ProvisioningEventKind::lease_added,
                                               .ip = "10.99.0.2",
                                               .mac = "52:54:00:00:00:01",
                                               .at = "2024-05-01T12:00:00Z"});
  proto::Message message;
  message.envelope.incarnation = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";
  message.envelope.seq = 1;
  message.envelope.sent_at = "2024-05-01T12:00:03Z";
  message.body = batch;
  EXPECT_FALSE(proto::decode(proto::encode(message)).ok());
  batch.events.resize(1);
  batch.events[0].mac.reset();
  message.body = batch;
  auto decoded = proto::decode(proto::encode(message));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message.find("mac"), std::string::npos) << decoded.error().message;
}

}  // namespace
}  // namespace harmony::luna
