// xpc::UniqueFd: the one owning file-descriptor type. Move-only; a raw int
// becomes owned only through UniqueFd::adopt. Borrowed fds are plain int.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace xpc {

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  static UniqueFd adopt(int fd) noexcept { return UniqueFd(fd); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Gives up ownership; the caller now owns the returned fd.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

  // A new owning fd for the same open file, CLOEXEC; invalid on failure
  // (errno set).
  UniqueFd dup() const noexcept { return fd_ < 0 ? UniqueFd() : adopt(::fcntl(fd_, F_DUPFD_CLOEXEC, 0)); }

 private:
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace xpc
