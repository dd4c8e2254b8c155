// Rendering of diagnostics as text lines and JSON objects.
#include "manifest/diagnostic.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace xpcd::manifest {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  if (n == 2 && c < 0xC2) return 0;  // overlong
  if (n == 3) {
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 0;  // overlong, surrogate
  }
  if (n == 4) {
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xF0 && c1 < 0x90) || c > 0xF4 || (c == 0xF4 && c1 >= 0x90)) return 0;
  }
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "error";
}

std::string printable(std::string_view s, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < max_len;) {
    size_t n = utf8_sequence(s, i);
    auto c = static_cast<unsigned char>(s[i]);
    if (n == 0 || c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  if (out.size() >= max_len) out += "...";
  return out;
}

std::string format(const Diagnostic& d) {
  std::string out = d.file;
  if (d.pos.known()) out += fmt::format(":{}:{}", d.pos.line, d.pos.col);
  out += fmt::format(": {}: ", to_string(d.severity));
  if (!d.key_path.empty()) out += printable(d.key_path, 200) + ": ";
  out += d.message;
  return out;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    auto c = static_cast<unsigned char>(s[i]);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out + "\"";
}

std::string to_json(const Diagnostic& d) {
  return fmt::format(R"({{"file":{},"line":{},"col":{},"severity":"{}","key":{},"message":{}}})",
                     json_quote(d.file), d.pos.line, d.pos.col, to_string(d.severity),
                     json_quote(d.key_path), json_quote(d.message));
}

bool has_errors(const Diagnostics& ds) { return count(ds, Severity::error) > 0; }

size_t count(const Diagnostics& ds, Severity s) {
  return static_cast<size_t>(
      std::count_if(ds.begin(), ds.end(), [s](const Diagnostic& d) { return d.severity == s; }));
}

}  // namespace xpcd::manifest
