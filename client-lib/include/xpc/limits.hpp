// Every limit of the wire codec, with the reason for its value. The encoder
// and the decoder both enforce them, so a sender learns of a message the
// receiver would refuse before it sends it. Tests check each at N and N+1.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xpc::limits {

// Nesting depth of arrays, dictionaries and errors; the root is depth 1.
// The decoder recurses once per level, so this bounds its stack use. Deep
// nesting is the classic XPC bug report ("too many nested collections");
// 64 is far beyond any real message and costs well under 64 KiB of stack.
inline constexpr std::size_t kMaxDepth = 64;

// A body larger than this travels out of line in a sealed memfd. 64 KiB
// keeps inline datagrams well under the default AF_UNIX send buffer
// (net.core.wmem_default, 208 KiB), so a send never fails for size alone,
// and makes a big payload cost one mmap instead of a copy through the socket.
inline constexpr std::size_t kInlineBodyMax = 64 * 1024;

// The largest body, inline or out of line. It bounds what one message can
// make a receiver map and allocate. 64 MiB allows large blobs; bigger data
// belongs in a shmem object, which is mapped only on demand.
inline constexpr std::size_t kMaxBodySize = 64 * 1024 * 1024;

// File descriptors per message, fd/shmem/endpoint objects together. The
// kernel passes at most SCM_MAX_FD (253) fds per sendmsg; one slot is kept
// for the out-of-line body memfd.
inline constexpr std::size_t kMaxFds = 252;

// Elements of one array or entries of one dictionary. Also bounded by the
// body size (every element takes at least 8 bytes); this bound keeps a
// single collection's allocation small even when the body is large.
inline constexpr std::size_t kMaxCollectionCount = 1024 * 1024;

// Length of a dictionary key in bytes, without the terminating NUL. Keys
// are identifiers; a megabyte key is an attack, not a message.
inline constexpr std::size_t kMaxKeyLength = 1024;

// Size of a shmem region, checked against the memfd's real size on receipt.
inline constexpr std::uint64_t kMaxShmemSize = std::uint64_t{1} << 32;

}  // namespace xpc::limits
