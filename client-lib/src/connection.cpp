// Connections: lazy lookup, sending, replies, synchronous sends, and the
// interrupted/invalid lifecycle (DESIGN 5.4).
#include "connection_impl.hpp"
#include "lookup.hpp"
#include "node.hpp"

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xpc::detail {

namespace {

using namespace std::chrono;

constexpr milliseconds kLookupTimeout{5000};

bool peer_gone(const wire::CodecError& error) {
  return error.code == wire::CodecErrc::System && (error.sys_errno == EPIPE || error.sys_errno == ECONNRESET);
}

// Nothing to act on yet. ECONNRESET from recvmsg is the kernel's one-shot
// note that the peer closed with our messages unread; what the peer sent
// before closing is still queued behind it, then EOF. Read on.
bool read_again(const wire::CodecError& error) {
  return error.code == wire::CodecErrc::System && (error.sys_errno == EAGAIN || error.sys_errno == ECONNRESET);
}

Object error_event(std::string_view code, std::string_view description) {
  return Object::error(code, description);
}

}  // namespace

ConnectionPayload::~ConnectionPayload() {
  if (impl) impl->handle_gone(node);
}

ConnectionImpl::ConnectionImpl(Kind kind, std::string name, std::uint64_t flags)
    : kind_(kind), name_(std::move(name)), flags_(flags) {}

std::shared_ptr<ConnectionImpl> ConnectionImpl::named(std::string name, std::uint64_t flags) {
  return std::shared_ptr<ConnectionImpl>(new ConnectionImpl(Kind::Named, std::move(name), flags));
}

std::shared_ptr<ConnectionImpl> ConnectionImpl::listener(std::string name) {
  return std::shared_ptr<ConnectionImpl>(new ConnectionImpl(Kind::Listener, std::move(name), 0));
}

std::shared_ptr<ConnectionImpl> ConnectionImpl::peer(UniqueFd fd, std::string service, PeerInfo info,
                                                     UniqueFd pidfd) {
  auto impl = std::shared_ptr<ConnectionImpl>(new ConnectionImpl(Kind::Peer, std::move(service), 0));
  std::lock_guard lock(impl->mu_);
  impl->peer_ = std::move(info);
  impl->peer_pidfd_ = std::move(pidfd);
  impl->peer_.pidfd = impl->peer_pidfd_.get();
  impl->attach_socket_locked(std::move(fd));
  return impl;
}

Object ConnectionImpl::handle() {
  std::lock_guard lock(mu_);
  if (handle_ != nullptr && try_retain(handle_)) return Object::adopt(handle_);
  xpc_object_s* node = make_node(Type::Connection, ConnectionPayload(shared_from_this()));
  std::get<ConnectionPayload>(node->payload).node = node;
  handle_ = node;
  return Object::adopt(node);
}

void ConnectionImpl::handle_gone(const xpc_object_s* node) {
  std::lock_guard lock(mu_);
  if (handle_ == node) handle_ = nullptr;
}

// --- lifecycle --------------------------------------------------------------------

void ConnectionImpl::set_event_handler(Connection::EventHandler handler) {
  {
    std::lock_guard lock(mu_);
    handler_.swap(handler);
  }
  // The old handler dies here, unlocked: it may hold the last handle of this
  // very connection, whose destruction takes mu_.
}

void ConnectionImpl::resume() {
  std::unique_lock lock(mu_);
  if (suspend_count_ == 0) return;
  if (--suspend_count_ == 0 && watched_) Runtime::get().set_enabled(fd_locked(), true);
  if (kind_ == Kind::Listener && state_ == State::Idle) {
    state_ = State::Connected;
    lock.unlock();
    auto self = shared_from_this();
    auto listener = Listener::start([self](Connection peer) { self->emit(Object::retain(peer.c_object())); });
    if (!listener) {
      end(End::Invalid, std::move(listener).error());
      return;
    }
    std::lock_guard relock(mu_);
    listener_ = std::move(listener).value();
  }
}

void ConnectionImpl::suspend() {
  std::lock_guard lock(mu_);
  if (suspend_count_++ == 0 && watched_) Runtime::get().set_enabled(fd_locked(), false);
}

void ConnectionImpl::attach_socket_locked(UniqueFd fd) {
  // A client's messages then carry the sender's credentials, stamped by
  // the kernel: the peer is who sent (the service, or after a relaunch its
  // next instance), not who made the socketpair (xpcd). The service side
  // has xpcd's peer record and is spared the per-message cost.
  if (kind_ == Kind::Named) {
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  }
  socket_ = std::make_shared<const UniqueFd>(std::move(fd));
  state_ = State::Connected;
  Runtime::get().watch(fd_locked(), shared_from_this());
  watched_ = true;
  if (suspend_count_ > 0) Runtime::get().set_enabled(fd_locked(), false);
}

bool ConnectionImpl::ensure_connected_locked(std::unique_lock<std::mutex>& lock) {
  if (state_ == State::Connected) return true;
  if (state_ != State::Idle) return false;
  // The lookup is a local round trip that xpcd answers at once (it never
  // waits for the service), so it is done here, on the sender's thread.
  lock.unlock();
  auto fd = lookup(name_, flags_, kLookupTimeout);
  lock.lock();
  if (state_ == State::Connected) return true;  // another sender got there first
  if (state_ != State::Idle) return false;
  if (!fd) {
    std::string reason = std::move(fd).error();
    lock.unlock();
    end(End::Invalid, std::move(reason));
    lock.lock();
    return false;
  }
  attach_socket_locked(std::move(fd).value());
  return true;
}

void ConnectionImpl::cancel() { end(End::Cancelled, "the connection was cancelled"); }

// --- sending ------------------------------------------------------------------------

void ConnectionImpl::send(const Object& message, Connection::ReplyHandler on_reply) {
  std::unique_lock lock(mu_);
  if (!ensure_connected_locked(lock)) {
    std::string reason = invalid_reason_;
    lock.unlock();
    if (on_reply) Runtime::get().post([on_reply, reason] { on_reply(error_event(protocol::kErrorInvalid, reason)); });
    return;
  }
  wire::Message out{next_id_locked(), 0, static_cast<bool>(on_reply), message};
  if (auto* ctx = node_of(message.c_object())->context.get()) out.reply_to = ctx->reply_to;
  bool wants_reply = static_cast<bool>(on_reply);
  if (wants_reply) pending_.emplace(out.id, std::move(on_reply));
  auto socket = socket_;
  // Unlocked: a full socket buffer blocks sendmsg until the peer reads, and
  // the loop needs mu_ to read the replies that let the peer go on.
  lock.unlock();
  auto sent = wire::send(socket->get(), out);
  // A peer that is gone shows as EOF on the loop, which fails the pending
  // reply with the right error (xpcd may have left its reason first). Any
  // other failure is this message's own: fail its reply now.
  if (!sent && !peer_gone(sent.error()) && wants_reply) {
    lock.lock();
    auto found = pending_.find(out.id);
    if (found == pending_.end()) return;  // the connection ended meanwhile and failed it
    auto handler = std::move(found->second);
    pending_.erase(found);
    std::string reason = "cannot send: " + sent.error().message();
    lock.unlock();
    Runtime::get().post([handler, reason] { handler(error_event(protocol::kErrorSendFailed, reason)); });
  }
}

Object ConnectionImpl::send_sync(const Object& message, milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::shared_ptr<const UniqueFd> socket;
  std::unique_lock reading(read_mu_, std::defer_lock);
  // Take the socket over so the loop cannot read our reply: hold read_mu_
  // and stop the loop's watch for the duration. What else arrives meanwhile
  // is kept in order for the loop. The loop may have ended the connection
  // between the lookup and here: then look up again (interrupted) or stop
  // (invalid).
  for (;;) {
    if (!ensure_connected_locked(lock)) return error_event(protocol::kErrorInvalid, invalid_reason_);
    socket = socket_;
    lock.unlock();
    reading.lock();
    lock.lock();
    if (socket_ == socket) break;
    reading.unlock();
  }
  std::uint64_t id = next_id_locked();
  int fd = socket->get();
  lock.unlock();
  Runtime::get().set_enabled(fd, false);
  wire::Message out{id, 0, true, message};
  if (auto* ctx = node_of(message.c_object())->context.get()) out.reply_to = ctx->reply_to;
  Object result;
  // A day at most: longer would overflow the deadline and poll's int.
  auto deadline = steady_clock::now() + std::clamp(timeout, milliseconds(0), milliseconds(hours(24)));
  if (auto sent = wire::send(fd, out); !sent) {
    if (!peer_gone(sent.error())) {
      result = error_event(protocol::kErrorSendFailed, "cannot send: " + sent.error().message());
    }
    // The peer is gone: read what it left (xpcd's reason, EOF), no waiting.
    deadline = steady_clock::now();
  }
  std::deque<Result<wire::Message, wire::CodecError>> others;
  std::string xpcd_reason;
  while (result.is_null()) {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0))) == 0) {
      result = error_event(protocol::kErrorTimeout, "no reply within " + std::to_string(timeout.count()) + " ms");
      break;
    }
    auto received = wire::receive(fd, MSG_DONTWAIT);
    if (received && received->reply_to == id) {
      note_sender(*received);
      result = std::move(received->body);
      break;
    }
    if (received && received->id == 0 && received->body.is(Type::Error)) {
      // xpcd could not complete the connection: no reply will come, and
      // nothing can have come before its word.
      xpcd_reason = received->body[kErrorKeyDescription].string_or("the service could not be reached");
      result = error_event(protocol::kErrorInvalid, xpcd_reason);
      break;
    }
    if (!received && read_again(received.error())) continue;
    bool fatal = !received;
    others.push_back(std::move(received));
    if (fatal) {
      result = error_event(protocol::kErrorInterrupted, "the connection closed before the reply");
      break;
    }
  }
  reading.unlock();
  if (!xpcd_reason.empty()) {
    end(End::Invalid, xpcd_reason);  // before returning, so the reason is there to read
    return result;
  }
  lock.lock();
  for (auto& m : others) deferred_.push_back(std::move(m));
  bool enable = watched_ && suspend_count_ == 0 && socket_ == socket;
  if ((state_ == State::Invalid || state_ == State::Cancelled) && result.is(Type::Error)) {
    result = error_event(protocol::kErrorInvalid, invalid_reason_);
  }
  bool have_deferred = !deferred_.empty();
  lock.unlock();
  if (enable) Runtime::get().set_enabled(fd, true);
  if (have_deferred) {
    auto self = shared_from_this();
    Runtime::get().post([self] { self->drain_deferred(); });
  }
  return result;
}

