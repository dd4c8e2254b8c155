// JSON <-> xpc::Object (see json.hpp for the mapping). Parsing goes through
// nlohmann's SAX interface so objects are built directly, the raw text of
// every number is seen (an integer too large for uint64 is refused instead
// of silently becoming a double) and duplicate keys are caught.
#include "json.hpp"

#include <xpc/limits.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

namespace xpcctl::json {
namespace {

using nlohmann::json;

// Builds an Object from SAX events. Containers under construction are on
// a stack (no recursion, so deep input cannot exhaust the C++ stack); a
// finished container moves into its parent.
class Builder final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return add(xpc::Object()); }
  bool boolean(bool value) override { return add(xpc::Object(value)); }
  bool number_integer(number_integer_t value) override { return add(xpc::Object::int64(value)); }
  bool number_unsigned(number_unsigned_t value) override {
    if (value > static_cast<std::uint64_t>(INT64_MAX)) return add(xpc::Object::uint64(value));
    return add(xpc::Object::int64(static_cast<std::int64_t>(value)));
  }
  bool number_float(number_float_t value, const string_t& text) override {
    // nlohmann parses an integer literal that overflows uint64 as a double.
    if (text.find_first_of(".eE") == string_t::npos) {
      return fail("integer " + text + " at " + path() + " is out of range (int64 or uint64)");
    }
    return add(xpc::Object::real(value));
  }
  bool string(string_t& value) override {
    if (value.find('\0') != string_t::npos) return fail("string at " + path() + " contains NUL (\\u0000)");
    return add(xpc::Object::string(value));
  }
  bool binary(binary_t& /*value*/) override { return fail("binary values are not JSON"); }
  bool start_object(std::size_t /*elements*/) override { return open(xpc::Object::dictionary()); }
  bool key(string_t& key) override {
    if (key.find('\0') != string_t::npos) return fail("key in the object at " + path(true) + " contains NUL (\\u0000)");
    if (key.size() > xpc::limits::kMaxKeyLength) {
      return fail("key in the object at " + path(true) + " is longer than " +
                  std::to_string(xpc::limits::kMaxKeyLength) + " bytes");
    }
    if (stack_.back().value.contains(key)) return fail("duplicate key \"" + key + "\" in the object at " + path(true));
    stack_.back().key = key;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t /*elements*/) override { return open(xpc::Object::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    // "[json.exception.parse_error.101] parse error at line 1, ..." without
    // the bracketed prefix, which means nothing to a user.
    std::string what = ex.what();
    auto end = what.find("] ");
    return fail(end == std::string::npos ? what : what.substr(end + 2));
  }

  const std::string& error() const { return error_; }
  xpc::Object take() { return std::move(root_); }

 private:
  struct Frame {
    xpc::Object value;  // an array or a dictionary being filled
    std::string key;    // the key of the next value, in a dictionary
  };

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  bool add(xpc::Object value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return true;
    }
    Frame& top = stack_.back();
    if (top.value.is(xpc::Type::Dictionary)) {
      top.value[top.key] = std::move(value);
    } else {
      top.value.push_back(std::move(value));
    }
    return true;
  }

  bool open(xpc::Object container) {
    if (stack_.size() + 1 > xpc::limits::kMaxDepth) {
      return fail("nesting deeper than " + std::to_string(xpc::limits::kMaxDepth) + " levels at " + path());
    }
    stack_.push_back(Frame{std::move(container), {}});
    return true;
  }

  bool close() {
    xpc::Object done = std::move(stack_.back().value);
    stack_.pop_back();
    return add(std::move(done));
  }

  // Where the parser is, as $.key[index]...; the container being filled
  // itself, not the place in it, when `container` is set (for key errors).
  std::string path(bool container = false) const {
    std::string out = "$";
    for (const Frame& f : stack_) {
      if (container && &f == &stack_.back()) break;
      if (f.value.is(xpc::Type::Dictionary)) {
        out += "." + f.key;
      } else {
        out += "[" + std::to_string(f.value.size()) + "]";
      }
    }
    return out;
  }

  std::vector<Frame> stack_;
  xpc::Object root_;
  std::string error_;
};

json to_json(const xpc::Object& object);

json dictionary_to_json(const xpc::Object& object) {
  json out = json::object();
  for (const auto& [key, value] : *object.as_dictionary()) out[key] = to_json(value);
  return out;
}

json double_to_json(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

// Recursion is bounded: received objects are at most limits::kMaxDepth deep.
json to_json(const xpc::Object& object) {
  switch (object.type()) {
    case xpc::Type::Null: return nullptr;
    case xpc::Type::Bool: return *object.as_bool();
    case xpc::Type::Int64: return *object.as_int64();
    case xpc::Type::Uint64: return *object.as_uint64();
    case xpc::Type::Double: return double_to_json(*object.as_double());
    case xpc::Type::Date: return rfc3339(*object.as_date());
    case xpc::Type::Data: return base64(*object.as_data());
    case xpc::Type::String: return std::string(*object.as_string());
    case xpc::Type::Uuid: return uuid_string(*object.as_uuid());
    case xpc::Type::Array: {
      json out = json::array();
      for (const xpc::Object& element : *object.as_array()) out.push_back(to_json(element));
      return out;
    }
    case xpc::Type::Dictionary:
    case xpc::Type::Error: return dictionary_to_json(object);
    case xpc::Type::Fd: return "<fd>";
    case xpc::Type::Shmem: return "<shmem " + std::to_string(object.shmem_size()) + " bytes>";
    case xpc::Type::Endpoint: return "<endpoint>";
    case xpc::Type::Connection: return "<connection>";
  }
  return nullptr;  // unreachable: the switch is exhaustive
}

}  // namespace

xpc::Result<xpc::Object, std::string> parse(std::string_view text) {
  Builder builder;
  bool ok = false;
  try {
    ok = json::sax_parse(text, &builder);
  } catch (const std::exception& e) {  // nlohmann throws only on internal errors here
    return xpc::fail(std::string(e.what()));
  }
  if (!ok) return xpc::fail(builder.error().empty() ? std::string("invalid JSON") : builder.error());
  return builder.take();
}

std::string format(const xpc::Object& object) {
  return to_json(object).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string base64(std::span<const std::byte> bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t chunk = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      chunk = chunk << 8 | (k < n ? std::to_integer<std::uint32_t>(bytes[i + k]) : 0u);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(chunk >> (18 - 6 * k)) & 0x3f] : '=';
    }
  }
  return out;
}

std::string uuid_string(const xpc::Uuid& uuid) {
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", uuid[0],
                uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8], uuid[9], uuid[10], uuid[11],
                uuid[12], uuid[13], uuid[14], uuid[15]);
  return out;
}

std::string rfc3339(xpc::Date date) {
  using namespace std::chrono;
  auto secs = floor<seconds>(date);
  auto day = floor<days>(secs);
  year_month_day ymd{day};
  hh_mm_ss hms{secs - day};
  auto nanos = (date - secs).count();
  char out[64];
  int n = std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  if (nanos != 0) {
    n += std::snprintf(out + n, sizeof out - static_cast<std::size_t>(n), ".%09lld", static_cast<long long>(nanos));
  }
  std::snprintf(out + n, sizeof out - static_cast<std::size_t>(n), "Z");
  return out;
}

}  // namespace xpcctl::json
