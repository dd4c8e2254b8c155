// Idle exit, service side: the decision and the park (idle_exit.hpp).
#include "idle_exit.hpp"

#include "connection_impl.hpp"
#include "transactions.hpp"

#include <xpc/limits.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <vector>

namespace xpc::detail {

namespace {

struct Tracked {
  std::mutex mu;
  std::vector<std::weak_ptr<ConnectionImpl>> all;
  std::size_t prune_at = 64;  // size at which gone connections are dropped (amortised)
};

Tracked& tracked() {
  static Tracked* t = new Tracked;  // never destroyed: used until _exit
  return *t;
}

std::vector<std::shared_ptr<ConnectionImpl>> live_connections() {
  Tracked& t = tracked();
  std::lock_guard lock(t.mu);
  std::vector<std::shared_ptr<ConnectionImpl>> live;
  std::erase_if(t.all, [&live](const std::weak_ptr<ConnectionImpl>& weak) {
    auto strong = weak.lock();
    if (!strong) return true;
    live.push_back(std::move(strong));
    return false;
  });
  return live;
}

bool say(int checkin_fd, const Object& event) { return wire::send(checkin_fd, wire::Message{0, 0, false, event}).ok(); }

}  // namespace

// A client that opens connection after connection never answers
// exit-if-idle, so gone ones are dropped here too, not only there.
void track(const std::shared_ptr<ConnectionImpl>& connection) {
  Tracked& t = tracked();
  std::lock_guard lock(t.mu);
  if (t.all.size() >= t.prune_at) {
    std::erase_if(t.all, [](const std::weak_ptr<ConnectionImpl>& weak) { return weak.expired(); });
    t.prune_at = std::max<std::size_t>(64, 2 * t.all.size());
  }
  t.all.push_back(connection);
}

// Work: handlers still to run, replies awaited, a synchronous sender
// reading, or data (or an EOF) the loop has not read yet.
bool ConnectionImpl::has_work() const {
  std::lock_guard lock(mu_);
  if (!inbox_.empty() || !pending_.empty() || sync_reading_) return true;
  if (!socket_) return false;
  pollfd p{socket_->get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// {fd, service, peer} for the park message; null for a connection that
// is not a peer with a socket.
Object ConnectionImpl::park_entry() const {
  std::lock_guard lock(mu_);
  if (kind_ != Kind::Peer || !socket_) return Object();
  Object peer{{protocol::kPid, std::int64_t{peer_.pid}}, {protocol::kUid, std::uint64_t{peer_.uid}},
              {protocol::kGid, std::uint64_t{peer_.gid}}, {protocol::kExe, peer_.exe},
              {protocol::kLabel, peer_.label}};
  if (peer_pidfd_) peer[protocol::kPidfd] = Object::fd_dup(peer_pidfd_.get());
  return Object{{protocol::kFd, Object::fd_dup(socket_->get())}, {protocol::kService, name_}, {protocol::kPeer, peer}};
}

void ConnectionImpl::termination_imminent() {
  if (kind_ != Kind::Peer) return;
  Runtime::get().post([self = shared_from_this()] {
    self->emit(Object::error(protocol::kErrorTerminationImminent, "the service is about to be terminated"));
  });
}

// On the loop thread, so no handler runs meanwhile; the transaction count
// is frozen from the decision to the exit, so a transaction another thread
// begins either makes this busy or waits for an exit it cannot stop.
void answer_exit_if_idle(int checkin_fd) {
  auto frozen = Transactions::get().freeze();
  // Posted work (barriers, reply handlers, events) is work in hand too.
  bool busy = Transactions::get().count_locked() > 0 || Runtime::get().has_posted();
  std::vector<Object> entries;
  for (const auto& connection : live_connections()) {
    if (busy) break;
    busy = connection->has_work();
    if (Object entry = connection->park_entry(); !busy && !entry.is_null()) entries.push_back(std::move(entry));
  }
  const Object busy_answer{{protocol::kEvent, protocol::kBusy}};
  if (busy || entries.size() > protocol::kMaxParkedConnections) {
    say(checkin_fd, busy_answer);
    return;
  }
  // A batch that cannot go (fds in flight over the limit, no memory): this
  // service stays, keeps every connection, and says busy; xpcd drops the
  // copies it got from the batches before.
  for (std::size_t first = 0; first < entries.size(); first += protocol::kParkBatch) {
    Array batch(entries.begin() + static_cast<std::ptrdiff_t>(first),
                entries.begin() + static_cast<std::ptrdiff_t>(std::min(entries.size(), first + protocol::kParkBatch)));
    if (!say(checkin_fd, Object{{protocol::kEvent, protocol::kPark}, {protocol::kConnections, Object::array(std::move(batch))}})) {
      say(checkin_fd, busy_answer);
      return;
    }
  }
  if (!say(checkin_fd, Object{{protocol::kEvent, protocol::kExiting}})) {
    say(checkin_fd, busy_answer);
    return;
  }
  std::fflush(nullptr);
  ::_exit(0);
}

void announce_termination() {
  for (const auto& connection : live_connections()) connection->termination_imminent();
}

}  // namespace xpc::detail
