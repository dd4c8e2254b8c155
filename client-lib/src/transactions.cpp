// Transactions: the count and its transitions on the checkin channel.
#include "transactions.hpp"

#include "runtime.hpp"

#include <xpc/xpc.h>
#include <xpc/connection.h>
#include <xpc/connection.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace xpc::detail {

namespace {

// Owns the timerfd: closed when the loop lets it go (Runtime::unwatch).
class CleanTimer : public Watched {
 public:
  explicit CleanTimer(UniqueFd fd) : fd_(std::move(fd)) {}
  void on_readable() override {
    std::uint64_t expirations = 0;
    (void)::read(fd_.get(), &expirations, sizeof expirations);
    Transactions::get().clean_timer_fired();
  }

 private:
  UniqueFd fd_;
};

}  // namespace

Transactions& Transactions::get() {
  static Transactions* transactions = new Transactions;  // never destroyed: used until _exit
  return *transactions;
}

bool Transactions::automatic() {
  static const bool on = [] {
    const char* value = std::getenv("XPC_AUTOMATIC_TRANSACTIONS");
    return value == nullptr || std::string_view(value) != "0";
  }();
  return on;
}

void Transactions::begin() {
  std::lock_guard lock(mu_);
  if (count_++ == 0 && !told_dirty_) report_locked(true);
}

// An end without a begin is the caller's bug; the count stays at 0.
void Transactions::end() {
  std::lock_guard lock(mu_);
  if (count_ == 0) return;
  if (--count_ == 0 && told_dirty_) arm_clean_locked();
}

// A service starts clean, as xpcd assumes at check-in.
void Transactions::attach(int checkin_fd) {
  std::lock_guard lock(mu_);
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit([] { Transactions::get().flush_at_exit(); }); });
  checkin_fd_ = checkin_fd;
  told_dirty_ = clean_armed_ = false;
  UniqueFd timer = UniqueFd::adopt(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  clean_timer_ = timer.get();
  if (timer) Runtime::get().watch(clean_timer_, std::make_shared<CleanTimer>(std::move(timer)));
  if (count_ > 0) report_locked(true);
}

void Transactions::detach(int checkin_fd) {
  std::lock_guard lock(mu_);
  if (checkin_fd_ != checkin_fd) return;
  checkin_fd_ = -1;
  if (clean_timer_ >= 0) Runtime::get().unwatch(clean_timer_);
  clean_timer_ = -1;
}

// Armed at most once per delay, whatever the rate of transitions.
void Transactions::arm_clean_locked() {
  if (clean_armed_) return;
  if (clean_timer_ < 0) return report_locked(false);
  itimerspec at{};
  at.it_value.tv_nsec = std::chrono::nanoseconds(kCleanDelay).count();
  clean_armed_ = ::timerfd_settime(clean_timer_, 0, &at, nullptr) == 0;
  if (!clean_armed_) report_locked(false);
}

// try_lock: a thread that holds the lock at exit must not hang the exit.
void Transactions::flush_at_exit() {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (lock.owns_lock() && count_ == 0 && told_dirty_) report_locked(false);
}

void Transactions::clean_timer_fired() {
  std::lock_guard lock(mu_);
  clean_armed_ = false;
  if (count_ == 0 && told_dirty_) report_locked(false);
}

// Under mu_, so the reports go out in the order of the transitions.
void Transactions::report_locked(bool dirty) {
  if (checkin_fd_ < 0) return;
  told_dirty_ = dirty;
  Object event{{protocol::kEvent, dirty ? protocol::kDirty : protocol::kClean}};
  (void)wire::send(checkin_fd_, wire::Message{0, 0, false, event});
}

}  // namespace xpc::detail

namespace xpc {

void transaction_begin() { detail::Transactions::get().begin(); }
void transaction_end() { detail::Transactions::get().end(); }

}  // namespace xpc

extern "C" {

XPC_EXPORT void xpc_transaction_begin(void) { xpc::transaction_begin(); }
XPC_EXPORT void xpc_transaction_end(void) { xpc::transaction_end(); }

}  // extern "C"