void ConnectionImpl::barrier(std::function<void()> fn) { Runtime::get().post(std::move(fn)); }

// --- receiving (on the loop) ----------------------------------------------------------------

void ConnectionImpl::on_readable() {
  drain_deferred();
  Result<wire::Message, wire::CodecError> received = fail(wire::CodecError{wire::CodecErrc::System, "", EAGAIN});
  {
    std::unique_lock reading(read_mu_, std::try_to_lock);
    if (!reading) return;  // a synchronous sender owns the socket now
    std::shared_ptr<const UniqueFd> socket;
    {
      std::lock_guard lock(mu_);
      if (state_ != State::Connected) return;
      socket = socket_;
    }
    received = wire::receive(socket->get(), MSG_DONTWAIT);
    // The end of the connection is decided before read_mu_ goes, so a
    // synchronous sender that takes the socket next sees it already.
    if (ends_connection(received)) return;
  }
  handle_incoming(std::move(received));
}

void ConnectionImpl::drain_deferred() {
  for (;;) {
    std::unique_lock lock(mu_);
    if (deferred_.empty()) return;
    auto next = std::move(deferred_.front());
    deferred_.pop_front();
    lock.unlock();
    handle_incoming(std::move(next));
  }
}

// Ends the connection when what was read says so: EOF, a malformed message
// (the peer cannot be trusted to frame the rest), or xpcd's word that it
// could not complete the connection (id 0, an error body).
bool ConnectionImpl::ends_connection(const Result<wire::Message, wire::CodecError>& received) {
  if (received) {
    if (received->id != 0 || !received->body.is(Type::Error)) return false;
    end(End::Invalid, received->body[kErrorKeyDescription].string_or("the service could not be reached"));
    return true;
  }
  const wire::CodecError& error = received.error();
  if (read_again(error)) return false;
  if (error.code == wire::CodecErrc::Closed) {
    if (kind_ == Kind::Named) {
      end(End::Interrupted, "the service " + name_ + " went away");
    } else {
      end(End::Invalid, "the peer closed the connection");
    }
  } else {
    end(End::Invalid, "malformed message from the peer: " + error.message());
  }
  return true;
}

