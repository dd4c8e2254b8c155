// memfd helpers for shmem objects and out-of-line message bodies.
#include "shmem.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace xpc::detail {

UniqueFd create_memfd(const char* name, std::size_t size, std::byte** mapping) {
  UniqueFd fd = UniqueFd::adopt(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return {};
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return {};
  *mapping = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
    if (p == MAP_FAILED) return {};
    *mapping = static_cast<std::byte*>(p);
  }
  return fd;
}

UniqueFd sealed_memfd_with(std::span<const std::byte> bytes, const char* name) {
  std::byte* mapping = nullptr;
  UniqueFd fd = create_memfd(name, bytes.size(), &mapping);
  if (!fd) return {};
  if (mapping != nullptr) {
    std::memcpy(mapping, bytes.data(), bytes.size());
    ::munmap(mapping, bytes.size());
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK) != 0) return {};
  return fd;
}

int memfd_seals(int fd) noexcept { return ::fcntl(fd, F_GET_SEALS); }

std::int64_t file_size(int fd) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return -1;
  return st.st_size;
}

std::shared_ptr<const std::byte> map_readonly(int fd, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  return std::shared_ptr<const std::byte>(static_cast<const std::byte*>(p),
                                          [size](const std::byte* q) { ::munmap(const_cast<std::byte*>(q), size); });
}

}  // namespace xpc::detail
