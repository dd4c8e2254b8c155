// The decoder: total over any bytes and any fds. Every read is bounds
// checked against the body, every count against the bytes left and the
// limits, every fd against its use. Fds are owned by `fds_` until an object
// takes one, so an error at any point closes everything not yet handed out
// and everything handed out goes with the partial objects.
#include "node.hpp"
#include "shmem.hpp"
#include "wire_format.hpp"

#include <xpc/codec.hpp>
#include <xpc/limits.hpp>

#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>

namespace xpc::wire {

namespace {

using Decoded = Result<Object, CodecError>;

CodecError err(CodecErrc code, std::string detail) { return CodecError{code, std::move(detail)}; }

class Decoder {
 public:
  Decoder(std::span<const std::byte> body, std::vector<UniqueFd>& fds, std::shared_ptr<const std::byte> owner)
      : body_(body), fds_(fds), used_(fds.size(), false), owner_(std::move(owner)) {}

  Result<Object, CodecError> root() {
    Decoded value = this->value(1);
    if (!value) return value;
    if (pos_ != body_.size()) {
      return fail(err(CodecErrc::TrailingBytes, std::to_string(body_.size() - pos_) + " bytes after the body"));
    }
    for (std::size_t i = 0; i < used_.size(); ++i) {
      if (!used_[i]) return fail(err(CodecErrc::FdNotReferenced, "fd " + std::to_string(i)));
    }
    return value;
  }

 private:
  std::size_t left() const { return body_.size() - pos_; }
  const std::byte* here() const { return body_.data() + pos_; }

  bool need(std::size_t n) const { return left() >= n; }
  std::uint32_t u32() { std::uint32_t v = load_le32(here()); pos_ += 4; return v; }
  std::uint64_t u64() { std::uint64_t v = load_le64(here()); pos_ += 8; return v; }

  // Where the decoder is, for error messages only: built when one is made,
  // so the success path pays for a push and a pop per element, no strings.
  struct PathElem {
    std::string_view key;  // empty for an array element
    std::uint32_t index;
  };

  std::string where() const {
    std::string out = "body";
    for (const PathElem& e : path_) {
      if (e.key.data() != nullptr) {
        out += '.';
        out += e.key;
      } else {
        out += '[' + std::to_string(e.index) + ']';
      }
    }
    return out;
  }

  CodecError truncated() const {
    return err(CodecErrc::Truncated, where() + " at offset " + std::to_string(pos_));
  }

  Decoded value(std::size_t depth) {
    if (!need(8)) return fail(truncated());
    auto tag = static_cast<Tag>(u32());
    std::uint32_t small = u32();
    switch (tag) {
      case Tag::Null: return zero_small(small, Object());
      case Tag::Bool:
        if (small > 1) return fail(err(CodecErrc::BadBool, where() + ": " + std::to_string(small)));
        return Object(small == 1);
      case Tag::Int64: return scalar(small, [](std::uint64_t v) { return Object::int64(static_cast<std::int64_t>(v)); });
      case Tag::Uint64: return scalar(small, [](std::uint64_t v) { return Object::uint64(v); });
      case Tag::Double:
        return scalar(small, [](std::uint64_t v) {
          double d;
          std::memcpy(&d, &v, sizeof d);
          return Object::real(d);
        });
      case Tag::Date:
        return scalar(small, [](std::uint64_t v) {
          return Object::date(Date(std::chrono::nanoseconds(static_cast<std::int64_t>(v))));
        });
      case Tag::Data: return data(small);
      case Tag::String: {
        auto s = text(small);
        if (!s) return fail(std::move(s).error());
        return Object::string(*s);
      }
      case Tag::Uuid: return uuid(small);
      case Tag::Array: return array(small, depth);
      case Tag::Dictionary: return dictionary(small, depth, Type::Dictionary);
      case Tag::Error: return dictionary(small, depth, Type::Error);
      case Tag::Fd: return fd(small);
      case Tag::Shmem: return shmem(small);
      case Tag::Endpoint: return endpoint(small);
    }
    return fail(err(CodecErrc::UnknownType, where() + ": type tag " + std::to_string(static_cast<std::uint32_t>(tag))));
  }

  Decoded zero_small(std::uint32_t small, Object value) {
    if (small != 0) return fail(err(CodecErrc::NonZeroPadding, where() + ": header field"));
    return value;
  }

  template <typename Make>
  Decoded scalar(std::uint32_t small, Make make) {
    if (small != 0) return fail(err(CodecErrc::NonZeroPadding, where() + ": header field"));
    if (!need(8)) return fail(truncated());
    return make(u64());
  }

  // Checks that the padding after `n` payload bytes is zero and skips it.
  bool padding_ok(std::size_t n) const {
    for (std::size_t i = n; i < pad8(n); ++i) {
      if (here()[i] != std::byte{0}) return false;
    }
    return true;
  }

