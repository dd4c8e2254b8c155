// The overrides file of xpcctl enable/disable (overrides.hpp).
#include <doctest/doctest.h>

#include "control/overrides.hpp"

namespace xpcd::control {

TEST_CASE("overrides round-trip through their text") {
  Overrides o;
  o.disabled["com.example.a"] = true;
  o.disabled["com.example.b"] = false;
  o.disabled["label with spaces"] = true;
  auto parsed = parse_overrides(format_overrides(o));
  CHECK(parsed.warnings.empty());
  CHECK(parsed.overrides.disabled == o.disabled);
}

TEST_CASE("a damaged line costs that entry only, with a warning naming the line") {
  auto parsed = parse_overrides("# c\n\ndisabled a\nbogus b\ndisabled\nenabled c\nenabled \n");
  CHECK(parsed.overrides.disabled == std::map<std::string, bool>{{"a", true}, {"c", false}});
  REQUIRE(parsed.warnings.size() == 3);
  CHECK(parsed.warnings[0].starts_with("line 4:"));
  CHECK(parsed.warnings[1].starts_with("line 5:"));
  CHECK(parsed.warnings[2].starts_with("line 7:"));
}

TEST_CASE("the last entry for a label wins; a file without a final newline still counts") {
  auto parsed = parse_overrides("disabled a\nenabled a");
  CHECK(parsed.overrides.disabled == std::map<std::string, bool>{{"a", false}});
}

TEST_CASE("labels that cannot be stored") {
  CHECK(storable_label("com.example.a"));
  CHECK_FALSE(storable_label(""));
  CHECK_FALSE(storable_label("a\nb"));
  CHECK_FALSE(storable_label(std::string_view("a\0b", 3)));
}

}  // namespace xpcd::control
