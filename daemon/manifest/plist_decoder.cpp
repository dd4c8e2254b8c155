// decode_plist: XML or binary property list bytes to a Value tree through
// libplist, after the scanner or walker has checked what libplist does not.
#include <fmt/format.h>
#include <plist/plist.h>

#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "manifest/decoders.hpp"
#include "manifest/limits.hpp"

namespace xpcd::manifest {
namespace {

struct PlistFree {
  void operator()(plist_t p) const { plist_free(p); }
};
using PlistPtr = std::unique_ptr<void, PlistFree>;

struct CFree {
  void operator()(void* p) const { std::free(p); }  // NOLINT: libplist allocates with malloc
};

using PositionMap = std::unordered_map<std::string, Position>;

// Seconds between 1970-01-01 and 2001-01-01, the plist date epoch.
constexpr int64_t kPlistEpoch = 978307200;

class Converter {
 public:
  Converter(const PositionMap& positions, std::string_view file, Diagnostics& out)
      : positions_(positions), file_(file), out_(out) {}
  bool convert(plist_t node, const std::string& path, size_t depth, Value& v);

 private:
  bool convert_dict(plist_t node, const std::string& path, size_t depth, Value& v);
  bool convert_array(plist_t node, const std::string& path, size_t depth, Value& v);
  void scalar(plist_t node, plist_type type, Value& v);
  bool error(const std::string& path, std::string msg) {
    out_.push_back({Severity::error, std::string(file_), where(path), path, std::move(msg)});
    return false;
  }
  Position where(const std::string& path) const {
    auto it = positions_.find(path);
    return it == positions_.end() ? Position{} : it->second;
  }

  const PositionMap& positions_;
  std::string_view file_;
  Diagnostics& out_;
  size_t values_ = 0;
};

bool Converter::convert(plist_t node, const std::string& path, size_t depth, Value& v) {
  v.pos = where(path);
  if (++values_ > limits::kMaxValues) {
    return error(path, fmt::format("too many values (limit {})", limits::kMaxValues));
  }
  plist_type type = plist_get_node_type(node);
  switch (type) {
    case PLIST_DICT: return convert_dict(node, path, depth + 1, v);
    case PLIST_ARRAY: return convert_array(node, path, depth + 1, v);
    case PLIST_BOOLEAN:
    case PLIST_UINT:
    case PLIST_REAL:
    case PLIST_STRING:
    case PLIST_DATE:
    case PLIST_DATA:
      scalar(node, type, v);
      return true;
    case PLIST_KEY:
    case PLIST_UID:
    case PLIST_NONE:
      break;
  }
  return error(path, "unsupported property list value (expected a plist type, got a keyed-archive UID)");
}

bool Converter::convert_dict(plist_t node, const std::string& path, size_t depth, Value& v) {
  v.kind = Kind::dict;
  if (depth > limits::kMaxDepth) {
    return error(path, fmt::format("nesting too deep (limit {} levels)", limits::kMaxDepth));
  }
  plist_dict_iter iter = nullptr;
  plist_dict_new_iter(node, &iter);
  std::unique_ptr<void, CFree> iter_owner(iter);
  for (;;) {
    char* raw_key = nullptr;
    plist_t child = nullptr;
    plist_dict_next_item(node, iter, &raw_key, &child);
    std::unique_ptr<char, CFree> key(raw_key);
    if (!child || !key) break;
    v.keys.emplace_back(key.get());
    v.items.emplace_back();
    if (!convert(child, child_path(path, key.get()), depth, v.items.back())) return false;
  }
  return true;
}

bool Converter::convert_array(plist_t node, const std::string& path, size_t depth, Value& v) {
  v.kind = Kind::array;
  if (depth > limits::kMaxDepth) {
    return error(path, fmt::format("nesting too deep (limit {} levels)", limits::kMaxDepth));
  }
  uint32_t n = plist_array_get_size(node);
  v.items.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!convert(plist_array_get_item(node, i), index_path(path, i), depth, v.items[i])) return false;
  }
  return true;
}

void Converter::scalar(plist_t node, plist_type type, Value& v) {
  uint64_t len = 0;
  if (type == PLIST_BOOLEAN) {
    uint8_t b = 0;
    plist_get_bool_val(node, &b);
    v.kind = Kind::boolean;
    v.boolean = b != 0;
  } else if (type == PLIST_UINT) {
    uint64_t u = 0;
    plist_get_uint_val(node, &u);
    v.kind = Kind::integer;
    v.integer = static_cast<int64_t>(u);  // libplist stores negatives in two's complement
  } else if (type == PLIST_REAL) {
    v.kind = Kind::real;
    plist_get_real_val(node, &v.real);
  } else if (type == PLIST_STRING) {
    v.kind = Kind::string;
    const char* p = plist_get_string_ptr(node, &len);
    if (p) v.text.assign(p, len);
  } else if (type == PLIST_DATA) {
    v.kind = Kind::data;
    const char* p = plist_get_data_ptr(node, &len);
    if (p) v.text.assign(p, len);
  } else {
    int32_t sec = 0, usec = 0;
    plist_get_date_val(node, &sec, &usec);
    v.kind = Kind::date;
    v.integer = kPlistEpoch + sec;
    v.text = fmt::format("@{}", v.integer);
  }
}

Decoded finish(plist_t raw, const PositionMap& positions, std::string_view file, Diagnostics diags,
               std::string_view what) {
  Decoded d;
  d.diagnostics = std::move(diags);
  PlistPtr root(raw);
  if (!root) {
    if (!has_errors(d.diagnostics)) {
      d.diagnostics.push_back({Severity::error, std::string(file), {}, "",
                               fmt::format("not a valid {} property list", what)});
    }
    return d;
  }
  d.ok = Converter(positions, file, d.diagnostics).convert(root.get(), "", 0, d.root);
  return d;
}

}  // namespace

bool is_binary_plist(std::string_view bytes) { return bytes.substr(0, 7) == "bplist0"; }

Decoded decode_plist(std::string_view bytes, std::string_view file) {
  if (bytes.size() > limits::kMaxManifestBytes) {
    Decoded d;
    d.diagnostics.push_back({Severity::error, std::string(file), {}, "",
                             fmt::format("file too large (limit {} bytes, got {})",
                                         limits::kMaxManifestBytes, bytes.size())});
    return d;
  }
  plist_t raw = nullptr;
  if (is_binary_plist(bytes)) {
    detail::BinaryCheck check = detail::check_binary_plist(bytes, file);
    if (check.fatal) return Decoded{false, {}, std::move(check.diagnostics)};
    plist_from_bin(bytes.data(), static_cast<uint32_t>(bytes.size()), &raw);
    return finish(raw, {}, file, std::move(check.diagnostics), "binary");
  }
  detail::XmlScan scan = detail::scan_xml_plist(bytes, file);
  if (scan.fatal) return Decoded{false, {}, std::move(scan.diagnostics)};
  PositionMap positions(scan.positions.begin(), scan.positions.end());
  plist_from_xml(bytes.data(), static_cast<uint32_t>(bytes.size()), &raw);
  return finish(raw, positions, file, std::move(scan.diagnostics), "XML");
}

}  // namespace xpcd::manifest