  Decoded data(std::uint32_t length) {
    if (!need(pad8(length))) return fail(truncated());
    if (!padding_ok(length)) return fail(err(CodecErrc::NonZeroPadding, where()));
    Object obj;
    if (owner_ != nullptr) {
      // Out-of-line body: share the mapping instead of copying the bytes.
      detail::DataPayload payload{owner_, here(), length};
      obj = Object::adopt(detail::make_node(Type::Data, std::move(payload)));
    } else {
      obj = Object::data(std::span(here(), length));
    }
    pos_ += pad8(length);
    return obj;
  }

  Result<std::string_view, CodecError> text(std::uint32_t length) {
    std::size_t total = pad8(std::size_t{length} + 1);
    if (!need(total)) return fail(truncated());
    std::string_view s(reinterpret_cast<const char*>(here()), length);
    if (s.find('\0') != std::string_view::npos) return fail(err(CodecErrc::StringHasNul, where()));
    if (here()[length] != std::byte{0}) return fail(err(CodecErrc::StringNotTerminated, where()));
    if (!padding_ok(std::size_t{length} + 1)) return fail(err(CodecErrc::NonZeroPadding, where()));
    pos_ += total;
    return s;
  }

  Decoded uuid(std::uint32_t small) {
    if (small != 0) return fail(err(CodecErrc::NonZeroPadding, where() + ": header field"));
    if (!need(16)) return fail(truncated());
    Uuid u;
    std::memcpy(u.data(), here(), u.size());
    pos_ += 16;
    return Object::uuid(u);
  }

  // Every element takes at least 8 bytes: a count the bytes left cannot
  // hold is refused before anything is allocated for it.
  bool count_ok(std::uint32_t count, std::size_t per_element) const {
    return count <= limits::kMaxCollectionCount && std::size_t{count} * per_element <= left();
  }

  Decoded array(std::uint32_t count, std::size_t depth) {
    if (depth > limits::kMaxDepth) return fail(too_deep(depth));
    if (!count_ok(count, 8)) return fail(err(CodecErrc::CountTooLarge, where() + ": " + std::to_string(count) + " elements"));
    Array values;
    values.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      path_.push_back(PathElem{{}, i});
      Decoded v = value(depth + 1);
      if (!v) return v;
      path_.pop_back();
      values.push_back(std::move(v).value());
    }
    return Object(std::move(values));
  }

  Decoded dictionary(std::uint32_t count, std::size_t depth, Type type) {
    if (depth > limits::kMaxDepth) return fail(too_deep(depth));
    if (!count_ok(count, 24)) return fail(err(CodecErrc::CountTooLarge, where() + ": " + std::to_string(count) + " entries"));
    Dictionary entries;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!need(8)) return fail(truncated());
      std::uint32_t key_length = u32();
      if (u32() != 0) return fail(err(CodecErrc::NonZeroPadding, where() + ": key header"));
      if (key_length > limits::kMaxKeyLength) {
        return fail(err(CodecErrc::KeyTooLong, where() + ": key of " + std::to_string(key_length) + " bytes"));
      }
      auto key = text(key_length);
      if (!key) return fail(std::move(key).error());
      path_.push_back(PathElem{*key, 0});
      if (entries.find(*key) != entries.end()) return fail(err(CodecErrc::DuplicateKey, where()));
      Decoded v = value(depth + 1);
      if (!v) return v;
      path_.pop_back();
      entries.emplace(std::string(*key), std::move(v).value());
    }
    if (type == Type::Dictionary) return Object(std::move(entries));
    return Object::adopt(detail::make_node(Type::Error, std::move(entries)));
  }

  CodecError too_deep(std::size_t depth) const {
    return err(CodecErrc::TooDeep, where() + ": depth " + std::to_string(depth));
  }

  Result<UniqueFd, CodecError> take_fd(std::uint32_t index) {
    if (index >= fds_.size()) {
      return fail(err(CodecErrc::FdIndexOutOfRange, where() + ": fd " + std::to_string(index) + " of " + std::to_string(fds_.size())));
    }
    if (used_[index]) return fail(err(CodecErrc::FdIndexReused, where() + ": fd " + std::to_string(index)));
    used_[index] = true;
    return std::move(fds_[index]);
  }

  Decoded fd(std::uint32_t index) {
    auto fd = take_fd(index);
    if (!fd) return fail(std::move(fd).error());
    return Object::fd(std::move(fd).value());
  }

  Decoded shmem(std::uint32_t index) {
    if (!need(8)) return fail(truncated());
    std::uint64_t size = u64();
    auto fd = take_fd(index);
    if (!fd) return fail(std::move(fd).error());
    int seals = detail::memfd_seals(fd->get());
    if (seals < 0) return fail(err(CodecErrc::ShmemNotMemfd, where()));
    if ((seals & F_SEAL_SHRINK) == 0) return fail(err(CodecErrc::ShmemNotSealed, where()));
    std::int64_t actual = detail::file_size(fd->get());
    if (size > limits::kMaxShmemSize || actual < 0 || size > static_cast<std::uint64_t>(actual)) {
      return fail(err(CodecErrc::ShmemTooLarge, where() + ": " + std::to_string(size) + " bytes declared, " +
                                                    std::to_string(actual) + " in the memfd"));
    }
    return Object::shmem(std::move(fd).value(), static_cast<std::size_t>(size));
  }

  Decoded endpoint(std::uint32_t index) {
    auto fd = take_fd(index);
    if (!fd) return fail(std::move(fd).error());
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd->get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET) {
      return fail(err(CodecErrc::EndpointNotSocket, where()));
    }
    return Object::endpoint(std::move(fd).value());
  }

  std::span<const std::byte> body_;
  std::size_t pos_ = 0;
  std::vector<UniqueFd>& fds_;
  std::vector<bool> used_;
  std::shared_ptr<const std::byte> owner_;  // the mapping of an out-of-line body
  std::vector<PathElem> path_;
};

