// Transactions (DESIGN 6): a process-wide count of the work a service has
// in hand. While it is above zero xpcd never asks the service to exit for
// idleness; only the 0 <-> 1 transitions are reported ("dirty", "clean") on
// the checkin channel. Internal.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>

namespace xpc::detail {

class Transactions {
 public:
  static Transactions& get();

  void begin();
  void end();
  // The checkin channel that hears transitions (Listener::start); the
  // current state is reported at once when dirty.
  void attach(int checkin_fd);
  // Holds the count still: no transition is reported while the lock lives
  // (the exit-if-idle decision and the park that follows).
  std::unique_lock<std::mutex> freeze() { return std::unique_lock(mu_); }
  std::size_t count_locked() const { return count_; }

 private:
  void report_locked(bool dirty);

  std::mutex mu_;
  std::size_t count_ = 0;
  int checkin_fd_ = -1;
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
