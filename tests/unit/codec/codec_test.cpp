// The wire codec: round trips, every limit at N and N+1, every decoder
// error, and no fd leaked on any path.
#include "wire_builder.hpp"

#include <doctest/doctest.h>
#include <fd_count.hpp>
#include <random_object.hpp>
#include <xpc/codec.hpp>
#include <xpc/limits.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace xpc;
using namespace xpc::wire;
using xpc::test::WireBuilder;

namespace {

// Encodes, hands the fds over as a receiver would get them (duplicates),
// and decodes.
Result<Message, CodecError> round_trip(const Message& message) {
  auto encoded = encode(message);
  if (!encoded) return fail(std::move(encoded).error());
  std::vector<UniqueFd> fds;
  for (int fd : encoded->fds) fds.push_back(UniqueFd::adopt(fcntl(fd, F_DUPFD_CLOEXEC, 0)));
  if (encoded->body_memfd) fds.push_back(encoded->body_memfd.dup());
  return decode(encoded->datagram, std::move(fds));
}

Object round_trip_body(const Object& body) {
  auto decoded = round_trip(Message{1, 0, false, body});
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().message());
  return decoded->body;
}

CodecErrc decode_error(const WireBuilder& b, std::vector<UniqueFd> fds = {}) {
  auto decoded = decode(b.datagram(), std::move(fds));
  REQUIRE_MESSAGE(!decoded.ok(), "decoded a message that should be refused");
  return decoded.error().code;
}

CodecErrc encode_error(const Object& body) {
  auto encoded = encode(Message{1, 0, false, body});
  REQUIRE_MESSAGE(!encoded.ok(), "encoded a message that should be refused");
  return encoded.error().code;
}

Object nested_arrays(std::size_t depth) {
  Object obj = Object::array();
  for (std::size_t i = 1; i < depth; ++i) obj = Object::array({obj});
  return obj;
}

UniqueFd pipe_read_end() {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  close(p[1]);
  return UniqueFd::adopt(p[0]);
}

