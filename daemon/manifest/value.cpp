// Value tree helpers.
#include "manifest/value.hpp"

#include <fmt/format.h>

namespace xpcd::manifest {

std::string_view to_string(Kind k) {
  switch (k) {
    case Kind::boolean: return "bool";
    case Kind::integer: return "integer";
    case Kind::real: return "real";
    case Kind::string: return "string";
    case Kind::date: return "date";
    case Kind::data: return "data";
    case Kind::array: return "array";
    case Kind::dict: return "dictionary";
  }
  return "value";
}

const Value* Value::find(std::string_view key) const {
  if (kind != Kind::dict) return nullptr;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &items[i];
  }
  return nullptr;
}

std::string child_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string index_path(std::string_view parent, size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

}  // namespace xpcd::manifest
