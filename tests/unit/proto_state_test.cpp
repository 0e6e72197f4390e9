#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

#include "common/proto/epoch_store.hpp"
#include "common/proto/sequence_tracker.hpp"

using namespace harmony::proto;

namespace {

constexpr const char* kIncA = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";
constexpr const char* kIncB = "a7d4e2b1-9c3f-4e8a-b5d6-1f0e3c2a7b94";
constexpr const char* kIncC = "9b2c4d6e-1a3f-4e7b-9d8c-0f5a2e6b3c71";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "harmony-proto-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(SequenceTracker, FirstMessageOfAPeerIsANewIncarnation) {
  SequenceTracker tracker;
  EXPECT_EQ(tracker.observe("host-1", kIncA, 1), SeqStatus::new_incarnation);
  EXPECT_TRUE(needs_resync(SeqStatus::new_incarnation));
  // Joining late (seq 57) is still just a new incarnation to resync with.
  EXPECT_EQ(tracker.observe("host-2", kIncA, 57), SeqStatus::new_incarnation);
  EXPECT_EQ(tracker.observe("host-2", kIncA, 58), SeqStatus::ok);
}

TEST(SequenceTracker, ConsecutiveSeqsAreOk) {
  SequenceTracker tracker;
  tracker.observe("host-1", kIncA, 1);
  for (std::uint64_t seq = 2; seq < 100; ++seq)
    ASSERT_EQ(tracker.observe("host-1", kIncA, seq), SeqStatus::ok);
  EXPECT_FALSE(needs_resync(SeqStatus::ok));
  EXPECT_EQ(tracker.find("host-1")->last_seq(), 99u);
  EXPECT_EQ(tracker.find("host-1")->incarnation(), kIncA);
}

TEST(SequenceTracker, AGapNeedsAResyncThenContinuesFromTheNewSeq) {
  SequenceTracker tracker;
  tracker.observe("host-1", kIncA, 1);
  tracker.observe("host-1", kIncA, 2);
  EXPECT_EQ(tracker.observe("host-1", kIncA, 5), SeqStatus::gap);
  EXPECT_TRUE(needs_resync(SeqStatus::gap));
  EXPECT_EQ(tracker.observe("host-1", kIncA, 6), SeqStatus::ok);
}

TEST(SequenceTracker, DuplicatesAndOldSeqsAreIgnored) {
  SequenceTracker tracker;
  tracker.observe("host-1", kIncA, 10);
  tracker.observe("host-1", kIncA, 11);
  EXPECT_EQ(tracker.observe("host-1", kIncA, 11), SeqStatus::duplicate_or_old);
  EXPECT_EQ(tracker.observe("host-1", kIncA, 3), SeqStatus::duplicate_or_old);
  EXPECT_FALSE(needs_resync(SeqStatus::duplicate_or_old));
  // They do not move the position.
  EXPECT_EQ(tracker.observe("host-1", kIncA, 12), SeqStatus::ok);
}

TEST(SequenceTracker, RestartIsANewIncarnationAndLateMessagesOfTheOldOneAreOld) {
  SequenceTracker tracker;
  tracker.observe("host-1", kIncA, 1);
  tracker.observe("host-1", kIncA, 2);
  EXPECT_EQ(tracker.observe("host-1", kIncB, 1), SeqStatus::new_incarnation);
  EXPECT_EQ(tracker.observe("host-1", kIncB, 2), SeqStatus::ok);
  // Still in flight from before the restart: not yet another restart.
  EXPECT_EQ(tracker.observe("host-1", kIncA, 3), SeqStatus::duplicate_or_old);
  EXPECT_EQ(tracker.observe("host-1", kIncB, 3), SeqStatus::ok);
  EXPECT_EQ(tracker.observe("host-1", kIncC, 1), SeqStatus::new_incarnation);
}

TEST(SequenceTracker, PeersAreIndependentAndCanBeForgotten) {
  SequenceTracker tracker;
  tracker.observe("host-1", kIncA, 1);
  tracker.observe("host-2", kIncA, 1);
  EXPECT_EQ(tracker.observe("host-1", kIncA, 2), SeqStatus::ok);
  EXPECT_EQ(tracker.observe("host-2", kIncA, 3), SeqStatus::gap);
  tracker.forget("host-1");
  EXPECT_EQ(tracker.find("host-1"), nullptr);
  EXPECT_EQ(tracker.observe("host-1", kIncA, 3), SeqStatus::new_incarnation);
}

