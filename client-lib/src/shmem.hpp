// memfd helpers for shmem objects and out-of-line message bodies. Internal.
#pragma once

#include <xpc/unique_fd.hpp>

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace xpc::detail {

// Seals every out-of-line body carries: the sender can no longer change,
// shrink or grow it once sent, so the receiver decodes what was sent.
inline constexpr int kBodySeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// A new memfd (CLOEXEC, sealing allowed) of exactly `size` bytes, mapped
// read-write into *mapping. Invalid fd (errno set) on failure.
UniqueFd create_memfd(const char* name, std::size_t size, std::byte** mapping);

// A memfd holding a copy of `bytes`, sealed against shrinking (so a mapping
// of it can never fault) but writable: shmem is shared memory.
UniqueFd sealed_memfd_with(std::span<const std::byte> bytes, const char* name);

// The seals on a memfd, or -1 when fd is not a memfd (or shmem file).
int memfd_seals(int fd) noexcept;

// The size of the file behind fd, or -1.
std::int64_t file_size(int fd) noexcept;

// A read-only private view of the first `size` (> 0) bytes of fd, unmapped
// when the last owner goes away. nullptr (errno set) on failure.
std::shared_ptr<const std::byte> map_readonly(int fd, std::size_t size);

}  // namespace xpc::detail
