// The encoder: measures the body (checking every limit), then writes it
// straight into its final buffer: the datagram, or a memfd mapping when the
// body goes out of line. One pass to size, one to write, no copy after.
#include "node.hpp"
#include "shmem.hpp"
#include "wire_format.hpp"

#include <xpc/codec.hpp>
#include <xpc/limits.hpp>

#include <sys/mman.h>
#include <sys/uio.h>

#include <algorithm>
#include <climits>

#include <cstring>
#include <optional>

namespace xpc::wire {

namespace {

// In an out-of-line body, data payloads of at least this size are not
// copied into the encode buffer: pwritev takes them straight from the
// object into the memfd, so they are copied once, by the kernel.
constexpr std::size_t kGatherMin = 16 * 1024;

class Measure {
 public:
  std::size_t bytes = 0;
  std::size_t fds = 0;
  std::size_t gather_bytes = 0;  // data payloads of kGatherMin or more
  std::optional<CodecError> error;

  void value(const Object& obj, std::size_t depth) {
    if (error) return;
    bytes += 8;
    switch (obj.type()) {
      case Type::Null:
      case Type::Bool: return;
      case Type::Int64:
      case Type::Uint64:
      case Type::Double:
      case Type::Date: bytes += 8; return;
      case Type::Data: {
        std::size_t n = obj.as_data()->size();
        bytes += pad8(n);
        if (n >= kGatherMin) gather_bytes += n;
        return;
      }
      case Type::String: string(*obj.as_string()); return;
      case Type::Uuid: bytes += 16; return;
      case Type::Array:
      case Type::Dictionary:
      case Type::Error: collection(obj, depth); return;
      case Type::Shmem: bytes += 8; [[fallthrough]];
      case Type::Fd:
      case Type::Endpoint: ++fds; return;
      case Type::Connection: fail(CodecErrc::UnknownType, "a connection cannot be sent in a message"); return;
    }
  }

 private:
  void fail(CodecErrc code, std::string detail) {
    if (!error) error = CodecError{code, std::move(detail)};
  }

  void string(std::string_view s) {
    if (s.find('\0') != std::string_view::npos) fail(CodecErrc::StringHasNul, "a string holds a NUL byte");
    bytes += pad8(s.size() + 1);
  }

  void collection(const Object& obj, std::size_t depth) {
    if (depth > limits::kMaxDepth) {
      fail(CodecErrc::TooDeep, "nesting depth " + std::to_string(depth));
      return;
    }
    if (obj.size() > limits::kMaxCollectionCount) {
      fail(CodecErrc::CountTooLarge, std::to_string(obj.size()) + " elements");
      return;
    }
    if (const Array* array = obj.as_array()) {
      for (const Object& e : *array) value(e, depth + 1);
      return;
    }
    for (const auto& [key, v] : *obj.as_dictionary()) {
      if (key.size() > limits::kMaxKeyLength) fail(CodecErrc::KeyTooLong, "key of " + std::to_string(key.size()) + " bytes");
      bytes += 8;
      string(key);
      value(v, depth + 1);
    }
  }
};

// A data payload left out of the encode buffer, to be inserted at `offset`.
struct Gathered {
  std::size_t offset;
  const std::byte* bytes;
  std::size_t length;
};

class Writer {
 public:
  Writer(std::byte* out, std::vector<int>& fds, std::vector<Gathered>* gathered = nullptr)
      : out_(out), fds_(fds), gathered_(gathered) {}

  void value(const Object& obj) {
    switch (obj.type()) {
      case Type::Null: head(Tag::Null, 0); return;
      case Type::Bool: head(Tag::Bool, *obj.as_bool() ? 1 : 0); return;
      case Type::Int64: scalar(Tag::Int64, static_cast<std::uint64_t>(*obj.as_int64())); return;
      case Type::Uint64: scalar(Tag::Uint64, *obj.as_uint64()); return;
      case Type::Double: {
        double d = *obj.as_double();
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        scalar(Tag::Double, bits);
        return;
      }
      case Type::Date: scalar(Tag::Date, static_cast<std::uint64_t>(obj.as_date()->time_since_epoch().count())); return;
      case Type::Data: {
        auto bytes = *obj.as_data();
        head(Tag::Data, static_cast<std::uint32_t>(bytes.size()));
        if (gathered_ != nullptr && bytes.size() >= kGatherMin) {
          gathered_->push_back({pos_, bytes.data(), bytes.size()});
          zeros(pad8(bytes.size()) - bytes.size());
        } else {
          padded(bytes.data(), bytes.size(), bytes.size());
        }
        return;
      }
      case Type::String: head(Tag::String, static_cast<std::uint32_t>(obj.as_string()->size())); text(*obj.as_string()); return;
      case Type::Uuid: head(Tag::Uuid, 0); padded(reinterpret_cast<const std::byte*>(obj.as_uuid()->data()), 16, 16); return;
      case Type::Array:
        head(Tag::Array, static_cast<std::uint32_t>(obj.size()));
        for (const Object& e : *obj.as_array()) value(e);
        return;
      case Type::Dictionary:
      case Type::Error: dictionary(obj); return;
      case Type::Fd: head(Tag::Fd, fd_index(obj)); return;
      case Type::Endpoint: head(Tag::Endpoint, fd_index(obj)); return;
      case Type::Shmem:
        head(Tag::Shmem, fd_index(obj));
        put_u64(obj.shmem_size());
        return;
      case Type::Connection: return;  // refused by Measure
    }
  }

  std::size_t written() const { return pos_; }

