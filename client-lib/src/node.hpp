// The storage behind every XPC object: a reference-counted node holding the
// type and its payload. The C API hands out pointers to nodes; xpc::Object
// holds one reference. Internal to libxpc.
#pragma once

#include <xpc/object.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <variant>

namespace xpc::detail {

class TransactionToken;

class ConnectionImpl;

struct NullPayload {};

struct DatePayload {
  std::int64_t ns;
};

// Bytes that may live in memory another object owns (a mapped out-of-line
// body), so decoding a large blob does not copy it.
struct DataPayload {
  std::shared_ptr<const void> owner;
  const std::byte* bytes = nullptr;
  std::size_t length = 0;
};

struct UuidPayload {
  Uuid bytes;
};

struct FdPayload {
  UniqueFd fd;
};

struct ShmemPayload {
  UniqueFd fd;
  std::size_t size = 0;
};

struct EndpointPayload {
  UniqueFd fd;
};

// The handle of a connection. Destroying it tells the state that this
// handle is gone (the state outlives it while the loop watches it).
struct ConnectionPayload {
  std::shared_ptr<ConnectionImpl> impl;
  const xpc_object_s* node = nullptr;  // the node holding this payload
  explicit ConnectionPayload(std::shared_ptr<ConnectionImpl> i) : impl(std::move(i)) {}
  ConnectionPayload(ConnectionPayload&&) noexcept = default;
  ConnectionPayload& operator=(ConnectionPayload&&) noexcept = default;
  ~ConnectionPayload();
};

using Payload = std::variant<NullPayload, bool, std::int64_t, std::uint64_t, double, DatePayload,
                             DataPayload, std::string, UuidPayload, Array, Dictionary, FdPayload,
                             ShmemPayload, EndpointPayload, ConnectionPayload>;

// What a dictionary knows about the message it arrived as, or the message
// it answers: how replies find their way (xpc_dictionary_create_reply,
// xpc_dictionary_get_remote_connection).
struct MessageContext {
  Object connection;  // the handle of the connection it arrived on
  std::uint64_t id = 0;        // of the received message
  bool wants_reply = false;    // the sender awaits a reply to id
  std::uint64_t reply_to = 0;  // set on a reply being built
  // The automatic transaction of a received message awaiting a reply,
  // shared with the replies made from it (transactions.hpp).
  std::shared_ptr<TransactionToken> transaction;
};

}  // namespace xpc::detail

struct xpc_object_s {
  xpc::Type type;
  // Immortal nodes (null, the two booleans, the well-known errors) ignore
  // retain and release.
  bool immortal = false;
  std::atomic<std::int32_t> refs{1};
  xpc::detail::Payload payload;
  std::shared_ptr<xpc::detail::MessageContext> context;  // dictionaries only

  xpc_object_s(xpc::Type t, xpc::detail::Payload p, bool is_immortal = false)
      : type(t), immortal(is_immortal), payload(std::move(p)) {}
};

namespace xpc::detail {

inline xpc_object_s* retain(xpc_object_s* node) noexcept {
  if (!node->immortal) node->refs.fetch_add(1, std::memory_order_relaxed);
  return node;
}

// Retains unless the count already reached zero (the node is being
// destroyed): for back-pointers that the owner clears on destruction.
inline bool try_retain(xpc_object_s* node) noexcept {
  std::int32_t n = node->refs.load(std::memory_order_relaxed);
  while (n > 0) {
    if (node->refs.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

inline void release(xpc_object_s* node) noexcept {
  if (node->immortal) return;
  if (node->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete node;
}

inline xpc_object_s* make_node(Type type, Payload payload) {
  return new xpc_object_s(type, std::move(payload));
}

inline xpc_object_s* node_of(xpc_object_t object) noexcept {
  return static_cast<xpc_object_s*>(object);
}

// The immortal singletons.
xpc_object_s* null_node() noexcept;
xpc_object_s* bool_node(bool value) noexcept;

template <typename T>
T* payload_if(xpc_object_s* node) noexcept {
  return node == nullptr ? nullptr : std::get_if<T>(&node->payload);
}
template <typename T>
const T* payload_if(const xpc_object_s* node) noexcept {
  return node == nullptr ? nullptr : std::get_if<T>(&node->payload);
}

// Dictionaries and errors share the payload type.
inline bool is_dictionary_like(const xpc_object_s* node) noexcept {
  return node != nullptr && (node->type == Type::Dictionary || node->type == Type::Error);
}

}  // namespace xpc::detail
