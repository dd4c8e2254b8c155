// Builds wire datagrams by hand, valid or not, for decoder tests: the
// header is filled in from the body unless a test overrides a field.
#pragma once

#include <xpc/codec.hpp>

#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace xpc::test {

class WireBuilder {
 public:
  explicit WireBuilder(std::uint32_t fd_count = 0) : fd_count_(fd_count) {}

  WireBuilder& u32(std::uint32_t v) { return put(v, 4); }
  WireBuilder& u64(std::uint64_t v) { return put(v, 8); }
  WireBuilder& value(wire::Tag tag, std::uint32_t small) { return u32(static_cast<std::uint32_t>(tag)).u32(small); }
  WireBuilder& raw(const char* bytes, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) body_.push_back(static_cast<std::byte>(bytes[i]));
    return *this;
  }
  WireBuilder& zeros(std::size_t n) {
    body_.insert(body_.end(), n, std::byte{0});
    return *this;
  }
  // A dictionary key: length, reserved, bytes, NUL, zero padding.
  WireBuilder& key(std::string_view k) {
    u32(static_cast<std::uint32_t>(k.size())).u32(0).raw(k.data(), k.size());
    return zeros((((k.size() + 1) + 7) & ~std::size_t{7}) - k.size());
  }

  void set_body_length(std::uint64_t n) { body_length_ = n; }
  void set_flags(std::uint16_t f) { flags_ = f; }
  void drop_body() { drop_body_ = true; }
  void patch16(std::size_t offset, std::uint16_t v) { patches_.push_back({offset, v, 2}); }
  void patch32(std::size_t offset, std::uint32_t v) { patches_.push_back({offset, v, 4}); }

  std::vector<std::byte> datagram() const {
    std::vector<std::byte> out(wire::kHeaderSize);
    store(out, 0, wire::kMagic, 4);
    store(out, 4, wire::kVersion, 2);
    store(out, 6, flags_, 2);
    store(out, 8, 1, 8);
    store(out, 24, body_length_ ? *body_length_ : body_.size(), 8);
    store(out, 32, fd_count_, 4);
    for (const auto& p : patches_) store(out, p.offset, p.value, p.width);
    if (!drop_body_) out.insert(out.end(), body_.begin(), body_.end());
    return out;
  }

 private:
  struct Patch {
    std::size_t offset;
    std::uint64_t value;
    int width;
  };

  WireBuilder& put(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) body_.push_back(static_cast<std::byte>(v >> (8 * i)));
    return *this;
  }
  static void store(std::vector<std::byte>& out, std::size_t offset, std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out[offset + static_cast<std::size_t>(i)] = static_cast<std::byte>(v >> (8 * i));
  }

  std::vector<std::byte> body_;
  std::uint32_t fd_count_;
  std::uint16_t flags_ = 0;
  std::optional<std::uint64_t> body_length_;
  bool drop_body_ = false;
  std::vector<Patch> patches_;
};

}  // namespace xpc::test