UniqueFd memfd_of(std::size_t size, unsigned seals) {
  UniqueFd fd = UniqueFd::adopt(memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  REQUIRE(ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
  if (seals != 0) REQUIRE(fcntl(fd.get(), F_ADD_SEALS, seals) == 0);
  return fd;
}

}  // namespace

TEST_CASE("every type survives a round trip") {
  int before = xpc::test::open_fd_count();
  {
    Uuid u{};
    for (std::size_t i = 0; i < u.size(); ++i) u[i] = static_cast<std::uint8_t>(i * 17);
    Object body{
        {"null", Object()},
        {"bool", true},
        {"int64", std::int64_t{-9'000'000'000}},
        {"uint64", std::uint64_t{18'000'000'000'000'000'000u}},
        {"double", -0.125},
        {"date", Object::date(Date(std::chrono::nanoseconds(-1)))},
        {"data", Object::data(std::string_view("\0\1\2", 3))},
        {"string", "héllo"},
        {"empty", ""},
        {"uuid", Object::uuid(u)},
        {"array", Object::array({1, Object::array(), Object::dictionary()})},
        {"", "empty key"},
        {"fd", Object::fd(pipe_read_end())},
        {"shmem", Object::shmem_copy(std::as_bytes(std::span("abc", 3)))},
        {"error", Object::error("invalid", "gone")},
    };
    int sock[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) == 0);
    body["endpoint"] = Object::endpoint(UniqueFd::adopt(sock[0]));
    close(sock[1]);

    Object back = round_trip_body(body);
    CHECK(back == body);
    CHECK(back["fd"].borrowed_fd() != body["fd"].borrowed_fd());
    CHECK(back["error"].is(Type::Error));
    CHECK(back["shmem"].shmem_size() == 3);
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("header fields survive a round trip") {
  auto decoded = round_trip(Message{0xfeedfacecafebeefULL, 77, true, Object{{"k", 1}}});
  REQUIRE(decoded.ok());
  CHECK(decoded->id == 0xfeedfacecafebeefULL);
  CHECK(decoded->reply_to == 77);
  CHECK(decoded->wants_reply);
}

TEST_CASE("random nested objects survive a round trip (property, fixed seed)") {
  int before = xpc::test::open_fd_count();
  xpc::test::RandomObjects random(20261124);
  for (int i = 0; i < 300; ++i) {
    Object body = random.make(5, i % 3 == 0);
    Object back = round_trip_body(body);
    REQUIRE_MESSAGE(back == body, "case " << i << ": " << body.description());
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("the encoding is canonical: re-encoding a decoded message gives the same bytes") {
  xpc::test::RandomObjects random(7);
  for (int i = 0; i < 100; ++i) {
    Message m{static_cast<std::uint64_t>(i), 0, false, random.make(4, false)};
    auto first = encode(m);
    REQUIRE(first.ok());
    auto decoded = decode(first->datagram, {});
    REQUIRE(decoded.ok());
    auto second = encode(*decoded);
    REQUIRE(second.ok());
    CHECK(first->datagram == second->datagram);
  }
}

TEST_CASE("a body over the inline threshold goes out of line in a sealed memfd") {
  // A data value of n bytes takes 8 + pad8(n) body bytes.
  constexpr std::size_t kAtLimit = limits::kInlineBodyMax - 8;
  SUBCASE("N: inline") {
    auto e = encode(Message{1, 0, false, Object::data(std::string(kAtLimit, 'x'))});
    REQUIRE(e.ok());
    CHECK_FALSE(e->body_memfd.valid());
    CHECK(e->datagram.size() == kHeaderSize + limits::kInlineBodyMax);
  }
  SUBCASE("N+1: out of line, sealed, and decoded without a copy") {
    Object blob = Object::data(std::string(kAtLimit + 1, 'y'));
    auto e = encode(Message{1, 0, false, blob});
    REQUIRE(e.ok());
    REQUIRE(e->body_memfd.valid());
    CHECK(e->datagram.size() == kHeaderSize);
    int seals = fcntl(e->body_memfd.get(), F_GET_SEALS);
    CHECK((seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
          (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
    CHECK(write(e->body_memfd.get(), "z", 1) == -1);  // the sender cannot change it now
    std::vector<UniqueFd> fds;
    fds.push_back(e->body_memfd.dup());
    auto d = decode(e->datagram, std::move(fds));
    REQUIRE(d.ok());
    CHECK(d->body == blob);
  }
}

TEST_CASE("limit: nesting depth") {
  CHECK(round_trip_body(nested_arrays(limits::kMaxDepth)) == nested_arrays(limits::kMaxDepth));
  CHECK(encode_error(nested_arrays(limits::kMaxDepth + 1)) == CodecErrc::TooDeep);

  // A hostile sender skips the encoder's check; the decoder refuses too.
  WireBuilder b;
  for (std::size_t i = 0; i < limits::kMaxDepth + 1; ++i) b.value(Tag::Array, 1);
  b.value(Tag::Null, 0);
  CHECK(decode_error(b) == CodecErrc::TooDeep);

  WireBuilder ok;
  for (std::size_t i = 0; i < limits::kMaxDepth; ++i) ok.value(Tag::Array, 1);
  ok.value(Tag::Null, 0);
  CHECK(decode(ok.datagram(), {}).ok());
}

TEST_CASE("limit: key length") {
  Object at{{std::string(limits::kMaxKeyLength, 'k'), 1}};
  CHECK(round_trip_body(at) == at);
  CHECK(encode_error(Object{{std::string(limits::kMaxKeyLength + 1, 'k'), 1}}) == CodecErrc::KeyTooLong);
  WireBuilder b;
  b.value(Tag::Dictionary, 1).key(std::string(limits::kMaxKeyLength + 1, 'k')).value(Tag::Null, 0);
  CHECK(decode_error(b) == CodecErrc::KeyTooLong);
}

TEST_CASE("limit: fds per message") {
  int before = xpc::test::open_fd_count();
  {
    Object at = Object::array();
    for (std::size_t i = 0; i < limits::kMaxFds; ++i) at.push_back(Object::fd_dup(STDERR_FILENO));
    auto back = round_trip_body(at);
    CHECK(back.size() == limits::kMaxFds);
    at.push_back(Object::fd_dup(STDERR_FILENO));
    CHECK(encode_error(at) == CodecErrc::TooManyFds);
    WireBuilder b(static_cast<std::uint32_t>(limits::kMaxFds + 1));
    b.value(Tag::Null, 0);
    CHECK(decode_error(b) == CodecErrc::TooManyFds);
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("limit: body size") {
  // One data value whose body is exactly the limit, then 8 bytes more.
  constexpr std::size_t kAtLimit = limits::kMaxBodySize - 8;
  std::string big(kAtLimit, 'b');
  auto at = encode(Message{1, 0, false, Object::data(big)});
  REQUIRE(at.ok());
  big.append(8, 'b');
  CHECK(encode_error(Object::data(big)) == CodecErrc::BodyTooLarge);
  WireBuilder b;
  b.value(Tag::Null, 0);
  b.set_body_length(limits::kMaxBodySize + 1);
  CHECK(decode_error(b) == CodecErrc::BodyTooLarge);
}

TEST_CASE("limit: elements in one collection") {
  Object at = Object::array(Array(limits::kMaxCollectionCount));
  CHECK(round_trip_body(at).size() == limits::kMaxCollectionCount);
  at.push_back(Object());
  CHECK(encode_error(at) == CodecErrc::CountTooLarge);
  WireBuilder b;
  b.value(Tag::Array, static_cast<std::uint32_t>(limits::kMaxCollectionCount + 1));
  CHECK(decode_error(b) == CodecErrc::CountTooLarge);
}

TEST_CASE("a count larger than the bytes left is refused before any allocation") {
  WireBuilder b;
  b.value(Tag::Dictionary, 1000);
  CHECK(decode_error(b) == CodecErrc::CountTooLarge);
}

TEST_CASE("every malformed header gives its own error") {
  WireBuilder good;
  good.value(Tag::Null, 0);
  REQUIRE(decode(good.datagram(), {}).ok());

  auto bytes = good.datagram();
  CHECK(decode(std::span(bytes).first(kHeaderSize - 1), {}).error().code == CodecErrc::Truncated);
  WireBuilder b = good;
  b.patch32(0, 0x12345678);
  CHECK(decode_error(b) == CodecErrc::BadMagic);
  b = good;
  b.patch16(4, 2);
  CHECK(decode_error(b) == CodecErrc::UnsupportedVersion);
  b = good;
  b.patch16(6, 0x80);
  CHECK(decode_error(b) == CodecErrc::UnknownFlags);
  b = good;
  b.patch32(36, 1);
  CHECK(decode_error(b) == CodecErrc::ReservedNotZero);
  b = good;
  b.set_body_length(16);
  CHECK(decode_error(b) == CodecErrc::BodyLengthMismatch);
  b = good;
  b.set_body_length(limits::kInlineBodyMax + 8);
  CHECK(decode_error(b) == CodecErrc::BodyTooLarge);
}

TEST_CASE("every malformed body value gives its own error") {
  auto body_error = [](auto build) {
    WireBuilder b;
    build(b);
    return decode_error(b);
  };
  CHECK(body_error([](WireBuilder& b) { b.value(static_cast<Tag>(99), 0); }) == CodecErrc::UnknownType);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Bool, 2); }) == CodecErrc::BadBool);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Null, 1); }) == CodecErrc::NonZeroPadding);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Int64, 0); }) == CodecErrc::Truncated);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Int64, 3).u64(1); }) == CodecErrc::NonZeroPadding);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::String, 3).raw("abcd", 4).zeros(4); }) == CodecErrc::StringNotTerminated);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::String, 3).raw("a\0c", 3).zeros(5); }) == CodecErrc::StringHasNul);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::String, 2).raw("ab\0x", 4).zeros(4); }) == CodecErrc::NonZeroPadding);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Data, 3).raw("abcX", 4).zeros(4); }) == CodecErrc::NonZeroPadding);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Data, 9).zeros(8); }) == CodecErrc::Truncated);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Uuid, 0).zeros(8); }) == CodecErrc::Truncated);
  CHECK(body_error([](WireBuilder& b) {
          b.value(Tag::Dictionary, 2).key("a").value(Tag::Null, 0).key("a").value(Tag::Null, 0);
        }) == CodecErrc::DuplicateKey);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Null, 0).value(Tag::Null, 0); }) == CodecErrc::TrailingBytes);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Fd, 0); }) == CodecErrc::FdIndexOutOfRange);
  CHECK(body_error([](WireBuilder& b) { b.value(Tag::Array, 1); }) == CodecErrc::CountTooLarge);
}

