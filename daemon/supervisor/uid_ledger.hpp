// What xpcd holds for each client uid: lookups waiting for an instance and
// the fds kept for them, against the limits of supervisor/limits.hpp. A
// lookup is admitted with a UidCharge that travels with the held
// connection (waiting, handed over, taken back) and gives its share back
// when destroyed, however the connection leaves xpcd. Pure, header-only.
#pragma once

#include "supervisor/limits.hpp"

#include <xpc/result.hpp>

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace xpcd {

class UidCharge;

class UidLedger {
 public:
  struct Counts {
    std::size_t pending = 0;
    std::size_t fds = 0;
  };

  explicit UidLedger(limits::UidLimits limits = {}) : state_(std::make_shared<State>(State{limits, {}})) {}

  // A pending lookup of `uid` holding `fds` fds, or why not (the text of
  // the error the client gets).
  xpc::Result<UidCharge, std::string> admit(uid_t uid, std::size_t fds);

  Counts counts(uid_t uid) const {
    auto it = state_->by_uid.find(uid);
    return it == state_->by_uid.end() ? Counts{} : it->second;
  }
  const limits::UidLimits& limits() const { return state_->limits; }

 private:
  friend class UidCharge;
  struct State {
    limits::UidLimits limits;
    std::map<uid_t, Counts> by_uid;
  };
  std::shared_ptr<State> state_;  // shared with the charges: either may go first
};

class UidCharge {
 public:
  UidCharge() = default;
  UidCharge(UidCharge&& other) noexcept { *this = std::move(other); }
  UidCharge& operator=(UidCharge&& other) noexcept {
    if (this != &other) {
      release();
      state_ = std::move(other.state_);
      uid_ = other.uid_;
      fds_ = other.fds_;
      pending_ = other.pending_;
    }
    return *this;
  }
  UidCharge(const UidCharge&) = delete;
  UidCharge& operator=(const UidCharge&) = delete;
  ~UidCharge() { release(); }

  // Waiting for an instance (true) or handed to one that has not
  // acknowledged it yet (false: its fds are still held).
  void set_pending(bool pending) {
    if (!state_ || pending == pending_) return;
    auto& counts = state_->by_uid[uid_];
    if (pending) {
      ++counts.pending;
    } else {
      --counts.pending;
    }
    pending_ = pending;
  }

 private:
  friend class UidLedger;
  UidCharge(std::shared_ptr<UidLedger::State> state, uid_t uid, std::size_t fds)
      : state_(std::move(state)), uid_(uid), fds_(fds), pending_(true) {
    auto& counts = state_->by_uid[uid_];
    ++counts.pending;
    counts.fds += fds_;
  }
  void release() {
    if (!state_) return;
    auto it = state_->by_uid.find(uid_);
    if (it != state_->by_uid.end()) {
      if (pending_) --it->second.pending;
      it->second.fds -= fds_;
      if (it->second.pending == 0 && it->second.fds == 0) state_->by_uid.erase(it);
    }
    state_.reset();
  }

  std::shared_ptr<UidLedger::State> state_;
  uid_t uid_ = 0;
  std::size_t fds_ = 0;
  bool pending_ = false;
};

inline xpc::Result<UidCharge, std::string> UidLedger::admit(uid_t uid, std::size_t fds) {
  Counts now = counts(uid);
  const limits::UidLimits& limit = state_->limits;
  if (now.pending >= limit.pending_lookups) {
    return xpc::fail("xpcd: uid " + std::to_string(uid) + " has " + std::to_string(now.pending) +
                     " lookups waiting for a launch (limit " + std::to_string(limit.pending_lookups) + ")");
  }
  if (now.fds + fds > limit.held_fds) {
    return xpc::fail("xpcd: uid " + std::to_string(uid) + " has " + std::to_string(now.fds) +
                     " fds held for connections not yet taken by a service (limit " +
                     std::to_string(limit.held_fds) + ")");
  }
  return UidCharge(state_, uid, fds);
}

}  // namespace xpcd
