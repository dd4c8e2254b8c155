// The C API of connections (<xpc/connection.h>): thin functions over the
// C++ ones. The well-known errors reach C handlers as libxpc's singletons
// (XPC_ERROR_CONNECTION_INTERRUPTED, ...), so C code can compare pointers;
// the reason is in xpc_connection_copy_invalidation_reason.
#include "connection_impl.hpp"
#include "node.hpp"

#include <xpc/connection.hpp>
#include <xpc/protocol.hpp>
#include <xpc/xpc.h>

#include <cstring>

using namespace xpc;

namespace {

detail::ConnectionImpl* impl_of(xpc_connection_t connection) {
  auto* payload = detail::payload_if<detail::ConnectionPayload>(detail::node_of(connection));
  return payload == nullptr ? nullptr : payload->impl.get();
}

xpc_connection_t as_connection(xpc_object_t object) { return static_cast<xpc_connection_t>(object); }

// An event as C code expects it: the singletons for the well-known errors.
xpc_object_t c_event(const Object& event) {
  if (!event.is(Type::Error)) return event.c_object();
  auto code = event[kErrorKeyCode].as_string();
  if (code == protocol::kErrorInterrupted) return XPC_ERROR_CONNECTION_INTERRUPTED;
  if (code == protocol::kErrorInvalid) return XPC_ERROR_CONNECTION_INVALID;
  if (code == "termination-imminent") return XPC_ERROR_TERMINATION_IMMINENT;
  return event.c_object();
}

}  // namespace

extern "C" {

xpc_connection_t xpc_connection_create_mach_service(const char* name, void* targetq, uint64_t flags) {
  (void)targetq;
  if (name == nullptr) return nullptr;
  std::shared_ptr<detail::ConnectionImpl> impl;
  if ((flags & XPC_CONNECTION_MACH_SERVICE_LISTENER) != 0) {
    impl = detail::ConnectionImpl::listener(name);
  } else {
    std::uint64_t lookup = (flags & XPC_CONNECTION_MACH_SERVICE_PRIVILEGED) != 0 ? std::uint64_t{Connection::kPrivileged} : 0;
    impl = detail::ConnectionImpl::named(name, lookup);
  }
  return as_connection(impl->handle().c_retain());
}

void xpc_connection_set_event_handler(xpc_connection_t connection, void* context, xpc_handler_f handler) {
  auto* impl = impl_of(connection);
  if (impl == nullptr) return;
  if (handler == nullptr) {
    impl->set_event_handler(nullptr);
    return;
  }
  impl->set_event_handler([context, handler](const Object& event) { handler(context, c_event(event)); });
}

void xpc_connection_set_context(xpc_connection_t connection, void* context) {
  if (auto* impl = impl_of(connection)) impl->set_context(context);
}

void* xpc_connection_get_context(xpc_connection_t connection) {
  auto* impl = impl_of(connection);
  return impl == nullptr ? nullptr : impl->context();
}

void xpc_connection_resume(xpc_connection_t connection) {
  if (auto* impl = impl_of(connection)) impl->resume();
}
void xpc_connection_activate(xpc_connection_t connection) { xpc_connection_resume(connection); }
void xpc_connection_suspend(xpc_connection_t connection) {
  if (auto* impl = impl_of(connection)) impl->suspend();
}
void xpc_connection_cancel(xpc_connection_t connection) {
  if (auto* impl = impl_of(connection)) impl->cancel();
}

void xpc_connection_send_message(xpc_connection_t connection, xpc_object_t message) {
  if (auto* impl = impl_of(connection)) impl->send(Object::retain(message), nullptr);
}

void xpc_connection_send_message_with_reply(xpc_connection_t connection, xpc_object_t message, void* replyq,
                                            void* context, xpc_handler_f handler) {
  (void)replyq;
  auto* impl = impl_of(connection);
  if (impl == nullptr) return;
  if (handler == nullptr) {  // nobody to tell: still send it
    impl->send(Object::retain(message), nullptr);
    return;
  }
  impl->send(Object::retain(message), [context, handler](const Object& reply) { handler(context, c_event(reply)); });
}

xpc_object_t xpc_connection_send_message_with_reply_sync_timeout(xpc_connection_t connection, xpc_object_t message,
                                                                 int64_t timeout_ms) {
  auto* impl = impl_of(connection);
  if (impl == nullptr) return xpc_retain(XPC_ERROR_CONNECTION_INVALID);
  Object reply = impl->send_sync(Object::retain(message), std::chrono::milliseconds(timeout_ms));
  return xpc_retain(c_event(reply));
}

xpc_object_t xpc_connection_send_message_with_reply_sync(xpc_connection_t connection, xpc_object_t message) {
  return xpc_connection_send_message_with_reply_sync_timeout(connection, message, 30'000);
}

void xpc_connection_send_barrier(xpc_connection_t connection, void* context, void (*barrier)(void*)) {
  if (auto* impl = impl_of(connection)) impl->barrier([context, barrier] { barrier(context); });
}

const char* xpc_connection_get_name(xpc_connection_t connection) {
  auto* impl = impl_of(connection);
  return impl == nullptr || impl->name().empty() ? nullptr : impl->name().c_str();
}
pid_t xpc_connection_get_pid(xpc_connection_t connection) {
  auto* impl = impl_of(connection);
  return impl == nullptr ? 0 : impl->peer_info().pid;
}
uid_t xpc_connection_get_euid(xpc_connection_t connection) {
  auto* impl = impl_of(connection);
  return impl == nullptr ? static_cast<uid_t>(-1) : impl->peer_info().uid;
}
gid_t xpc_connection_get_egid(xpc_connection_t connection) {
  auto* impl = impl_of(connection);
  return impl == nullptr ? static_cast<gid_t>(-1) : impl->peer_info().gid;
}

char* xpc_connection_copy_invalidation_reason(xpc_connection_t connection) {
  auto* impl = impl_of(connection);
  if (impl == nullptr) return nullptr;
  std::string reason = impl->invalidation_reason();
  return reason.empty() ? nullptr : ::strdup(reason.c_str());
}

xpc_object_t xpc_dictionary_create_reply(xpc_object_t original) {
  Object reply = make_reply(Object::retain(original));
  return reply.is_null() ? nullptr : reply.c_retain();
}

xpc_connection_t xpc_dictionary_get_remote_connection(xpc_object_t xdict) {
  auto* ctx = xdict == nullptr ? nullptr : detail::node_of(xdict)->context.get();
  return ctx == nullptr ? nullptr : as_connection(ctx->connection.c_object());
}

void xpc_main(xpc_connection_handler_f handler) {
  service_main([handler](Connection peer) { handler(as_connection(peer.c_object())); });
}

}  // extern "C"
