// Test helpers for the manifest module: load text as a manifest with the
// built-in schemas and render diagnostics as the exact lines lint prints.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "manifest/loader.hpp"

// Prints diagnostics lines in failed CHECKs.
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const std::string& s : v) out += "\n  \"" + s + "\"";
    return (out + "\n}").c_str();
  }
};

namespace xpcd::manifest::test {

inline const Schemas& schemas() {
  static const Schemas s = [] {
    auto r = load_builtin_schemas();
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
    return std::move(r.value());
  }();
  return s;
}

inline LoadedManifest load_text(std::string_view text, Format f = Format::plist,
                                std::string file = "t.plist") {
  return load_manifest_bytes(text, f, SourceInfo{file, "/bundle", false}, schemas());
}

inline std::vector<std::string> lines(const LoadedManifest& m) {
  std::vector<std::string> out;
  for (const Diagnostic& d : m.diagnostics) out.push_back(format(d));
  return out;
}

// A launchd XML plist whose root dictionary holds `body` after a valid
// Label and Program.
inline std::string job_xml(std::string_view body) {
  return std::string(
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n"
             "<key>Label</key><string>com.example.t</string>\n"
             "<key>Program</key><string>/bin/true</string>\n") +
         std::string(body) + "</dict>\n</plist>\n";
}

// Serialises an XML plist to binary with libplist (decoder_test.cpp).
std::string to_binary(std::string_view xml);

inline std::string job_toml(std::string_view body) {
  return "Label = \"com.example.t\"\nProgram = \"/bin/true\"\n" + std::string(body);
}

}  // namespace xpcd::manifest::test