TEST_CASE("a decoder error names where in the body it happened") {
  WireBuilder b;
  b.value(Tag::Dictionary, 1).key("outer").value(Tag::Array, 2).value(Tag::Null, 0).value(Tag::Bool, 7);
  auto d = decode(b.datagram(), {});
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message() == "bad bool: body.outer[1]: 7");
}

TEST_CASE("fd errors close every fd received") {
  int before = xpc::test::open_fd_count();
  auto fds_of = [](auto... fds) {
    std::vector<UniqueFd> v;
    (v.push_back(std::move(fds)), ...);
    return v;
  };
  SUBCASE("more fds than the header says") {
    WireBuilder b(1);
    b.value(Tag::Fd, 0);
    CHECK(decode_error(b, fds_of(pipe_read_end(), pipe_read_end())) == CodecErrc::FdCountMismatch);
  }
  SUBCASE("an fd sent but not referenced") {
    WireBuilder b(2);
    b.value(Tag::Fd, 1);
    CHECK(decode_error(b, fds_of(pipe_read_end(), pipe_read_end())) == CodecErrc::FdNotReferenced);
  }
  SUBCASE("an fd index used twice") {
    WireBuilder b(2);
    b.value(Tag::Array, 2).value(Tag::Fd, 0).value(Tag::Fd, 0);
    CHECK(decode_error(b, fds_of(pipe_read_end(), pipe_read_end())) == CodecErrc::FdIndexReused);
  }
  SUBCASE("an error after fds were taken into objects") {
    WireBuilder b(2);
    b.value(Tag::Array, 3).value(Tag::Fd, 0).value(Tag::Fd, 1).value(Tag::Bool, 5);
    CHECK(decode_error(b, fds_of(pipe_read_end(), pipe_read_end())) == CodecErrc::BadBool);
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("a shmem or endpoint with an fd of the wrong kind is refused") {
  int before = xpc::test::open_fd_count();
  auto one = [](UniqueFd fd) {
    std::vector<UniqueFd> v;
    v.push_back(std::move(fd));
    return v;
  };
  WireBuilder shm(1);
  shm.value(Tag::Shmem, 0).u64(16);
  CHECK(decode_error(shm, one(pipe_read_end())) == CodecErrc::ShmemNotMemfd);
  CHECK(decode_error(shm, one(memfd_of(16, 0))) == CodecErrc::ShmemNotSealed);
  CHECK(decode_error(shm, one(memfd_of(8, F_SEAL_SHRINK))) == CodecErrc::ShmemTooLarge);
  CHECK(decode(shm.datagram(), one(memfd_of(16, F_SEAL_SHRINK))).ok());
  WireBuilder huge(1);
  huge.value(Tag::Shmem, 0).u64(limits::kMaxShmemSize + 1);
  CHECK(decode_error(huge, one(memfd_of(16, F_SEAL_SHRINK))) == CodecErrc::ShmemTooLarge);

  WireBuilder ep(1);
  ep.value(Tag::Endpoint, 0);
  CHECK(decode_error(ep, one(pipe_read_end())) == CodecErrc::EndpointNotSocket);
  int dgram[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dgram) == 0);
  close(dgram[1]);
  CHECK(decode_error(ep, one(UniqueFd::adopt(dgram[0]))) == CodecErrc::EndpointNotSocket);
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("an out-of-line body must be a sealed memfd of the declared size") {
  int before = xpc::test::open_fd_count();
  WireBuilder b;
  b.set_flags(kOutOfLine);
  b.set_body_length(64);
  b.drop_body();
  auto one = [](UniqueFd fd) {
    std::vector<UniqueFd> v;
    v.push_back(std::move(fd));
    return v;
  };
  constexpr unsigned kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  CHECK(decode_error(b, one(pipe_read_end())) == CodecErrc::BodyNotMemfd);
  CHECK(decode_error(b, one(memfd_of(64, F_SEAL_SHRINK | F_SEAL_GROW))) == CodecErrc::BodyNotSealed);
  CHECK(decode_error(b, one(memfd_of(32, kSeals))) == CodecErrc::BodyLengthMismatch);
  CHECK(decode_error(b, {}) == CodecErrc::FdCountMismatch);
  // A zero-filled sealed body of 64 bytes: tag 0 is no type.
  CHECK(decode_error(b, one(memfd_of(64, kSeals))) == CodecErrc::UnknownType);
  CHECK(xpc::test::open_fd_count() == before);
}
