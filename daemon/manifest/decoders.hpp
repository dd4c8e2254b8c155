// The manifest decoders: bytes of one file to a Value tree plus diagnostics.
// plist: XML through libplist, checked first by an XML scanner (libplist 2.2
// silently keeps the last of duplicate keys, reads "@VAR@" as integer 0 and
// saturates out-of-range integers; the scanner reports those with line and
// column); binary through libplist, checked first by a structure walker
// (libplist 2.2 overflows its stack on deep nesting). TOML through toml++
// built without exceptions. Pure: no file access here (see loader.hpp).
#pragma once

#include <string_view>

#include "manifest/value.hpp"

namespace xpcd::manifest {

// file only names the input in diagnostics.
Decoded decode_plist(std::string_view bytes, std::string_view file);
Decoded decode_toml(std::string_view bytes, std::string_view file);

// True if bytes start with the binary plist magic "bplist0".
bool is_binary_plist(std::string_view bytes);

// Internal steps of decode_plist, exposed for tests.
namespace detail {
// Scans XML plist text for what libplist does not report: nesting depth,
// value count, duplicate keys, integer and real syntax and range, stray text
// (C preprocessor lines), invalid UTF-8 in keys. Records the position of
// every value by concrete key path into positions (path -> position).
struct XmlScan {
  Diagnostics diagnostics;
  std::vector<std::pair<std::string, Position>> positions;
  bool fatal = false;  // do not hand the bytes to libplist
};
XmlScan scan_xml_plist(std::string_view bytes, std::string_view file);

// Walks a binary plist's object graph without recursion into libplist:
// bounds, depth, expanded value count, key types, duplicate keys, integers
// wider than 64 bits. fatal means libplist must not see the bytes.
struct BinaryCheck {
  Diagnostics diagnostics;
  bool fatal = false;
};
BinaryCheck check_binary_plist(std::string_view bytes, std::string_view file);
}  // namespace detail

}  // namespace xpcd::manifest