void ConnectionImpl::handle_incoming(Result<wire::Message, wire::CodecError> received) {
  if (ends_connection(received) || !received) return;
  deliver_message(std::move(received).value());
}

void ConnectionImpl::note_sender(const wire::Message& message) {
  // pid 0: queued before SO_PASSCRED was on, so the kernel stamped nothing.
  if (!message.sender || message.sender->pid == 0 || kind_ != Kind::Named) return;
  std::lock_guard lock(mu_);
  peer_ = PeerInfo{message.sender->pid, message.sender->uid, message.sender->gid, {}, {}, -1};
}

void ConnectionImpl::deliver_message(wire::Message message) {
  note_sender(message);
  if (message.reply_to != 0) {
    Connection::ReplyHandler handler;
    {
      std::lock_guard lock(mu_);
      auto it = pending_.find(message.reply_to);
      if (it == pending_.end()) return;  // a reply nobody waits for (a timed-out sync send)
      handler = std::move(it->second);
      pending_.erase(it);
    }
    handler(message.body);
    return;
  }
  if (xpc_object_s* node = node_of(message.body.c_object()); is_dictionary_like(node)) {
    node->context = std::make_shared<MessageContext>(MessageContext{handle(), message.id, message.wants_reply, 0});
  }
  emit(std::move(message.body));
}

