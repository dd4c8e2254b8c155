// The state behind a connection handle. Internal.
//
// Locking: `mu_` guards the state fields; `read_mu_` is held by whoever
// reads the socket (the loop, or a synchronous sender that took the socket
// over), so replies are never read by the wrong party. Order: read_mu_
// before mu_, never the other way. Handlers are called with no lock held,
// always on the loop thread; nothing a user gave us (handlers, messages) is
// destroyed with mu_ held, as it may hold the last handle of the connection.
//
// What is read is sorted at once, still under read_mu_ (take()): a reply
// leaves pending_ for its handler, and EOF, xpcd's error or a malformed
// message end the connection, so the next reader sees the end. What the
// handlers get waits in `inbox_`, in the order it was read, until the loop
// delivers it; an `interrupted` end waits there too, behind the messages
// that came before it. Nothing is delivered while the connection is
// suspended, and nothing is read then either.
#pragma once

#include "runtime.hpp"

#include <xpc/codec.hpp>
#include <xpc/connection.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

namespace xpc::detail {

class ConnectionImpl : public Watched, public std::enable_shared_from_this<ConnectionImpl> {
 public:
  enum class Kind { Named, Peer, Listener };
  enum class State {
    Idle,          // named, not looked up yet (or since the service died)
    LookingUp,     // a sender is looking the name up; others wait for it
    Connected,     // has a socket
    Invalid,       // final: lookup refused, launch failed, peer gone
    Cancelled,     // final: cancel() called
  };

  static std::shared_ptr<ConnectionImpl> named(std::string name, std::uint64_t flags);
  // A service's listener (XPC_CONNECTION_MACH_SERVICE_LISTENER): resume()
  // checks in, and each new peer arrives at the event handler as an event.
  static std::shared_ptr<ConnectionImpl> listener(std::string name);
  static std::shared_ptr<ConnectionImpl> peer(UniqueFd fd, std::string service, PeerInfo info, UniqueFd pidfd);
  // A C++ handle on a handle object (Connection's constructor is private).
  static Connection wrap(Object handle);

  const std::string& name() const { return name_; }
  void set_event_handler(Connection::EventHandler handler);
  void resume();
  void suspend();
  void cancel();
  void send(const Object& message, Connection::ReplyHandler on_reply);
  Object send_sync(const Object& message, std::chrono::milliseconds timeout);
  void barrier(std::function<void()> fn);
  PeerInfo peer_info() const;
  void set_context(void* context);
  void* context() const;
  std::string invalidation_reason() const;
  // The handle object of this connection: the live one, or a new one when
  // every handle is gone. Returns a new reference.
  Object handle();
  void handle_gone(const xpc_object_s* node);

  void on_readable() override;

  // The idle-exit handshake and termination-imminent (idle_exit.cpp).
  bool has_work() const;
  Object park_entry() const;
  void termination_imminent();

 private:
  // Shared so a sender using it keeps it open even if the loop ends the
  // connection meanwhile: an fd number must never be used after close
  // (it could be a new file by then).
  using Socket = std::shared_ptr<const UniqueFd>;

  // Something read for the handlers, waiting its turn on the loop: a
  // message for the event handler, a reply with its handler, or an end
  // (`interrupted`) with the replies it fails.
  struct Inbound {
    Object body;
    Connection::ReplyHandler reply;
    std::map<std::uint64_t, Connection::ReplyHandler> failed;
  };

  ConnectionImpl(Kind kind, std::string name, std::uint64_t flags);
  // Looks the name up when there is no socket, one sender at a time. False
  // (and the connection invalid) when that fails. Called with mu_ held.
  bool ensure_connected_locked(std::unique_lock<std::mutex>& lock);
  std::string cannot_send_reason_locked() const;
  void attach_socket_locked(UniqueFd fd);
  // Takes the socket over for a synchronous send: read_mu_ held, the
  // loop's watch quiet (`quieted`: it was on). Null when the connection is
  // invalid.
  Socket take_over(std::unique_lock<std::mutex>& reading, std::uint64_t& id, bool& quieted);
  void hand_back(const Socket& socket, bool quieted);
  Object await_reply(const Socket& socket, std::uint64_t id, std::chrono::steady_clock::time_point deadline,
                     std::chrono::milliseconds timeout);
  Result<wire::Message, wire::CodecError> receive_until(const Socket& socket,
                                                        std::chrono::steady_clock::time_point deadline);
  std::optional<Inbound> take(const Socket& from, Result<wire::Message, wire::CodecError> received);
  void deliver(Inbound in);
  void drain_inbox();
  void post_drain();
  void note_sender(const wire::Message& message);  // the peer is who sent
  enum class End { Interrupted, Invalid, Cancelled };
  // `from`: the socket whose reading says so; a stale one (replaced since)
  // ends nothing.
  void end(End how, std::string reason, const Socket* from = nullptr);
  void emit(const Object& event);  // to the event handler, on the loop
  std::uint64_t next_id_locked() { return ++last_id_; }

  const Kind kind_;
  const std::string name_;
  const std::uint64_t flags_;

  mutable std::mutex mu_;
  State state_ = State::Idle;
  std::condition_variable looked_up_;  // state_ left LookingUp
  Socket socket_;
  std::uint64_t generation_ = 0;  // of socket_: counts the sockets attached
  int fd_locked() const { return socket_ ? socket_->get() : -1; }
  bool watched_ = false;
  // A synchronous sender owns the socket: the loop's watch is off, and
  // suspend/resume leave it to the sender to restore.
  bool sync_reading_ = false;
  int suspend_count_ = 1;  // created suspended, as in libxpc
  Connection::EventHandler handler_;
  std::map<std::uint64_t, Connection::ReplyHandler> pending_;
  std::uint64_t last_id_ = 0;
  std::string invalid_reason_;
  void* context_ = nullptr;  // xpc_connection_set_context
  Listener listener_;        // Kind::Listener, once resumed
  PeerInfo peer_;
  UniqueFd peer_pidfd_;
  std::deque<Inbound> inbox_;
  xpc_object_s* handle_ = nullptr;  // not owned: cleared by handle_gone()

  std::mutex read_mu_;
  // The receive timeout set on the socket of generation `timeout_generation_`
  // (read_mu_): set again only when it changes.
  std::uint64_t timeout_generation_ = 0;
  std::chrono::microseconds timeout_set_{0};
};

}  // namespace xpc::detail
