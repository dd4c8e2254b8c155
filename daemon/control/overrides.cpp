// The overrides file format (overrides.hpp).
#include "control/overrides.hpp"

namespace xpcd::control {

bool storable_label(std::string_view label) {
  return !label.empty() && label.find('\n') == std::string_view::npos && label.find('\0') == std::string_view::npos;
}

ParsedOverrides parse_overrides(std::string_view text) {
  ParsedOverrides out;
  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.find(' ');
    std::string_view word = line.substr(0, space);
    std::string_view label = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    if ((word != "disabled" && word != "enabled") || !storable_label(label)) {
      out.warnings.push_back("line " + std::to_string(number) +
                             ": expected 'disabled LABEL' or 'enabled LABEL', skipped");
      continue;
    }
    out.overrides.disabled[std::string(label)] = word == "disabled";
  }
  return out;
}

std::string format_overrides(const Overrides& overrides) {
  std::string text = "# xpcctl enable/disable, written by xpcd: wins over a manifest's Disabled key\n";
  for (const auto& [label, disabled] : overrides.disabled) {
    text += (disabled ? "disabled " : "enabled ") + label + "\n";
  }
  return text;
}

}  // namespace xpcd::control
