// Connections: lazy lookup, sending, replies, synchronous sends, and the
// interrupted/invalid lifecycle (DESIGN 5.4).
#include "connection_impl.hpp"
#include "idle_exit.hpp"
#include "lookup.hpp"
#include "node.hpp"
#include "transactions.hpp"

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xpc::detail {

namespace {

using namespace std::chrono;

constexpr milliseconds kLookupTimeout{5000};
// How much later than asked a synchronous send may time out, so that its
// socket's receive timeout need not be set again for every send.
constexpr milliseconds kTimeoutSlack{10};

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
  auto impl = std::shared_ptr<ConnectionImpl>(new ConnectionImpl(Kind::Named, std::move(name), flags));
  track(impl);
  return impl;
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
  track(impl);
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
  if (--suspend_count_ == 0) {
    if (watched_ && !sync_reading_) Runtime::get().set_enabled(fd_locked(), true);
    if (!inbox_.empty()) post_drain();  // what was read while suspended goes first
  }
  if (kind_ == Kind::Listener && state_ == State::Idle) {
    state_ = State::Connected;
    lock.unlock();
    auto self = shared_from_this();
    auto listener = Listener::start([self](Connection peer) { self->emit(Object::retain(peer.c_object())); });
    if (!listener) {
      end(End::Invalid, std::move(listener).error());
      return;
    }
    lock.lock();
    if (state_ != State::Connected) {  // cancelled while it started: accept nothing
      lock.unlock();
      listener->cancel();
      return;
    }
    listener_ = std::move(listener).value();
  }
}

void ConnectionImpl::suspend() {
  std::lock_guard lock(mu_);
  if (suspend_count_++ == 0 && watched_ && !sync_reading_) Runtime::get().set_enabled(fd_locked(), false);
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
  ++generation_;
  state_ = State::Connected;
  Runtime::get().watch(fd_locked(), shared_from_this(), suspend_count_ == 0);
  watched_ = true;
}

bool ConnectionImpl::ensure_connected_locked(std::unique_lock<std::mutex>& lock) {
  if (kind_ == Kind::Listener) return false;  // it has no socket of its own to send on
  looked_up_.wait(lock, [this] { return state_ != State::LookingUp; });
  if (state_ == State::Connected) return true;
  if (state_ != State::Idle) return false;
  // The lookup is a local round trip that xpcd answers at once (it never
  // waits for the service), so it is done here, on the sender's thread.
  // One at a time: a second lookup would make a second connection.
  state_ = State::LookingUp;
  lock.unlock();
  auto fd = lookup(name_, flags_, kLookupTimeout);
  lock.lock();
  if (state_ != State::LookingUp) return false;  // cancelled meanwhile
  if (!fd) {
    std::string reason = std::move(fd).error();
    lock.unlock();
    end(End::Invalid, std::move(reason));
    lock.lock();
    return false;
  }
  attach_socket_locked(std::move(fd).value());
  looked_up_.notify_all();
  return true;
}

std::string ConnectionImpl::cannot_send_reason_locked() const {
  if (kind_ == Kind::Listener) return "a listener does not send: send on the peer connections it receives";
  return invalid_reason_;
}

void ConnectionImpl::cancel() { end(End::Cancelled, "the connection was cancelled"); }

// --- sending ------------------------------------------------------------------------

void ConnectionImpl::send(const Object& message, Connection::ReplyHandler on_reply) {
  std::unique_lock lock(mu_);
  if (!ensure_connected_locked(lock)) {
    std::string reason = cannot_send_reason_locked();
    lock.unlock();
    if (on_reply) Runtime::get().post([on_reply, reason] { on_reply(error_event(protocol::kErrorInvalid, reason)); });
    return;
  }
  wire::Message out{next_id_locked(), 0, static_cast<bool>(on_reply), message};
  std::shared_ptr<TransactionToken> answers;  // a reply ends its request's transaction once sent
  if (auto* ctx = node_of(message.c_object())->context.get()) {
    out.reply_to = ctx->reply_to;
    if (out.reply_to != 0) answers = ctx->transaction;
  }
  bool wants_reply = static_cast<bool>(on_reply);
  if (wants_reply) pending_.emplace(out.id, std::move(on_reply));
  auto socket = socket_;
  // Unlocked: a full socket buffer blocks sendmsg until the peer reads, and
  // the loop needs mu_ to read the replies that let the peer go on.
  lock.unlock();
  auto sent = wire::send(socket->get(), out);
  if (answers) answers->end();
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
  // A day at most: longer would overflow the deadline.
  timeout = std::clamp(timeout, milliseconds(0), milliseconds(hours(24)));
  auto deadline = steady_clock::now() + timeout;
  std::unique_lock reading(read_mu_, std::defer_lock);
  std::uint64_t id = 0;
  bool quieted = false;
  Socket socket = take_over(reading, id, quieted);
  if (!socket) {
    std::lock_guard lock(mu_);
    return error_event(protocol::kErrorInvalid, cannot_send_reason_locked());
  }
  wire::Message out{id, 0, true, message};
  if (auto* ctx = node_of(message.c_object())->context.get()) out.reply_to = ctx->reply_to;
  Object result;
  if (auto sent = wire::send(socket->get(), out); !sent) {
    if (!peer_gone(sent.error())) {
      result = error_event(protocol::kErrorSendFailed, "cannot send: " + sent.error().message());
    }
    // The peer is gone: read what it left (xpcd's reason, EOF), no waiting.
    deadline = steady_clock::now();
  }
  if (result.is_null()) result = await_reply(socket, id, deadline, timeout);
  hand_back(socket, quieted);
  reading.unlock();
  std::lock_guard lock(mu_);
  if ((state_ == State::Invalid || state_ == State::Cancelled) && result.is(Type::Error)) {
    return error_event(protocol::kErrorInvalid, invalid_reason_);
  }
  return result;
}

// The loop may end the connection between the lookup and taking read_mu_:
// then look up again (interrupted) or stop (invalid).
ConnectionImpl::Socket ConnectionImpl::take_over(std::unique_lock<std::mutex>& reading, std::uint64_t& id,
                                                 bool& quieted) {
  std::unique_lock lock(mu_);
  Socket socket;
  for (;;) {
    if (!ensure_connected_locked(lock)) return nullptr;
    socket = socket_;
    lock.unlock();
    reading.lock();
    lock.lock();
    if (socket_ == socket) break;
    reading.unlock();
  }
  id = next_id_locked();
  sync_reading_ = true;
  // Quiet, not off: the HUP that still comes through is this sender's to
  // read, and it reads it at once, so the loop sees it for a moment at most.
  quieted = watched_ && suspend_count_ == 0;
  if (quieted) Runtime::get().set_quiet(socket->get(), true);
  return socket;
}

// Gives the socket back to the loop, still holding read_mu_: a sender that
// takes it next must find the watch as this one leaves it. Suspend and
// resume left the watch alone meanwhile; it follows them now.
void ConnectionImpl::hand_back(const Socket& socket, bool quieted) {
  std::lock_guard lock(mu_);
  sync_reading_ = false;
  if (watched_ && socket_ == socket) {
    bool on = suspend_count_ == 0;
    if (quieted && on) Runtime::get().set_quiet(socket->get(), false);
    if (quieted && !on) Runtime::get().set_enabled(socket->get(), false);
    if (!quieted && on) Runtime::get().set_enabled(socket->get(), true);
  }
  if (!inbox_.empty()) post_drain();
}

// Reads until the reply to `id` comes; what else arrives meanwhile joins
// the inbox in order, and what ends the connection ends it here.
Object ConnectionImpl::await_reply(const Socket& socket, std::uint64_t id, steady_clock::time_point deadline,
                                   milliseconds timeout) {
  for (;;) {
    auto received = receive_until(socket, deadline);
    if (received && received->reply_to == id) {
      note_sender(*received);
      return std::move(received->body);
    }
    if (!received && received.error().code == wire::CodecErrc::System && received.error().sys_errno == EAGAIN &&
        steady_clock::now() >= deadline) {
      return error_event(protocol::kErrorTimeout, "no reply within " + std::to_string(timeout.count()) + " ms");
    }
    auto in = take(socket, std::move(received));
    std::lock_guard lock(mu_);
    if (in) inbox_.push_back(std::move(*in));
    if (socket_ != socket) return error_event(protocol::kErrorInterrupted, "the connection closed before the reply");
  }
}

// One blocking recvmsg under the socket's receive timeout, where poll and
// a non-blocking read would take two system calls. The timeout is set
// only when it changes; the loop reads with MSG_DONTWAIT and ignores it.
Result<wire::Message, wire::CodecError> ConnectionImpl::receive_until(const Socket& socket,
                                                                      steady_clock::time_point deadline) {
  auto left = duration_cast<microseconds>(deadline - steady_clock::now());
  if (left <= microseconds(0)) return wire::receive(socket->get(), MSG_DONTWAIT);
  std::uint64_t generation;
  {
    std::lock_guard lock(mu_);
    generation = generation_;
  }
  // A timeout set before that ends at most kTimeoutSlack after the deadline
  // will do: a sender with the same timeout as the last one (the common
  // case) then finds it set already.
  bool fits = generation == timeout_generation_ && timeout_set_ >= left && timeout_set_ - left <= kTimeoutSlack;
  if (!fits) {
    auto wanted = duration_cast<microseconds>(ceil<milliseconds>(left));
    timeval tv{static_cast<time_t>(wanted.count() / 1000000), static_cast<suseconds_t>(wanted.count() % 1000000)};
    ::setsockopt(socket->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    timeout_generation_ = generation;
    timeout_set_ = wanted;
  }
  return wire::receive(socket->get());
}

void ConnectionImpl::barrier(std::function<void()> fn) { Runtime::get().post(std::move(fn)); }

// --- receiving ----------------------------------------------------------------------

void ConnectionImpl::on_readable() {
  std::optional<Inbound> direct;
  {
    std::unique_lock reading(read_mu_, std::try_to_lock);
    if (!reading) return;  // a synchronous sender owns the socket now
    Socket socket;
    {
      std::lock_guard lock(mu_);
      // Suspended: a batch of epoll events may still name a watch paused
      // after it was fetched. Nothing is read until resume.
      if (state_ != State::Connected || suspend_count_ > 0) return;
      socket = socket_;
    }
    auto in = take(socket, wire::receive(socket->get(), MSG_DONTWAIT));
    if (in) {
      std::lock_guard lock(mu_);
      // Never ahead of what a synchronous sender read before it.
      if (inbox_.empty()) {
        direct = std::move(in);
      } else {
        inbox_.push_back(std::move(*in));
      }
    }
  }
  if (direct) deliver(std::move(*direct));
  drain_inbox();
}

// Sorts what was read off `from`, with read_mu_ held. A reply is matched to
// its handler now, so an end read after it cannot fail it too; a message
// gets its context. EOF, a malformed message (the peer cannot be trusted to
// frame the rest) or xpcd's word that it could not complete the connection
// (id 0, an error body) end the connection now.
std::optional<ConnectionImpl::Inbound> ConnectionImpl::take(const Socket& from,
                                                            Result<wire::Message, wire::CodecError> received) {
  if (!received) {
    const wire::CodecError& error = received.error();
    if (read_again(error)) return std::nullopt;
    if (error.code != wire::CodecErrc::Closed) {
      end(End::Invalid, "malformed message from the peer: " + error.message(), &from);
    } else if (kind_ == Kind::Named) {
      end(End::Interrupted, "the service " + name_ + " went away", &from);
    } else {
      end(End::Invalid, "the peer closed the connection", &from);
    }
    return std::nullopt;
  }
  wire::Message& message = *received;
  if (message.id == 0 && message.body.is(Type::Error)) {
    end(End::Invalid, std::string(message.body[kErrorKeyDescription].string_or("the service could not be reached")),
        &from);
    return std::nullopt;
  }
  note_sender(message);
  if (message.reply_to != 0) {
    Inbound in{std::move(message.body), nullptr, {}};
    std::lock_guard lock(mu_);
    auto it = pending_.find(message.reply_to);
    if (it == pending_.end()) return std::nullopt;  // a reply nobody waits for (a timed-out sync send)
    in.reply = std::move(it->second);
    pending_.erase(it);
    return in;
  }
  if (xpc_object_s* node = node_of(message.body.c_object()); is_dictionary_like(node)) {
    node->context = std::make_shared<MessageContext>(MessageContext{handle(), message.id, message.wants_reply, 0, {}});
    // A service's work in hand until it replies (DESIGN 6).
    if (kind_ == Kind::Peer && message.wants_reply && Transactions::automatic()) {
      node->context->transaction = std::make_shared<TransactionToken>();
    }
  }
  return Inbound{std::move(message.body), nullptr, {}};
}

void ConnectionImpl::deliver(Inbound in) {
  if (in.reply) {
    in.reply(in.body);
    return;
  }
  for (auto& [id, handler] : in.failed) handler(in.body);
  emit(in.body);
}

// On the loop only, so handlers never run concurrently.
void ConnectionImpl::drain_inbox() {
  for (;;) {
    std::unique_lock lock(mu_);
    if (inbox_.empty() || suspend_count_ > 0) return;
    auto next = std::move(inbox_.front());
    inbox_.pop_front();
    lock.unlock();
    deliver(std::move(next));
  }
}

void ConnectionImpl::post_drain() {
  Runtime::get().post([self = shared_from_this()] { self->drain_inbox(); });
}

void ConnectionImpl::note_sender(const wire::Message& message) {
  // pid 0: queued before SO_PASSCRED was on, so the kernel stamped nothing.
  if (!message.sender || message.sender->pid == 0 || kind_ != Kind::Named) return;
  std::lock_guard lock(mu_);
  peer_ = PeerInfo{message.sender->pid, message.sender->uid, message.sender->gid, {}, {}, -1};
}

void ConnectionImpl::emit(const Object& event) {
  Connection::EventHandler handler;
  {
    std::lock_guard lock(mu_);
    handler = handler_;
  }
  if (handler) handler(event);
}

// The connection lost its socket or never got one. Interrupted: a named
// connection's service went away; it becomes Idle at once, so the next
// send looks the name up anew, and the event waits in the inbox behind
// what was read before it. Invalid and Cancelled are final: what waits in
// the inbox is dropped, its replies failed. Pending replies fail with the
// same error the event handler gets.
void ConnectionImpl::end(End how, std::string reason, const Socket* from) {
  Object event = error_event(how == End::Interrupted ? protocol::kErrorInterrupted : protocol::kErrorInvalid, reason);
  std::map<std::uint64_t, Connection::ReplyHandler> pending;
  std::deque<Inbound> dropped;  // destroyed unlocked, see set_event_handler
  Listener listener;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Invalid || state_ == State::Cancelled) return;
    if (from != nullptr && *from != socket_) return;                    // read off a socket replaced since
    if (how == End::Interrupted && state_ != State::Connected) return;  // already handled
    if (watched_) Runtime::get().unwatch(fd_locked());
    watched_ = false;
    socket_.reset();
    pending.swap(pending_);
    listener = std::move(listener_);
    if (how == End::Interrupted) {
      state_ = State::Idle;
      inbox_.push_back(Inbound{event, nullptr, std::move(pending)});
      post_drain();
      return;
    }
    state_ = how == End::Invalid ? State::Invalid : State::Cancelled;
    invalid_reason_ = reason;
    dropped.swap(inbox_);
    looked_up_.notify_all();
  }
  listener.cancel();
  Runtime::get().post([self = shared_from_this(), event, pending = std::move(pending), dropped = std::move(dropped)] {
    for (auto& in : dropped) {
      if (in.reply) in.reply(event);
      for (auto& [id, handler] : in.failed) handler(event);
    }
    for (auto& [id, handler] : pending) handler(event);
    self->emit(event);
    // After the last event the handler goes, and with it whatever it holds
    // (often this very connection: a cycle that would otherwise leak).
    self->set_event_handler(nullptr);
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
      std::make_shared<detail::MessageContext>(detail::MessageContext{ctx->connection, 0, false, ctx->id, ctx->transaction});
  return reply;
}

Connection remote_connection(const Object& message) {
  auto* ctx = detail::node_of(message.c_object())->context.get();
  return ctx == nullptr ? Connection() : Connection::from_c(ctx->connection.c_object());
}

}  // namespace xpc