TEST(SequenceTracker, NoOverflowAtTheTopOfTheRange) {
  PeerSequence peer;
  auto max = std::numeric_limits<std::uint64_t>::max();
  peer.observe(kIncA, max);
  EXPECT_EQ(peer.observe(kIncA, 0), SeqStatus::duplicate_or_old);
  EXPECT_EQ(peer.observe(kIncA, max), SeqStatus::duplicate_or_old);
}

TEST(EpochStore, StartsAtZeroAndOnlyGoesUp) {
  TempDir dir;
  EpochStore store(dir.path() / "state");
  EXPECT_EQ(store.current(), 0u);
  EXPECT_TRUE(store.accept(0));
  EXPECT_TRUE(store.accept(5));
  EXPECT_EQ(store.current(), 5u);
  EXPECT_TRUE(store.accept(5));   // the same leader again
  EXPECT_FALSE(store.accept(4));  // a deposed leader
  EXPECT_EQ(store.current(), 5u);
  EXPECT_TRUE(store.accept(6));
  EXPECT_EQ(store.current(), 6u);
}

TEST(EpochStore, SurvivesARestart) {
  TempDir dir;
  {
    EpochStore store(dir.path());
    ASSERT_TRUE(store.accept(41));
  }
  EpochStore restarted(dir.path());
  EXPECT_EQ(restarted.current(), 41u);
  EXPECT_FALSE(restarted.accept(40));
  EXPECT_TRUE(restarted.accept(18446744073709551615u));
  EXPECT_EQ(EpochStore(dir.path()).current(), 18446744073709551615u);
}

TEST(EpochStore, FileIsPrivateAndNoTempFileRemains) {
  TempDir dir;
  EpochStore store(dir.path());
  ASSERT_TRUE(store.accept(3));
  struct stat st {};
  ASSERT_EQ(stat(store.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(store.path()), "3\n");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(EpochStore, ALeftoverTempFileIsReplacedWithPrivatePermissions) {
  TempDir dir;
  auto temp = dir.path() / (std::string(EpochStore::kFileName) + ".tmp");
  std::ofstream(temp) << "garbage from a crash";
  std::filesystem::permissions(temp, std::filesystem::perms::all);
  EpochStore store(dir.path());
  EXPECT_EQ(store.current(), 0u);
  ASSERT_TRUE(store.accept(8));
  struct stat st {};
  ASSERT_EQ(stat(store.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(EpochStore(dir.path()).current(), 8u);
}

TEST(EpochStore, RefusesToStartFromACorruptFile) {
  for (const char* content : {"", "\n", "abc\n", "12x\n", "-1\n", "99999999999999999999999\n"}) {
    SCOPED_TRACE(content);
    TempDir dir;
    std::ofstream(dir.path() / EpochStore::kFileName) << content;
    EXPECT_THROW(EpochStore store(dir.path()), std::runtime_error);
  }
}

TEST(EpochStore, AFailedWriteDoesNotRaiseTheEpoch) {
  TempDir dir;
  auto state = dir.path() / "state";
  EpochStore store(state);
  ASSERT_TRUE(store.accept(2));
  // The state directory vanishes and a plain file takes its place: nothing can be written.
  std::filesystem::remove_all(state);
  std::ofstream(state) << "not a directory";
  EXPECT_THROW(store.accept(3), std::system_error);
  EXPECT_EQ(store.current(), 2u);
  EXPECT_FALSE(store.accept(1));
}

TEST(EpochStore, ConcurrentAcceptsKeepTheHighest) {
  TempDir dir;
  EpochStore store(dir.path());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (std::uint64_t e = 1; e <= 50; ++e) store.accept(e * 4 + static_cast<std::uint64_t>(t));
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store.current(), 203u);
  EXPECT_EQ(EpochStore(dir.path()).current(), 203u);
}
