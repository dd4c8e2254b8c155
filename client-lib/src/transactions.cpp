// Transactions: the count and its transitions on the checkin channel.
#include "transactions.hpp"

#include <xpc/xpc.h>
#include <xpc/connection.h>
#include <xpc/connection.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

namespace xpc::detail {

Transactions& Transactions::get() {
  static Transactions* transactions = new Transactions;  // never destroyed: used until _exit
  return *transactions;
}

void Transactions::begin() {
  std::lock_guard lock(mu_);
  if (count_++ == 0) report_locked(true);
}

// An end without a begin is the caller's bug; the count stays at 0.
void Transactions::end() {
  std::lock_guard lock(mu_);
  if (count_ == 0) return;
  if (--count_ == 0) report_locked(false);
}

void Transactions::attach(int checkin_fd) {
  std::lock_guard lock(mu_);
  checkin_fd_ = checkin_fd;
  if (count_ > 0) report_locked(true);
}

// Under mu_, so the reports go out in the order of the transitions.
void Transactions::report_locked(bool dirty) {
  if (checkin_fd_ < 0) return;
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
