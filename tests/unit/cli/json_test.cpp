// JSON <-> xpc::Object for xpcctl call (cli/json.hpp): every type both ways,
// the number rules, and the errors for bad JSON.
#include <doctest/doctest.h>
#include <xpc/limits.hpp>
#include <xpc/object.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>

#include "json.hpp"

using namespace xpc;
namespace json = xpcctl::json;

namespace {

Object parsed(std::string_view text) {
  auto result = json::parse(text);
  REQUIRE_MESSAGE(result.ok(), text, ": ", result.ok() ? "" : result.error());
  return std::move(result).value();
}

std::string error_of(std::string_view text) {
  auto result = json::parse(text);
  REQUIRE_MESSAGE(!result.ok(), text, " parsed as ", result.ok() ? result.value().description() : "");
  return result.error();
}

}  // namespace

TEST_CASE("JSON scalars become the matching XPC types") {
  CHECK(parsed("null").is_null());
  CHECK(parsed("true") == Object(true));
  CHECK(parsed("false") == Object(false));
  CHECK(parsed("\"hi \\u00e9\"") == Object("hi \xc3\xa9"));
  CHECK(parsed("1.5") == Object(1.5));
  CHECK(parsed("1e3").is(Type::Double));
  CHECK(parsed("1.0").is(Type::Double));
}

TEST_CASE("JSON integers become int64, and uint64 only above INT64_MAX") {
  CHECK(parsed("0") == Object::int64(0));
  CHECK(parsed("42") == Object::int64(42));
  CHECK(parsed("-7") == Object::int64(-7));
  CHECK(parsed("9223372036854775807") == Object::int64(INT64_MAX));
  CHECK(parsed("-9223372036854775808") == Object::int64(INT64_MIN));
  CHECK(parsed("9223372036854775808") == Object::uint64(std::uint64_t{INT64_MAX} + 1));
  CHECK(parsed("18446744073709551615") == Object::uint64(UINT64_MAX));
  SUBCASE("beyond uint64 and below int64 they are refused, not rounded to doubles") {
    CHECK(error_of("18446744073709551616").find("out of range") != std::string::npos);
    CHECK(error_of("{\"n\": -9223372036854775809}").find("integer -9223372036854775809 at $.n is out of range") !=
          std::string::npos);
  }
}

TEST_CASE("JSON objects and arrays become dictionaries and arrays, nested") {
  Object o = parsed(R"({"text": "hi", "n": [1, 2.5, {"deep": null}], "empty": {}, "none": []})");
  REQUIRE(o.is(Type::Dictionary));
  CHECK(o.size() == 4);
  CHECK(o["text"] == Object("hi"));
  CHECK(o["n"].is(Type::Array));
  CHECK(o["n"][0] == Object::int64(1));
  CHECK(o["n"][1] == Object(2.5));
  CHECK(o["n"][2]["deep"].is_null());
  CHECK(o["n"][2].contains("deep"));
  CHECK(o["empty"] == Object::dictionary());
  CHECK(o["none"] == Object::array());
}

TEST_CASE("bad JSON is refused with a message saying where") {
  CHECK(error_of("").find("parse error at line 1, column 1") != std::string::npos);
  CHECK(error_of("{\"a\": }").find("parse error at line 1, column 7") != std::string::npos);
  CHECK(error_of("{'a': 1}").find("parse error") != std::string::npos);
  CHECK(error_of("{\"a\": 1} x").find("parse error") != std::string::npos);  // trailing input
  CHECK(error_of("[1, 2").find("parse error") != std::string::npos);
}

TEST_CASE("JSON that XPC cannot hold is refused, naming the place") {
  CHECK(error_of(R"({"a": 1, "a": 2})") == "duplicate key \"a\" in the object at $");
  CHECK(error_of(R"({"x": {"a": 1, "a": 2}})") == "duplicate key \"a\" in the object at $.x");
  CHECK(error_of(R"({"s": "a\u0000b"})") == "string at $.s contains NUL (\\u0000)");
  CHECK(error_of(R"({"a\u0000b": 1})").find("key in the object at $ contains NUL") != std::string::npos);
  SUBCASE("keys up to the key length limit, not beyond") {
    std::string key(xpc::limits::kMaxKeyLength, 'k');
    CHECK(parsed("{\"" + key + "\": 1}").size() == 1);
    CHECK(error_of("{\"" + key + "k\": 1}").find("longer than 1024 bytes") != std::string::npos);
  }
  SUBCASE("nesting up to the depth limit, not beyond") {
    auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    CHECK(parsed(nested(xpc::limits::kMaxDepth)).is(Type::Array));
    CHECK(error_of(nested(xpc::limits::kMaxDepth + 1)).find("nesting deeper than 64 levels") != std::string::npos);
    CHECK(error_of(nested(100000)).find("nesting deeper") != std::string::npos);  // no stack overflow
  }
}