struct Header {
  std::uint16_t flags;
  std::uint64_t id;
  std::uint64_t reply_to;
  std::uint64_t body_length;
  std::uint32_t fd_count;
};

Result<Header, CodecError> read_header(std::span<const std::byte> datagram) {
  if (datagram.size() < kHeaderSize) {
    return fail(err(CodecErrc::Truncated, "header of " + std::to_string(datagram.size()) + " bytes"));
  }
  const std::byte* p = datagram.data();
  if (load_le32(p) != kMagic) return fail(err(CodecErrc::BadMagic, "header"));
  if (load_le16(p + 4) != kVersion) return fail(err(CodecErrc::UnsupportedVersion, "version " + std::to_string(load_le16(p + 4))));
  Header h{load_le16(p + 6), load_le64(p + 8), load_le64(p + 16), load_le64(p + 24), load_le32(p + 32)};
  if ((h.flags & ~kKnownFlags) != 0) return fail(err(CodecErrc::UnknownFlags, "flags " + std::to_string(h.flags)));
  if (load_le32(p + 36) != 0) return fail(err(CodecErrc::ReservedNotZero, "header"));
  if (h.body_length > limits::kMaxBodySize) return fail(err(CodecErrc::BodyTooLarge, std::to_string(h.body_length) + " bytes"));
  if (h.fd_count > limits::kMaxFds) return fail(err(CodecErrc::TooManyFds, std::to_string(h.fd_count) + " fds"));
  return h;
}

// Maps and checks the sealed memfd of an out-of-line body.
Result<std::shared_ptr<const std::byte>, CodecError> map_body(const UniqueFd& memfd, std::uint64_t length) {
  int seals = detail::memfd_seals(memfd.get());
  if (seals < 0) return fail(err(CodecErrc::BodyNotMemfd, "out-of-line body"));
  constexpr int kRequired = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  if ((seals & kRequired) != kRequired) return fail(err(CodecErrc::BodyNotSealed, "out-of-line body"));
  if (detail::file_size(memfd.get()) != static_cast<std::int64_t>(length) || length == 0) {
    return fail(err(CodecErrc::BodyLengthMismatch, "out-of-line body"));
  }
  auto mapping = detail::map_readonly(memfd.get(), length);
  if (mapping == nullptr) return fail(CodecError{CodecErrc::BodyMapFailed, "out-of-line body", errno});
  return mapping;
}

}  // namespace

Result<Message, CodecError> decode(std::span<const std::byte> datagram, std::vector<UniqueFd> fds) {
  auto header = read_header(datagram);
  if (!header) return fail(std::move(header).error());
  const Header& h = *header;
  bool out_of_line = (h.flags & kOutOfLine) != 0;
  std::size_t expected_fds = h.fd_count + (out_of_line ? 1 : 0);
  if (fds.size() != expected_fds) {
    return fail(err(CodecErrc::FdCountMismatch, std::to_string(fds.size()) + " fds received, " +
                                                   std::to_string(expected_fds) + " expected"));
  }

  std::span<const std::byte> body;
  std::shared_ptr<const std::byte> mapping;
  if (out_of_line) {
    if (datagram.size() != kHeaderSize) return fail(err(CodecErrc::BodyLengthMismatch, "inline bytes with an out-of-line body"));
    UniqueFd memfd = std::move(fds.back());
    fds.pop_back();
    auto mapped = map_body(memfd, h.body_length);
    if (!mapped) return fail(std::move(mapped).error());
    mapping = std::move(mapped).value();
    body = std::span(mapping.get(), h.body_length);
  } else {
    if (h.body_length > limits::kInlineBodyMax) return fail(err(CodecErrc::BodyTooLarge, "inline body of " + std::to_string(h.body_length) + " bytes"));
    if (datagram.size() - kHeaderSize != h.body_length) {
      return fail(err(CodecErrc::BodyLengthMismatch, std::to_string(datagram.size() - kHeaderSize) +
                                                        " body bytes, header says " + std::to_string(h.body_length)));
    }
    body = datagram.subspan(kHeaderSize);
  }

  auto root = Decoder(body, fds, std::move(mapping)).root();
  if (!root) return fail(std::move(root).error());
  return Message{h.id, h.reply_to, (h.flags & kWantsReply) != 0, std::move(root).value()};
}

}  // namespace xpc::wire
