// The binary plist structure walker. libplist 2.2 parses binary plists by
// recursion with no depth bound, copies objects that are referenced more than
// once, and keeps only the last of duplicate dictionary keys, so a crafted
// file can exhaust the stack or memory. This walk runs first, bounded by
// limits::kMaxDepth and limits::kMaxValues, and reports with key paths.
// Format: https://opensource.apple.com/source/CF/CF-550/CFBinaryPList.c
#include <fmt/format.h>

#include <cstdint>
#include <set>

#include "manifest/decoders.hpp"
#include "manifest/limits.hpp"

namespace xpcd::manifest::detail {
namespace {

class Walker {
 public:
  Walker(std::string_view bytes, std::string_view file) : b_(bytes), file_(file) {}
  BinaryCheck run();

 private:
  bool read_trailer();
  uint64_t be(size_t at, size_t n) const;
  bool object_offset(uint64_t obj, size_t& at);
  bool length_of(size_t at, uint64_t& count, size_t& body, const std::string& path);
  void visit(uint64_t obj, size_t depth, const std::string& path);
  void visit_dict(size_t body, uint64_t n, size_t depth, const std::string& path);
  bool key_text(uint64_t obj, std::string& out);
  void fail(const std::string& path, std::string msg);

  std::string_view b_;
  std::string_view file_;
  size_t offset_size_ = 0, ref_size_ = 0;
  uint64_t objects_ = 0, top_ = 0, table_ = 0;
  size_t values_ = 0;
  BinaryCheck out_;
};

uint64_t Walker::be(size_t at, size_t n) const {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v = (v << 8) | static_cast<unsigned char>(b_[at + k]);
  return v;
}

void Walker::fail(const std::string& path, std::string msg) {
  if (!out_.fatal) {
    out_.diagnostics.push_back({Severity::error, std::string(file_), {}, path, std::move(msg)});
  }
  out_.fatal = true;
}

bool Walker::read_trailer() {
  if (b_.size() < 8 + 32) return fail("", "truncated binary property list (no trailer)"), false;
  size_t t = b_.size() - 32;
  offset_size_ = static_cast<unsigned char>(b_[t + 6]);
  ref_size_ = static_cast<unsigned char>(b_[t + 7]);
  objects_ = be(t + 8, 8);
  top_ = be(t + 16, 8);
  table_ = be(t + 24, 8);
  bool sizes_ok = offset_size_ >= 1 && offset_size_ <= 8 && ref_size_ >= 1 && ref_size_ <= 8;
  bool table_ok = table_ >= 8 && table_ <= t && objects_ >= 1 &&
                  objects_ <= (t - table_) / (sizes_ok ? offset_size_ : 1);
  if (!sizes_ok || !table_ok || top_ >= objects_) {
    return fail("", "corrupt binary property list trailer (truncated or not a plist)"), false;
  }
  return true;
}

bool Walker::object_offset(uint64_t obj, size_t& at) {
  if (obj >= objects_) return false;
  uint64_t off = be(static_cast<size_t>(table_ + obj * offset_size_), offset_size_);
  if (off < 8 || off >= table_) return false;
  at = static_cast<size_t>(off);
  return true;
}

// Reads the element count of the object at `at` (inline nibble or a following
// integer object) and where its body starts.
bool Walker::length_of(size_t at, uint64_t& count, size_t& body, const std::string& path) {
  auto marker = static_cast<unsigned char>(b_[at]);
  count = marker & 0x0F;
  body = at + 1;
  if (count != 0x0F) return true;
  if (body >= table_) return fail(path, "truncated object length"), false;
  auto int_marker = static_cast<unsigned char>(b_[body]);
  size_t width = size_t{1} << (int_marker & 0x0F);
  if ((int_marker & 0xF0) != 0x10 || width > 8 || body + 1 + width > table_) {
    return fail(path, "corrupt object length"), false;
  }
  count = be(body + 1, width);
  body += 1 + width;
  return true;
}

bool Walker::key_text(uint64_t obj, std::string& out) {
  size_t at = 0;
  if (!object_offset(obj, at)) return false;
  auto type = static_cast<unsigned char>(b_[at]) >> 4;
  uint64_t n = 0;
  size_t body = 0;
  if ((type != 0x5 && type != 0x6) || !length_of(at, n, body, "")) return false;
  uint64_t bytes = type == 0x6 ? n * 2 : n;
  if (n > table_ || body + bytes > table_) return false;
  bool high_surrogate = false;
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t c = type == 0x5 ? be(body + k, 1) : be(body + 2 * k, 2);
    // A NUL or an unpaired UTF-16 surrogate: libplist 2.2 builds a key it
    // then asserts on when the dictionary is iterated (found by fuzz_plist).
    bool low = c >= 0xDC00 && c <= 0xDFFF;
    if (c == 0 || (low && !high_surrogate) || (high_surrogate && !low)) return false;
    high_surrogate = type == 0x6 && c >= 0xD800 && c <= 0xDBFF;
    out += c < 0x80 ? static_cast<char>(c) : '?';  // for paths and duplicate checks only
  }
  return !high_surrogate;
}

void Walker::visit(uint64_t obj, size_t depth, const std::string& path) {
  size_t at = 0;
  if (out_.fatal) return;
  if (!object_offset(obj, at)) return fail(path, "corrupt object reference");
  if (++values_ > limits::kMaxValues) {
    return fail(path, fmt::format("too many values once shared objects are expanded (limit {})",
                                  limits::kMaxValues));
  }
  auto marker = static_cast<unsigned char>(b_[at]);
  uint64_t n = 0;
  size_t body = 0;
  switch (marker >> 4) {
    case 0x1:
      if ((marker & 0x0F) > 3) {
        fail(path, "integer out of range (expected -2^63 to 2^63-1, got a 128-bit integer)");
      }
      return;
    case 0xA:
    case 0xC:
      if (depth + 1 > limits::kMaxDepth) {
        return fail(path, fmt::format("nesting too deep (limit {} levels)", limits::kMaxDepth));
      }
      if (!length_of(at, n, body, path)) return;
      if (n > (table_ - body) / ref_size_) return fail(path, "truncated array");
      for (uint64_t k = 0; k < n && !out_.fatal; ++k) {
        visit(be(body + k * ref_size_, ref_size_), depth + 1, index_path(path, k));
      }
      return;
    case 0xD:
      if (depth + 1 > limits::kMaxDepth) {
        return fail(path, fmt::format("nesting too deep (limit {} levels)", limits::kMaxDepth));
      }
      if (!length_of(at, n, body, path)) return;
      return visit_dict(body, n, depth + 1, path);
    default:
      return;  // scalars: libplist checks their bounds itself
  }
}

void Walker::visit_dict(size_t body, uint64_t n, size_t depth, const std::string& path) {
  if (n > (table_ - body) / ref_size_ / 2) return fail(path, "truncated dictionary");
  std::set<std::string> seen;
  for (uint64_t k = 0; k < n && !out_.fatal; ++k) {
    std::string key;
    if (!key_text(be(body + k * ref_size_, ref_size_), key)) {
      return fail(path, "dictionary key is not a valid string (not a string, or holds a NUL or a broken UTF-16 surrogate)");
    }
    std::string child = child_path(path, key);
    if (!seen.insert(key).second) {
      out_.diagnostics.push_back({Severity::error, std::string(file_), {}, child,
                                  "duplicate key (libplist would silently keep only the last value)"});
    }
    visit(be(body + (n + k) * ref_size_, ref_size_), depth, child);
  }
}

BinaryCheck Walker::run() {
  if (read_trailer()) visit(top_, 0, "");
  return std::move(out_);
}

}  // namespace

BinaryCheck check_binary_plist(std::string_view bytes, std::string_view file) {
  return Walker(bytes, file).run();
}

}  // namespace xpcd::manifest::detail
