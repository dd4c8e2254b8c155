// Value: the format-neutral tree every manifest decoder produces (XML and
// binary plists through libplist, TOML through toml++), with the position of
// each value where the format gives one. The validator and the JobSpec
// builder work on this tree only, so they do not know which format it was.
// Not a general plist library: only what manifests need (no UIDs, no writing).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/diagnostic.hpp"

namespace xpcd::manifest {

enum class Kind { boolean, integer, real, string, date, data, array, dict };

// Name used in diagnostics ("expected string, got dictionary").
std::string_view to_string(Kind k);

struct Value {
  Kind kind = Kind::string;
  Position pos;                  // of the value, or of its key in a dict
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;              // string; date as ISO 8601; data as bytes
  std::vector<std::string> keys; // dict: keys[i] names items[i], file order
  std::vector<Value> items;      // array elements or dict values

  // The member named key of a dict, or nullptr (also for non-dicts).
  const Value* find(std::string_view key) const;
  bool is_number() const { return kind == Kind::integer || kind == Kind::real; }
  double as_double() const { return kind == Kind::real ? real : static_cast<double>(integer); }
};

// Result of decoding one file: the tree when the bytes decoded at all, plus
// every problem found on the way (which may include errors even when a tree
// is returned, e.g. a duplicate key).
struct Decoded {
  bool ok = false;
  Value root;
  Diagnostics diagnostics;
};

// Appends ".key" (or "key" at the top) and "[i]" to build concrete key paths
// like "Sockets.Listeners[1].SockType".
std::string child_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, size_t index);

}  // namespace xpcd::manifest
