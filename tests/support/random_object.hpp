// Random XPC objects for property tests: every type, nested to a chosen
// depth, from a seeded generator so a failure replays exactly.
#pragma once

#include <xpc/object.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

namespace xpc::test {

class RandomObjects {
 public:
  explicit RandomObjects(std::uint64_t seed) : rng_(seed) {}

  // with_fds: include fd and shmem objects (each a fresh fd).
  Object make(int depth, bool with_fds) {
    // 0-9 plain values, 10-12 fd-carrying ones, 13-14 collections.
    std::vector<int> kinds{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    if (with_fds) kinds.insert(kinds.end(), {10, 11, 12});
    if (depth > 0) kinds.insert(kinds.end(), {13, 14, 13, 14, 13, 14});
    switch (kinds[static_cast<std::size_t>(pick(0, static_cast<int>(kinds.size()) - 1))]) {
      case 0: return Object();
      case 1: return Object(pick(0, 1) == 1);
      case 2: return Object::int64(static_cast<std::int64_t>(rng_()));
      case 3: return Object::uint64(rng_());
      case 4: return Object::real(std::uniform_real_distribution<double>(-1e9, 1e9)(rng_));
      case 5: return Object::date(Date(std::chrono::nanoseconds(static_cast<std::int64_t>(rng_() >> 1))));
      case 6: return Object::data(text(pick(0, 40), 0));
      case 7: return Object::string(text(pick(0, 40), 1));
      case 8: {
        Uuid u;
        for (auto& b : u) b = static_cast<std::uint8_t>(rng_());
        return Object::uuid(u);
      }
      case 9: return Object::error("code", text(pick(0, 20), 1));
      case 10: return Object::fd_dup(STDERR_FILENO);
      case 11: return Object::shmem_copy(std::as_bytes(std::span("shmem", 5)));
      case 12: return Object::fd_dup(STDIN_FILENO);
      case 13: {
        Array values;
        for (int i = pick(0, 5); i > 0; --i) values.push_back(make(depth - 1, with_fds));
        return Object(std::move(values));
      }
      default: {
        Dictionary entries;
        for (int i = pick(0, 5); i > 0; --i) entries.insert_or_assign(text(pick(0, 12), 1), make(depth - 1, with_fds));
        return Object(std::move(entries));
      }
    }
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // Random bytes; `min_byte` 1 keeps NULs out of strings and keys.
  std::string text(int length, int min_byte) {
    std::string s;
    for (int i = 0; i < length; ++i) s += static_cast<char>(pick(min_byte, 255));
    return s;
  }

  std::mt19937_64 rng_;
};

}  // namespace xpc::test
