// Transactions (DESIGN 6): a process-wide count of the work a service has
// in hand. While it is above zero xpcd never asks the service to exit for
// idleness; only the 0 <-> 1 transitions are reported ("dirty", "clean") on
// the checkin channel. Internal.
//
// "clean" is reported once the count has stayed at 0 for kCleanDelay (a
// timerfd on the loop), not at every 1 -> 0: a service answering request
// after request would otherwise send two messages to xpcd per request. So
// xpcd's idle clock starts that much later, and "dirty" is sent only when
// xpcd was last told "clean". The reports only steer xpcd's idle timer;
// what keeps a busy service alive is its answer to exit-if-idle.
#pragma once

#include <xpc/unique_fd.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>

namespace xpc::detail {

class Transactions {
 public:
  static constexpr std::chrono::milliseconds kCleanDelay{5};

  static Transactions& get();

  void begin();
  void end();
  // The checkin channel that hears transitions (Listener::start); the
  // current state is reported at once when dirty.
  void attach(int checkin_fd);
  // That channel is going (the listener cancelled, xpcd gone): no more
  // reports, and the timer is closed.
  void detach(int checkin_fd);
  // Holds the count still: no transition is reported while the lock lives
  // (the exit-if-idle decision and the park that follows).
  std::unique_lock<std::mutex> freeze() { return std::unique_lock(mu_); }
  std::size_t count_locked() const { return count_; }
  // Whether received messages that await a reply open a transaction:
  // yes, unless XPC_AUTOMATIC_TRANSACTIONS=0 was in the environment at
  // start (a service that manages its transactions itself; the benchmark).
  static bool automatic();
  // At exit: a "clean" the timer has not sent yet goes now, so xpcd does
  // not take a normal exit right after a reply for a death while dirty.
  void flush_at_exit();
  // The timerfd fired: "clean" if the count is still 0.
  void clean_timer_fired();

 private:
  void report_locked(bool dirty);
  void arm_clean_locked();

  std::mutex mu_;
  std::size_t count_ = 0;
  int checkin_fd_ = -1;
  bool told_dirty_ = false;  // what xpcd was told last
  bool clean_armed_ = false;
  int clean_timer_ = -1;     // made at attach, owned by its watcher on the loop
};

// One automatic transaction: a received message that awaits a reply. It
// ends once: when the reply is sent, or when the message and every reply
// built from it are gone without one (dropped).
class TransactionToken {
 public:
  TransactionToken() { Transactions::get().begin(); }
  ~TransactionToken() { end(); }
  TransactionToken(const TransactionToken&) = delete;
  TransactionToken& operator=(const TransactionToken&) = delete;
  void end() {
    if (!ended_.exchange(true)) Transactions::get().end();
  }

 private:
  std::atomic<bool> ended_{false};
};

}  // namespace xpc::detail
