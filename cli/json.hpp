// JSON <-> xpc::Object for xpcctl (`call` takes a JSON object and prints
// replies as JSON). Not a general JSON library: nlohmann-json does the
// parsing and printing inside json.cpp; this header keeps it out of sight.
//
// JSON -> Object: null, true/false, strings, objects (dictionaries) and
// arrays map one to one; integers become int64, or uint64 above INT64_MAX;
// numbers with a fraction or an exponent become double. Refused, with a
// message saying where: malformed JSON, integers beyond uint64, duplicate
// keys, NUL in a string or key, keys over limits::kMaxKeyLength, nesting
// deeper than limits::kMaxDepth.
//
// Object -> JSON (never fails): the same types back; data as a base64 string
// (RFC 4648, padded); uuid as its canonical lowercase string; date as an
// RFC 3339 UTC string with nanoseconds when not whole seconds; fd, shmem,
// endpoint and connection as descriptive strings ("<fd>", "<shmem 4096
// bytes>", "<endpoint>", "<connection>"); errors as objects of their fields;
// non-finite doubles as the strings "nan", "inf", "-inf"; strings that are
// not UTF-8 with U+FFFD in place of each bad byte.
#pragma once

#include <xpc/object.hpp>
#include <xpc/result.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace xpcctl::json {

// Parses JSON text (any value, not only objects) into an Object. The error
// is a sentence without a trailing newline, e.g. "parse error at line 1,
// column 5: syntax error while parsing object key - ...".
xpc::Result<xpc::Object, std::string> parse(std::string_view text);

// One line of JSON, no trailing newline; dictionary keys in sorted order.
std::string format(const xpc::Object& object);

// The pieces of format(), exposed for tests.
std::string base64(std::span<const std::byte> bytes);
std::string uuid_string(const xpc::Uuid& uuid);
std::string rfc3339(xpc::Date date);

}  // namespace xpcctl::json
