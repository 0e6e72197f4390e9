#pragma once

#include <atomic>
#include <string>

#include "common/pg/pool.hpp"
#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {

// `single` mode: the only controller leads from start; its epoch is the database's next one.
class SingleLeadership : public Leadership {
 public:
  SingleLeadership(pg::Pool& db, std::string leader_id) : db_(db), leader_id_(std::move(leader_id)) {}
  int64_t acquire() override;
  int64_t current_epoch() const override;
  int64_t epoch_if_leading() const noexcept override { return epoch_; }
  LeadershipStatus status() const override;

 private:
  pg::Pool& db_;
  std::string leader_id_;
  std::atomic<int64_t> epoch_{0};
};

}  // namespace harmony::sparkle
