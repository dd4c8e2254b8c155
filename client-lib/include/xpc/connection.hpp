// Connections (DESIGN 5.4), the C++ API. A Connection is a handle on a
// message channel to a named service (client side) or to one client
// (service side, handed to the listener's connection handler). Handles are
// shared: copies refer to the same connection, as xpc_connection_t does.
// Not here: endpoints (later).
//
// Semantics, after libxpc:
// * mach_service(name) never fails. The name is looked up on first send;
//   a missing name, a refused lookup or a failed launch makes the
//   connection invalid, with the reason (invalidation_reason()).
// * When the service of a named connection dies, the handler gets an
//   `interrupted` error, pending replies get it too, and the next send looks
//   the name up again (relaunching the service). A peer connection on the
//   service side that closes gets `invalid`, never `interrupted`.
// * Events (messages and errors) reach the event handler only after
//   resume(). A connection's handlers (event, reply, barrier) never run
//   concurrently: they all run on the library's loop (see runtime.hpp).
// * Sending is synchronous into the socket buffer; it never waits for the
//   peer to read.
// * A connection lives until cancel(), even when every handle is gone, as on
//   macOS. cancel() delivers a final `invalid` event.
#pragma once

#include <xpc/export.h>
#include <xpc/object.hpp>
#include <xpc/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace xpc {

namespace detail {
class ConnectionImpl;
class CheckinChannel;
}

// Who is at the other end. On the service side it is the peer record xpcd
// took from the client's bootstrap socket (SO_PEERCRED and a pidfd); on the
// client side, the kernel-stamped credentials of the last message received.
struct PeerInfo {
  std::int32_t pid = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string exe;    // executable path, when known
  std::string label;  // job label, when the peer is a job
  int pidfd = -1;     // borrowed; valid while the connection lives
};

class XPC_EXPORT Connection {
 public:
  enum Flags : std::uint64_t {
    kPrivileged = 1u << 0,  // look the name up in the system domain only
  };
  // Receives messages (dictionaries) and errors (objects of type error
  // with XPCErrorCode "interrupted", "invalid", ...).
  using EventHandler = std::function<void(const Object& event)>;
  // Receives the reply, or an error object when there will be none.
  using ReplyHandler = std::function<void(const Object& reply)>;

  Connection() = default;  // an empty handle; valid() is false
  static Connection mach_service(std::string name, std::uint64_t flags = 0);

  bool valid() const noexcept { return handle_.is(Type::Connection); }
  const std::string& name() const;

  void set_event_handler(EventHandler handler);
  void resume();   // starts (or resumes) event delivery; also `activate`
  void suspend();  // pauses event delivery; calls nest with resume
  void cancel();

  void send(const Object& message);
  void send(const Object& message, ReplyHandler on_reply);
  // Sends and waits on the caller's thread for the reply. Returns the reply,
  // or an error object: code "timeout", "interrupted" or "invalid". The
  // timeout is clamped to [0, 24 h].
  Object send_sync(const Object& message, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Runs `fn` on the loop once every message sent before it has been sent.
  void barrier(std::function<void()> fn);

  PeerInfo peer() const;
  // Why the connection is invalid ("" while it is not).
  std::string invalidation_reason() const;

  // C interop: the connection as an xpc_connection_t (borrowed) and back.
  xpc_object_t c_object() const;
  static Connection from_c(xpc_object_t connection);

  bool operator==(const Connection& other) const noexcept;

 private:
  friend class detail::ConnectionImpl;
  explicit Connection(Object handle) : handle_(std::move(handle)) {}
  detail::ConnectionImpl* impl() const noexcept;
  // The handle is an object of type connection, shared with the C API
  // (xpc_connection_t); its payload owns the state.
  Object handle_;
};

// A reply to `message` (a dictionary that remembers which message it
// answers), like xpc_dictionary_create_reply. A null object when `message`
// did not ask for a reply.
XPC_EXPORT Object make_reply(const Object& message);

// The connection a received message came from.
XPC_EXPORT Connection remote_connection(const Object& message);

// Transactions (DESIGN 6). While one is open, xpcd never asks the service
// to exit for idleness (xpc_transaction_begin/end). Every received message
// that awaits a reply holds one automatically, until the reply is sent or
// the message (and every reply made from it) is dropped. Idle exit itself
// is invisible to the service's clients: with no transaction, no queued
// message, no reply awaited and no unread data, the library hands every
// connection back to xpcd and exits 0; xpcd relaunches it when one of them
// is written to and hands them all back.
XPC_EXPORT void transaction_begin();
XPC_EXPORT void transaction_end();
class Transaction {
 public:
  Transaction() { transaction_begin(); }
  ~Transaction() { transaction_end(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
};

// The service side. `on_connection` is called on the loop for each new peer;
// it sets the peer's event handler and resumes it.
using ConnectionHandler = std::function<void(Connection peer)>;

// Checks in with xpcd through the checkin channel (XPCD_CHECKIN_FD) and
// serves connections for ever on the calling thread: the xpc_main analogue.
// Prints a message and exits 1 when the process was not launched by xpcd.
[[noreturn]] XPC_EXPORT void service_main(ConnectionHandler on_connection);

// A service's listener on its checkin channel, serving on the library's loop.
class XPC_EXPORT Listener {
 public:
  Listener() = default;
  // Checks in on `checkin_fd` (taking it over; -1: from XPCD_CHECKIN_FD).
  // Fails, with the reason, when there is no checkin channel.
  static Result<Listener, std::string> start(ConnectionHandler on_connection, int checkin_fd = -1);
  bool valid() const noexcept { return channel_ != nullptr; }
  // Accepts no more connections. Called on the loop, no handler runs after
  // it; from another thread, one already running may still finish.
  void cancel();

 private:
  explicit Listener(std::shared_ptr<detail::CheckinChannel> channel) : channel_(std::move(channel)) {}
  std::shared_ptr<detail::CheckinChannel> channel_;
};

}  // namespace xpc