TEST_CASE("objects print as one line of JSON, every type") {
  CHECK(json::format(Object()) == "null");
  CHECK(json::format(Object(true)) == "true");
  CHECK(json::format(Object::int64(-3)) == "-3");
  CHECK(json::format(Object::uint64(UINT64_MAX)) == "18446744073709551615");
  CHECK(json::format(Object(2.5)) == "2.5");
  CHECK(json::format(Object(1.0)) == "1.0");  // stays a double when read back
  CHECK(json::format(Object("a\"b\n")) == R"("a\"b\n")");
  CHECK(json::format(Object::data(std::string_view("hi!?"))) == "\"aGkhPw==\"");
  Uuid u{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  CHECK(json::format(Object::uuid(u)) == "\"12345678-9abc-def0-0123-456789abcdef\"");
  CHECK(json::format(Object::date(Date(std::chrono::nanoseconds(0)))) == "\"1970-01-01T00:00:00Z\"");
  CHECK(json::format(Object{{"b", 1}, {"a", Array{Object(), Object("x")}}}) == R"({"a":[null,"x"],"b":1})");
  CHECK(json::format(Object::array()) == "[]");
  CHECK(json::format(Object::dictionary()) == "{}");
  CHECK(json::format(Object::error("timeout", "no reply")) ==
        R"({"XPCErrorCode":"timeout","XPCErrorDescription":"no reply"})");
  SUBCASE("fds, shmem and endpoints as descriptive strings") {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    CHECK(json::format(Object::fd(UniqueFd::adopt(p[0]))) == "\"<fd>\"");
    CHECK(json::format(Object::shmem_copy(std::as_bytes(std::span("0123456789", 10)))) == "\"<shmem 10 bytes>\"");
    int s[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) == 0);
    close(s[1]);
    CHECK(json::format(Object::endpoint(UniqueFd::adopt(s[0]))) == "\"<endpoint>\"");
    close(p[1]);
  }
  SUBCASE("non-finite doubles and bytes that are not UTF-8") {
    CHECK(json::format(Object(std::numeric_limits<double>::quiet_NaN())) == "\"nan\"");
    CHECK(json::format(Object(std::numeric_limits<double>::infinity())) == "\"inf\"");
    CHECK(json::format(Object(-std::numeric_limits<double>::infinity())) == "\"-inf\"");
    CHECK(json::format(Object("a\xff")) == "\"a\xef\xbf\xbd\"");  // U+FFFD
  }
}

TEST_CASE("dates print as RFC 3339 in UTC, with nanoseconds when not whole seconds") {
  using namespace std::chrono;
  Date d = sys_days{2024y / February / 29} + 13h + 5min + 9s;
  CHECK(json::rfc3339(d) == "2024-02-29T13:05:09Z");
  CHECK(json::rfc3339(d + 1500ms) == "2024-02-29T13:05:10.500000000Z");
  CHECK(json::rfc3339(d + 7ns) == "2024-02-29T13:05:09.000000007Z");
  CHECK(json::rfc3339(Date(nanoseconds(-1))) == "1969-12-31T23:59:59.999999999Z");
}

TEST_CASE("base64 pads per RFC 4648") {
  auto b64 = [](std::string_view s) { return json::base64(std::as_bytes(std::span(s.data(), s.size()))); };
  CHECK(b64("") == "");
  CHECK(b64("f") == "Zg==");
  CHECK(b64("fo") == "Zm8=");
  CHECK(b64("foo") == "Zm9v");
  CHECK(b64("foob") == "Zm9vYg==");
  CHECK(b64("\xff\xfe\xfd") == "//79");
}

TEST_CASE("what JSON can express survives a round trip") {
  std::string text = R"({"a":[1,-2,2.5,true,false,null,"s"],"big":18446744073709551615,"d":{"e":{}}})";
  Object o = parsed(text);
  CHECK(json::format(o) == text);
  CHECK(parsed(json::format(o)) == o);
}
