// The state behind a connection handle. Internal.
//
// Locking: `mu_` guards the state fields; `read_mu_` is held by whoever
// reads the socket (the loop, or a synchronous sender that took the socket
// over), so replies are never read by the wrong party. Order: read_mu_
// before mu_, never the other way. Handlers are called with no lock held,
// always on the loop thread; nothing a user gave us (handlers, messages) is
// destroyed with mu_ held, as it may hold the last handle of the connection.
#pragma once

#include "runtime.hpp"

#include <xpc/codec.hpp>
#include <xpc/connection.hpp>

#include <deque>
#include <map>
#include <mutex>

namespace xpc::detail {

class ConnectionImpl : public Watched, public std::enable_shared_from_this<ConnectionImpl> {
 public:
  enum class Kind { Named, Peer, Listener };
  enum class State {
    Idle,          // named, not looked up yet (or since the service died)
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

 private:
  ConnectionImpl(Kind kind, std::string name, std::uint64_t flags);
  // Looks the name up when there is no socket. False (and the connection
  // invalid) when that fails. Called with mu_ held.
  bool ensure_connected_locked(std::unique_lock<std::mutex>& lock);
  void attach_socket_locked(UniqueFd fd);
  void handle_incoming(Result<wire::Message, wire::CodecError> received);
  bool ends_connection(const Result<wire::Message, wire::CodecError>& received);
  void deliver_message(wire::Message message);
  void note_sender(const wire::Message& message);  // the peer is who sent
  enum class End { Interrupted, Invalid, Cancelled };
  void end(End how, std::string reason);
  void emit(Object event);  // to the event handler, on the loop
  void drain_deferred();
  std::uint64_t next_id_locked() { return ++last_id_; }

  const Kind kind_;
  const std::string name_;
  const std::uint64_t flags_;

  mutable std::mutex mu_;
  State state_ = State::Idle;
  // Shared so a sender using it keeps it open even if the loop ends the
  // connection meanwhile: an fd number must never be used after close
  // (it could be a new file by then).
  std::shared_ptr<const UniqueFd> socket_;
  int fd_locked() const { return socket_ ? socket_->get() : -1; }
  bool watched_ = false;
  int suspend_count_ = 1;  // created suspended, as in libxpc
  Connection::EventHandler handler_;
  std::map<std::uint64_t, Connection::ReplyHandler> pending_;
  std::uint64_t last_id_ = 0;
  std::string invalid_reason_;
  void* context_ = nullptr;  // xpc_connection_set_context
  Listener listener_;        // Kind::Listener, once resumed
  PeerInfo peer_;
  UniqueFd peer_pidfd_;
  std::deque<Result<wire::Message, wire::CodecError>> deferred_;  // read by a sync sender
  xpc_object_s* handle_ = nullptr;  // not owned: cleared by handle_gone()

  std::mutex read_mu_;
};

}  // namespace xpc::detail
