// The wire codec (DESIGN 5.1): a Message (header fields + one body Object)
// to and from the bytes and fds of one SOCK_SEQPACKET datagram. Not here:
// sockets (transport.hpp) and what the messages mean (the protocols).
//
// Layout, little-endian, every value 8-byte aligned:
//   header (40 bytes): u32 magic "XPCD", u16 version, u16 flags,
//     u64 id, u64 reply_to, u64 body_length, u32 fd_count, u32 reserved(0)
//   body: one value. Each value starts with u32 tag, u32 small:
//     null 0 | bool 0/1 | int64, uint64, double, date: small 0 + 8 bytes |
//     data: small = length + bytes | string: small = length + bytes + NUL |
//     uuid: 16 bytes | array: small = count + values |
//     dictionary, error: small = count + entries (u32 key length, u32 0,
//       key + NUL, value) | fd, endpoint: small = fd index |
//     shmem: small = fd index + u64 size
//   Padding is zero. Each fd index appears exactly once; every fd sent is
//   referenced. A body over limits::kInlineBodyMax is not in the datagram:
//   it travels in a sealed memfd sent as the last fd (flag kOutOfLine).
//
// The decoder is total: any bytes and any fds give a Message or a
// CodecError, never a crash; every fd it is given is either owned by the
// returned objects or closed before it returns.
#pragma once

#include <xpc/export.h>
#include <xpc/object.hpp>
#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xpc::wire {

inline constexpr std::uint32_t kMagic = 0x44435058;  // "XPCD" little-endian
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 40;

enum Flags : std::uint16_t {
  kOutOfLine = 1u << 0,   // the body is in the last fd, a sealed memfd
  kWantsReply = 1u << 1,  // the sender awaits a message with reply_to == id
  kKnownFlags = kOutOfLine | kWantsReply,
};

enum class Tag : std::uint32_t {
  Null = 1,
  Bool,
  Int64,
  Uint64,
  Double,
  Date,
  Data,
  String,
  Uuid,
  Array,
  Dictionary,
  Fd,
  Shmem,
  Endpoint,
  Error,
};

enum class CodecErrc {
  // header and framing
  Truncated,            // fewer bytes than the header or a value needs
  BadMagic,
  UnsupportedVersion,
  UnknownFlags,
  ReservedNotZero,
  BodyLengthMismatch,   // header's body length disagrees with the datagram
  BodyTooLarge,         // over limits::kMaxBodySize
  TooManyFds,           // over limits::kMaxFds
  FdCountMismatch,      // fds received disagree with the header
  BodyNotMemfd,         // out-of-line body fd is not a memfd
  BodyNotSealed,        // out-of-line body memfd lacks the required seals
  BodyMapFailed,
  // body values
  UnknownType,
  BadBool,
  NonZeroPadding,
  StringNotTerminated,
  StringHasNul,
  KeyTooLong,
  DuplicateKey,
  TooDeep,              // over limits::kMaxDepth
  CountTooLarge,        // over limits::kMaxCollectionCount or the bytes left
  FdIndexOutOfRange,
  FdIndexReused,
  FdNotReferenced,
  ShmemNotMemfd,
  ShmemNotSealed,       // shmem memfd can still shrink: a mapping could fault
  ShmemTooLarge,        // declared size over the memfd's size or the limit
  EndpointNotSocket,
  TrailingBytes,
  // transport
  DatagramTruncated,    // MSG_TRUNC: the datagram was larger than allowed
  ControlTruncated,     // MSG_CTRUNC: more fds than the receiver accepts
  UnexpectedControl,    // ancillary data other than SCM_RIGHTS / credentials
  Closed,               // the peer closed the connection
  System,               // a system call failed; see CodecError::sys_errno
};

XPC_EXPORT std::string_view to_string(CodecErrc code) noexcept;

struct CodecError {
  CodecErrc code;
  std::string detail;  // where and what, e.g. "dictionary key \"a\": depth 65"
  int sys_errno = 0;

  // "too deep: dictionary key "a": depth 65 over the limit of 64"
  XPC_EXPORT std::string message() const;
};

// The sender of a received message as the kernel stamped it
// (SCM_CREDENTIALS, on sockets with SO_PASSCRED), not as it claims.
struct Credentials {
  std::int32_t pid = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

struct Message {
  std::uint64_t id = 0;
  std::uint64_t reply_to = 0;
  bool wants_reply = false;
  Object body;
  std::optional<Credentials> sender;  // set by receive() when the kernel attached it
};

// A message ready for sendmsg. `fds` are borrowed from the objects of the
// encoded body: keep the body alive until the datagram is sent.
struct Encoded {
  std::vector<std::byte> datagram;  // header, then the body when inline
  std::vector<int> fds;             // in index order
  UniqueFd body_memfd;              // the sealed body when out of line
};

// Encodes `message`. Fails when the body breaks a limit (the receiver would
// refuse it) or, for an out-of-line body, when the memfd cannot be made.
XPC_EXPORT Result<Encoded, CodecError> encode(const Message& message);

// Decodes one datagram and the fds that came with it (for an out-of-line
// body, its memfd is the last). Takes ownership of every fd.
XPC_EXPORT Result<Message, CodecError> decode(std::span<const std::byte> datagram, std::vector<UniqueFd> fds);

}  // namespace xpc::wire
