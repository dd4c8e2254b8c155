// Diagnostics: what the manifest decoders, the validator and the JobSpec
// builder report about a manifest, as values. A list of these is the outcome
// of loading a manifest; nothing here logs or prints by itself.
// Not a logger: the caller that decides (xpcctl lint, the daemon) prints them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xpcd::manifest {

enum class Severity { warning, error };

std::string_view to_string(Severity s);

// A place in a manifest file. line and col are 1-based; 0 means the format
// does not say (libplist's binary plists carry no positions).
struct Position {
  uint32_t line = 0;
  uint32_t col = 0;
  bool known() const { return line != 0; }
};

// One problem. Rendered as
//   FILE:LINE:COL: SEVERITY: KeyPath: message
// where ":LINE:COL" is left out when unknown and "KeyPath: " when the problem
// concerns the file as a whole. message reads "what is wrong (expected X,
// got Y)" wherever there is an expectation to state.
struct Diagnostic {
  Severity severity = Severity::error;
  std::string file;
  Position pos;
  std::string key_path;
  std::string message;
};

using Diagnostics = std::vector<Diagnostic>;

std::string format(const Diagnostic& d);
// One JSON object: {"file":..,"line":..,"col":..,"severity":..,"key":..,"message":..}
std::string to_json(const Diagnostic& d);
// JSON string literal (with quotes) for arbitrary bytes; invalid UTF-8 is
// replaced by \ufffd so the output is always valid JSON.
std::string json_quote(std::string_view s);
// Printable rendering of a key or value for messages: control characters and
// invalid UTF-8 bytes become \xNN, long texts are cut with "...".
std::string printable(std::string_view s, size_t max_len = 80);

bool has_errors(const Diagnostics& ds);
bool is_valid_utf8(std::string_view s);
size_t count(const Diagnostics& ds, Severity s);

}  // namespace xpcd::manifest
