// Persisted enable/disable (xpcctl enable/disable), launchd's overrides:
// a label's entry wins over its manifest's Disabled key at every load. The
// text format, one entry a line, is parsed and written here (pure); the
// command core reads and writes the file STATE_DIR/overrides.
//   # comment
//   disabled com.example.foo
//   enabled com.example.bar
// A label is the rest of the line after one space (any bytes but newline
// and NUL). Unknown or malformed lines are skipped with a warning, so a
// damaged file costs the entries it damaged, not all of them.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace xpcd::control {

struct Overrides {
  std::map<std::string, bool> disabled;  // label -> disabled (true) / enabled (false)
};

struct ParsedOverrides {
  Overrides overrides;
  std::vector<std::string> warnings;  // "line 3: ..."
};

ParsedOverrides parse_overrides(std::string_view text);
std::string format_overrides(const Overrides& overrides);
// Whether a label can be stored (not empty, no newline, no NUL).
bool storable_label(std::string_view label);

}  // namespace xpcd::control