void ConnectionImpl::emit(Object event) {
  Connection::EventHandler handler;
  {
    std::lock_guard lock(mu_);
    handler = handler_;
  }
  if (handler) handler(event);
}

// The connection lost its socket or never got one. Interrupted: a named
// connection's service went away; it becomes Idle and the next send looks
// the name up anew. Invalid and Cancelled are final. Pending replies fail
// with the same error the event handler gets.
void ConnectionImpl::end(End how, std::string reason) {
  std::map<std::uint64_t, Connection::ReplyHandler> pending;
  std::deque<Result<wire::Message, wire::CodecError>> deferred;  // destroyed unlocked, see set_event_handler
  Listener listener;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Invalid || state_ == State::Cancelled) return;
    if (how == End::Interrupted && state_ != State::Connected) return;  // already handled
    if (watched_) Runtime::get().unwatch(fd_locked());
    watched_ = false;
    socket_.reset();
    pending.swap(pending_);
    deferred.swap(deferred_);
    listener = std::move(listener_);
    state_ = how == End::Interrupted ? State::Idle : how == End::Invalid ? State::Invalid : State::Cancelled;
    if (how != End::Interrupted) invalid_reason_ = reason;
  }
  listener.cancel();
  auto code = how == End::Interrupted ? protocol::kErrorInterrupted : protocol::kErrorInvalid;
  auto self = shared_from_this();
  bool final = how != End::Interrupted;
  Runtime::get().post([self, pending = std::move(pending), code, reason, final] {
    for (auto& [id, handler] : pending) handler(error_event(code, reason));
    self->emit(error_event(code, reason));
    // After the last event the handler goes, and with it whatever it holds
    // (often this very connection: a cycle that would otherwise leak).
    if (final) self->set_event_handler(nullptr);
  });
}

void ConnectionImpl::set_context(void* context) {
  std::lock_guard lock(mu_);
  context_ = context;
}

void* ConnectionImpl::context() const {
  std::lock_guard lock(mu_);
  return context_;
}

PeerInfo ConnectionImpl::peer_info() const {
  std::lock_guard lock(mu_);
  return peer_;
}

std::string ConnectionImpl::invalidation_reason() const {
  std::lock_guard lock(mu_);
  return state_ == State::Invalid || state_ == State::Cancelled ? invalid_reason_ : std::string();
}

}  // namespace xpc::detail

namespace xpc {

using detail::ConnectionImpl;

detail::ConnectionImpl* Connection::impl() const noexcept {
  auto* payload = detail::payload_if<detail::ConnectionPayload>(detail::node_of(handle_.c_object()));
  return payload == nullptr ? nullptr : payload->impl.get();
}

Connection Connection::mach_service(std::string name, std::uint64_t flags) {
  return Connection(ConnectionImpl::named(std::move(name), flags)->handle());
}

const std::string& Connection::name() const { return impl()->name(); }
void Connection::set_event_handler(EventHandler handler) { impl()->set_event_handler(std::move(handler)); }
void Connection::resume() { impl()->resume(); }
void Connection::suspend() { impl()->suspend(); }
void Connection::cancel() { impl()->cancel(); }
void Connection::send(const Object& message) { impl()->send(message, nullptr); }
void Connection::send(const Object& message, ReplyHandler on_reply) { impl()->send(message, std::move(on_reply)); }
Object Connection::send_sync(const Object& message, std::chrono::milliseconds timeout) {
  return impl()->send_sync(message, timeout);
}
void Connection::barrier(std::function<void()> fn) { impl()->barrier(std::move(fn)); }
PeerInfo Connection::peer() const { return impl()->peer_info(); }
std::string Connection::invalidation_reason() const { return impl()->invalidation_reason(); }
xpc_object_t Connection::c_object() const { return handle_.c_object(); }
Connection Connection::from_c(xpc_object_t connection) {
  Object handle = Object::retain(connection);
  return handle.is(Type::Connection) ? Connection(std::move(handle)) : Connection();
}
bool Connection::operator==(const Connection& other) const noexcept { return impl() == other.impl(); }

Object make_reply(const Object& message) {
  auto* ctx = detail::node_of(message.c_object())->context.get();
  if (ctx == nullptr || !ctx->wants_reply) return Object();
  Object reply = Object::dictionary();
  detail::node_of(reply.c_object())->context =
      std::make_shared<detail::MessageContext>(detail::MessageContext{ctx->connection, 0, false, ctx->id});
  return reply;
}

Connection remote_connection(const Object& message) {
  auto* ctx = detail::node_of(message.c_object())->context.get();
  return ctx == nullptr ? Connection() : Connection::from_c(ctx->connection.c_object());
}

}  // namespace xpc