 private:
  void put_u32(std::uint32_t v) { store_le32(out_ + pos_, v); pos_ += 4; }
  void put_u64(std::uint64_t v) { store_le64(out_ + pos_, v); pos_ += 8; }
  void head(Tag tag, std::uint32_t small) { put_u32(static_cast<std::uint32_t>(tag)); put_u32(small); }
  void scalar(Tag tag, std::uint64_t bits) { head(tag, 0); put_u64(bits); }

  // Copies `n` bytes, then zeroes up to the 8-byte boundary after `span_len`.
  void padded(const std::byte* bytes, std::size_t n, std::size_t span_len) {
    if (n > 0) std::memcpy(out_ + pos_, bytes, n);
    std::size_t total = pad8(span_len);
    std::memset(out_ + pos_ + n, 0, total - n);
    pos_ += total;
  }
  void zeros(std::size_t n) {
    std::memset(out_ + pos_, 0, n);
    pos_ += n;
  }
  void text(std::string_view s) {
    // The NUL is part of the zero padding: pad8(len + 1) > len always.
    padded(reinterpret_cast<const std::byte*>(s.data()), s.size(), s.size() + 1);
  }

  void dictionary(const Object& obj) {
    head(obj.is(Type::Error) ? Tag::Error : Tag::Dictionary, static_cast<std::uint32_t>(obj.size()));
    for (const auto& [key, v] : *obj.as_dictionary()) {
      put_u32(static_cast<std::uint32_t>(key.size()));
      put_u32(0);
      text(key);
      value(v);
    }
  }

  std::uint32_t fd_index(const Object& obj) {
    fds_.push_back(obj.borrowed_fd());
    return static_cast<std::uint32_t>(fds_.size() - 1);
  }

  std::byte* out_;
  std::size_t pos_ = 0;
  std::vector<int>& fds_;
  std::vector<Gathered>* gathered_;
};

void write_header(std::byte* out, const Message& message, std::uint16_t flags, std::size_t body_length,
                  std::size_t fd_count) {
  store_le32(out + 0, kMagic);
  store_le16(out + 4, kVersion);
  store_le16(out + 6, flags);
  store_le64(out + 8, message.id);
  store_le64(out + 16, message.reply_to);
  store_le64(out + 24, body_length);
  store_le32(out + 32, static_cast<std::uint32_t>(fd_count));
  store_le32(out + 36, 0);
}

// Writes the iovecs in full, IOV_MAX at a time, resuming after short writes.
bool write_all(int fd, std::vector<iovec> iov) {
  std::size_t first = 0;
  off_t offset = 0;
  while (first < iov.size()) {
    int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::pwritev(fd, &iov[first], count, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += n;
    for (auto done = static_cast<std::size_t>(n); done > 0;) {
      std::size_t step = std::min(done, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + step;
      iov[first].iov_len -= step;
      done -= step;
      if (iov[first].iov_len == 0) ++first;
    }
    while (first < iov.size() && iov[first].iov_len == 0) ++first;
  }
  return true;
}

// The body goes into a fresh memfd by pwritev: the encoded structure from
// a buffer, large data payloads straight from their objects. Writing beats
// mapping the memfd and copying in: no page-table setup and teardown.
Result<UniqueFd, CodecError> write_out_of_line(const Object& body, const Measure& measure, std::vector<int>& fds) {
  std::vector<std::byte> buffer(measure.bytes - measure.gather_bytes);
  std::vector<Gathered> gathered;
  Writer(buffer.data(), fds, &gathered).value(body);

  std::vector<iovec> iov;
  std::size_t from = 0;
  for (const Gathered& g : gathered) {
    iov.push_back({buffer.data() + from, g.offset - from});
    iov.push_back({const_cast<std::byte*>(g.bytes), g.length});
    from = g.offset;
  }
  iov.push_back({buffer.data() + from, buffer.size() - from});

  UniqueFd memfd = UniqueFd::adopt(::memfd_create("xpc-body", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd || !write_all(memfd.get(), std::move(iov))) {
    return fail(CodecError{CodecErrc::System, "cannot write the body memfd", errno});
  }
  if (::fcntl(memfd.get(), F_ADD_SEALS, detail::kBodySeals) != 0) {
    return fail(CodecError{CodecErrc::System, "cannot seal the body memfd", errno});
  }
  return memfd;
}

}  // namespace

Result<Encoded, CodecError> encode(const Message& message) {
  Measure measure;
  measure.value(message.body, 1);
  if (measure.error) return fail(std::move(*measure.error));
  if (measure.bytes > limits::kMaxBodySize) {
    return fail(CodecError{CodecErrc::BodyTooLarge, std::to_string(measure.bytes) + " bytes"});
  }
  if (measure.fds > limits::kMaxFds) {
    return fail(CodecError{CodecErrc::TooManyFds, std::to_string(measure.fds) + " fds"});
  }

  Encoded out;
  out.fds.reserve(measure.fds);
  std::uint16_t flags = message.wants_reply ? kWantsReply : 0;
  if (measure.bytes <= limits::kInlineBodyMax) {
    out.datagram.resize(kHeaderSize + measure.bytes);
    Writer(out.datagram.data() + kHeaderSize, out.fds).value(message.body);
  } else {
    flags |= kOutOfLine;
    auto memfd = write_out_of_line(message.body, measure, out.fds);
    if (!memfd) return fail(std::move(memfd).error());
    out.body_memfd = std::move(memfd).value();
    out.datagram.resize(kHeaderSize);
  }
  write_header(out.datagram.data(), message, flags, measure.bytes, out.fds.size());
  return out;
}

}  // namespace xpc::wire
