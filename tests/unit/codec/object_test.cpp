// The C++ object model: every type, value semantics, conversions,
// description, equality and C interop.
#include <doctest/doctest.h>
#include <fd_count.hpp>
#include <xpc/object.hpp>
#include <xpc/xpc.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

using xpc::Object;
using xpc::Type;

TEST_CASE("every type can be made and read back") {
  CHECK(Object().is_null());
  CHECK(Object(true).as_bool() == true);
  CHECK(Object(false).as_bool() == false);
  CHECK(Object(-5).as_int64() == -5);
  CHECK(Object(7u).as_uint64() == 7u);
  CHECK(Object(2.5).as_double() == 2.5);
  CHECK(Object("hi").as_string() == "hi");
  CHECK(Object::data("ab\0c").as_data()->size() == 2);  // a const char* stops at the NUL
  CHECK(Object::data(std::string_view("ab\0c", 4)).as_data()->size() == 4);
  auto when = xpc::Date(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  CHECK(Object::date(when).as_date() == when);
  xpc::Uuid u{};
  u[0] = 0xab;
  u[15] = 0xcd;
  CHECK(Object::uuid(u).as_uuid() == u);
  CHECK(Object::array({1, "two"}).size() == 2);
  CHECK(Object{{"a", 1}, {"b", "x"}}.size() == 2);
  CHECK(Object::error("invalid", "no such service").is(Type::Error));
}

TEST_CASE("a getter of the wrong type gives nothing, and the fallback helpers use their fallback") {
  Object s("text");
  CHECK_FALSE(s.as_int64().has_value());
  CHECK_FALSE(s.as_bool().has_value());
  CHECK(s.as_array() == nullptr);
  CHECK(s.int64_or(42) == 42);
  CHECK(Object(3).string_or("none") == "none");
  CHECK(Object(3).uint64_or(9) == 9);  // int64 is not uint64
  CHECK(s.borrowed_fd() == -1);
  CHECK(s.size() == 0);
}

TEST_CASE("copies are values: mutating one leaves the other as it was") {
  Object a{{"k", 1}};
  Object b = a;
  b["k"] = 2;
  b["new"] = "v";
  CHECK(a["k"].as_int64() == 1);
  CHECK_FALSE(a.contains("new"));
  CHECK(b["k"].as_int64() == 2);

  SUBCASE("nested mutation unshares only the path it touches") {
    Object outer{{"inner", Object{{"x", 1}}}, {"other", Object{{"y", 2}}}};
    Object copy = outer;
    copy["inner"]["x"] = 10;
    CHECK(outer["inner"]["x"].as_int64() == 1);
    CHECK(copy["inner"]["x"].as_int64() == 10);
    CHECK(outer["other"].c_object() == copy["other"].c_object());
  }
  SUBCASE("arrays") {
    Object arr = Object::array({1, 2});
    Object arr2 = arr;
    arr2.push_back(3);
    arr2.at(0) = "first";
    CHECK(arr.size() == 2);
    CHECK(arr[0].as_int64() == 1);
    CHECK(arr2.size() == 3);
    CHECK(arr2[0].as_string() == "first");
  }
}

TEST_CASE("operator[] builds dictionaries from null and reads missing keys as null") {
  Object msg;
  msg["op"] = "echo";
  msg["n"] = 3;
  CHECK(msg.is(Type::Dictionary));
  const Object& cmsg = msg;
  CHECK(cmsg["missing"].is_null());
  CHECK(cmsg["op"]["deeper"].is_null());
  CHECK(cmsg[5].is_null());
  CHECK(msg.erase("op"));
  CHECK_FALSE(msg.erase("op"));
  CHECK(msg.size() == 1);
}

TEST_CASE("fd objects own a duplicate and hand out further duplicates") {
  int before = xpc::test::open_fd_count();
  {
    int pipefd[2];
    REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0);
    Object fd = Object::fd_dup(pipefd[0]);
    close(pipefd[0]);
    REQUIRE(fd.is(Type::Fd));
    CHECK((fcntl(fd.borrowed_fd(), F_GETFD) & FD_CLOEXEC) != 0);
    xpc::UniqueFd dup = fd.dup_fd();
    REQUIRE(dup.valid());
    CHECK((fcntl(dup.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(write(pipefd[1], "x", 1) == 1);
    char c = 0;
    CHECK(read(dup.get(), &c, 1) == 1);
    CHECK(c == 'x');
    close(pipefd[1]);
    CHECK(Object::fd_dup(-1).is_null());
    CHECK(fd == Object::fd(fd.dup_fd()));  // same file
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("shmem copies the region into a memfd that every mapping shares") {
  std::string text = "shared bytes";
  Object shm = Object::shmem_copy(std::as_bytes(std::span(text.data(), text.size())));
  REQUIRE(shm.is(Type::Shmem));
  CHECK(shm.shmem_size() == text.size());
  void* region = nullptr;
  size_t size = xpc_shmem_map(shm.c_object(), &region);
  REQUIRE(size == text.size());
  CHECK(std::memcmp(region, text.data(), size) == 0);
  std::memcpy(region, "SHARED", 6);
  void* again = nullptr;
  REQUIRE(xpc_shmem_map(shm.c_object(), &again) == size);
  CHECK(std::memcmp(again, "SHARED bytes", size) == 0);
  munmap(region, size);
  munmap(again, size);
}

TEST_CASE("description reads like xpc_copy_description") {
  Object msg{{"name", "echo"}, {"n", 42}, {"list", Object::array({true, Object()})}};
  CHECK(msg.description() ==
        "<dictionary> { count = 3, contents =\n"
        "\t\"list\" => <array> { count = 2, contents =\n"
        "\t\t0: <bool>: true\n"
        "\t\t1: <null>\n"
        "\t}\n"
        "\t\"n\" => <int64>: 42\n"
        "\t\"name\" => <string> { length = 4, contents = \"echo\" }\n"
        "}");
  CHECK(Object("a\"b\n").description() == "<string> { length = 4, contents = \"a\\\"b\\n\" }");
  CHECK(Object::data("\x01\xff").description() == "<data> { length = 2, contents = 01ff }");
  CHECK(Object::date(xpc::Date(std::chrono::nanoseconds(1'500'000'000))).description() ==
        "<date>: 1970-01-01 00:00:01.500000000 UTC");
}

TEST_CASE("equality is deep and hashing agrees with it") {
  Object a{{"x", Object::array({1, 2.5, "s"})}};
  Object b{{"x", Object::array({1, 2.5, "s"})}};
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  b["x"].push_back(Object());
  CHECK_FALSE(a == b);
  CHECK_FALSE(Object(1) == Object(1u));
  CHECK(Object(std::nan("")) == Object(std::nan("")));
}

TEST_CASE("deep_copy shares nothing, not even fds") {
  int pipefd[2];
  REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0);
  Object a{{"fd", Object::fd(xpc::UniqueFd::adopt(pipefd[0]))}, {"d", Object{{"k", 1}}}};
  close(pipefd[1]);
  Object b = a.deep_copy();
  CHECK(a == b);
  CHECK(a["fd"].borrowed_fd() != b["fd"].borrowed_fd());
  CHECK(a["d"].c_object() != b["d"].c_object());
}

TEST_CASE("C objects wrapped in C++ share storage and keep the reference count right") {
  xpc_object_t dict = xpc_dictionary_create_empty();
  xpc_dictionary_set_int64(dict, "n", 1);
  {
    Object shared = Object::retain(dict);
    xpc_dictionary_set_int64(dict, "n", 2);
    CHECK(shared["n"].as_int64() == 2);  // reference semantics through C
    shared["n"] = 3;                     // the C++ side copies on write
    CHECK(xpc_dictionary_get_int64(dict, "n") == 2);
  }
  Object owned = Object::adopt(dict);  // takes over the create reference
  CHECK(owned["n"].as_int64() == 2);
  xpc_object_t back = owned.c_retain();
  CHECK(xpc_get_type(back) == XPC_TYPE_DICTIONARY);
  xpc_release(back);
}
