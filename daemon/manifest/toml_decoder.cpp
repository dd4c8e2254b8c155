// decode_toml: TOML text to a Value tree through toml++ (exceptions off).
// Tables become dictionaries, arrays arrays, floats reals; dates and times
// become dates (text kept as written). Every value gets its line and column.
#include <fmt/format.h>

#include <optional>
#include <sstream>

#include "manifest/decoders.hpp"
#include "manifest/limits.hpp"
#include "manifest/toml_noexcept.hpp"

namespace xpcd::manifest {
namespace {

Position position_of(const toml::source_region& r) {
  return {static_cast<uint32_t>(r.begin.line), static_cast<uint32_t>(r.begin.column)};
}

class Converter {
 public:
  Converter(std::string_view file, Diagnostics& out) : file_(file), out_(out) {}
  bool convert(const toml::node& node, const std::string& path, size_t depth, Value& v);

 private:
  bool table(const toml::table& t, const std::string& path, size_t depth, Value& v);
  bool array(const toml::array& a, const std::string& path, size_t depth, Value& v);
  bool error(Position pos, const std::string& path, std::string msg) {
    out_.push_back({Severity::error, std::string(file_), pos, path, std::move(msg)});
    return false;
  }
  template <typename T>
  static std::string text_of(const T& x) {
    std::ostringstream s;
    s << x;
    return s.str();
  }

  std::string_view file_;
  Diagnostics& out_;
  size_t values_ = 0;
};

bool Converter::convert(const toml::node& node, const std::string& path, size_t depth, Value& v) {
  if (!v.pos.known()) v.pos = position_of(node.source());
  if (++values_ > limits::kMaxValues) {
    return error(v.pos, path, fmt::format("too many values (limit {})", limits::kMaxValues));
  }
  switch (node.type()) {
    case toml::node_type::table: return table(*node.as_table(), path, depth + 1, v);
    case toml::node_type::array: return array(*node.as_array(), path, depth + 1, v);
    case toml::node_type::string:
      v.kind = Kind::string;
      v.text = node.as_string()->get();
      return true;
    case toml::node_type::integer:
      v.kind = Kind::integer;
      v.integer = node.as_integer()->get();
      return true;
    case toml::node_type::floating_point:
      v.kind = Kind::real;
      v.real = node.as_floating_point()->get();
      return true;
    case toml::node_type::boolean:
      v.kind = Kind::boolean;
      v.boolean = node.as_boolean()->get();
      return true;
    case toml::node_type::date: v.text = text_of(node.as_date()->get()); break;
    case toml::node_type::time: v.text = text_of(node.as_time()->get()); break;
    case toml::node_type::date_time: v.text = text_of(node.as_date_time()->get()); break;
    case toml::node_type::none: return error(v.pos, path, "empty value");
  }
  v.kind = Kind::date;
  return true;
}

bool Converter::table(const toml::table& t, const std::string& path, size_t depth, Value& v) {
  v.kind = Kind::dict;
  if (depth > limits::kMaxDepth) {
    return error(v.pos, path, fmt::format("nesting too deep (limit {} levels)", limits::kMaxDepth));
  }
  for (auto&& [key, child] : t) {
    v.keys.emplace_back(key.str());
    v.items.emplace_back();
    v.items.back().pos = position_of(key.source());
    if (!convert(child, child_path(path, key.str()), depth, v.items.back())) return false;
  }
  return true;
}

bool Converter::array(const toml::array& a, const std::string& path, size_t depth, Value& v) {
  v.kind = Kind::array;
  if (depth > limits::kMaxDepth) {
    return error(v.pos, path, fmt::format("nesting too deep (limit {} levels)", limits::kMaxDepth));
  }
  v.items.resize(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!convert(a[i], index_path(path, i), depth, v.items[i])) return false;
  }
  return true;
}

// toml++ 3.3 reaches __builtin_unreachable() (undefined behaviour; found by
// fuzz_toml) when it meets some non-ASCII characters where it expects
// whitespace, e.g. in a table header. TOML allows non-ASCII text only inside
// strings and comments, so such input is refused before toml++ sees it.
// The same bug is reached after a backslash in a basic string: toml++
// trims the whitespace after a line-ending backslash with the same broken
// test, so a non-ASCII character there (or right after the backslash, an
// invalid escape anyway) is refused too (found by fuzz_toml). The price: a
// multi-line string may not continue with a non-ASCII character right after
// a line-ending backslash; put an ASCII character or an escape first.
bool non_ascii_after_backslash(std::string_view rest) {
  size_t j = 1;
  while (j < rest.size() && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\r' || rest[j] == '\n')) ++j;
  return j < rest.size() && static_cast<unsigned char>(rest[j]) >= 0x80;
}

std::optional<Position> non_ascii_outside_strings(std::string_view s) {
  enum class In { code, comment, basic, literal, ml_basic, ml_literal };
  In in = In::code;
  Position pos{1, 1};
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    std::string_view rest = s.substr(i);
    size_t skip = 0;
    if (in == In::code) {
      if (static_cast<unsigned char>(c) >= 0x80) return pos;
      if (c == '#') in = In::comment;
      else if (rest.starts_with("\"\"\"")) in = In::ml_basic, skip = 2;
      else if (rest.starts_with("'''")) in = In::ml_literal, skip = 2;
      else if (c == '"') in = In::basic;
      else if (c == '\'') in = In::literal;
    } else if ((in == In::basic || in == In::ml_basic) && c == '\\' && non_ascii_after_backslash(rest)) {
      return pos;
    } else if ((in == In::basic || in == In::ml_basic) && c == '\\' && rest.size() > 1 && rest[1] != '\n') {
      skip = 1;  // an escaped character cannot end the string
    } else if ((in == In::comment && c == '\n') || (in == In::basic && (c == '"' || c == '\n')) ||
               (in == In::literal && (c == '\'' || c == '\n'))) {
      in = In::code;
    } else if ((in == In::ml_basic && rest.starts_with("\"\"\"")) ||
               (in == In::ml_literal && rest.starts_with("'''"))) {
      in = In::code, skip = 2;
    }
    if (c == '\n') {
      pos = {pos.line + 1, 1};
    } else {
      pos.col += static_cast<uint32_t>(1 + skip);
    }
    i += skip;
  }
  return std::nullopt;
}

}  // namespace

Decoded decode_toml(std::string_view bytes, std::string_view file) {
  Decoded d;
  if (bytes.size() > limits::kMaxManifestBytes) {
    d.diagnostics.push_back({Severity::error, std::string(file), {}, "",
                             fmt::format("file too large (limit {} bytes, got {})",
                                         limits::kMaxManifestBytes, bytes.size())});
    return d;
  }
  if (auto at = non_ascii_outside_strings(bytes)) {
    d.diagnostics.push_back({Severity::error, std::string(file), *at, "",
                             "invalid TOML: non-ASCII character outside a string or comment, or right "
                             "after a backslash in a string (expected a bare key of A-Z a-z 0-9 _ -, or "
                             "quote it; after a line-ending backslash, start the next line with ASCII)"});
    return d;
  }
  toml::parse_result parsed = toml::parse(bytes, std::string(file));
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    d.diagnostics.push_back({Severity::error, std::string(file), position_of(e.source()), "",
                             fmt::format("invalid TOML: {}", e.description())});
    return d;
  }
  d.root.pos = {1, 1};
  d.ok = Converter(file, d.diagnostics).convert(parsed.table(), "", 0, d.root);
  return d;
}

}  // namespace xpcd::manifest
