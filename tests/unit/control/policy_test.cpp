// The permission rules of the control plane (policy.hpp).
#include <doctest/doctest.h>

#include "control/policy.hpp"

namespace xpcd::control {

TEST_CASE("anyone may read any domain") {
  CHECK_FALSE(check_access("print", Access::read, Domain{true, 0}, 65534));
  CHECK_FALSE(check_access("list", Access::read, Domain{false, 1000}, 65534));
}

TEST_CASE("changing the system domain needs root") {
  CHECK_FALSE(check_access("kickstart", Access::change, Domain{true, 0}, 0));
  auto refusal = check_access("kickstart", Access::change, Domain{true, 0}, 1000);
  REQUIRE(refusal);
  CHECK(refusal->rule == "system-domain-needs-root");
  CHECK(refusal->text.find("system-domain-needs-root") != std::string::npos);
  CHECK(refusal->text.find("uid 1000") != std::string::npos);
  CHECK(refusal->text.find("'kickstart'") != std::string::npos);
}

TEST_CASE("changing a user domain needs its own uid or root") {
  CHECK_FALSE(check_access("disable", Access::change, Domain{false, 1000}, 1000));
  CHECK_FALSE(check_access("disable", Access::change, Domain{false, 1000}, 0));
  auto refusal = check_access("disable", Access::change, Domain{false, 1000}, 1001);
  REQUIRE(refusal);
  CHECK(refusal->rule == "user-domain-owner-or-root");
  CHECK(refusal->text.find("user/1000") != std::string::npos);
  CHECK(refusal->text.find("uid 1001") != std::string::npos);
  SUBCASE("root's own user domain is no exception") {
    auto r = check_access("kill", Access::change, Domain{false, 0}, 65534);
    REQUIRE(r);
    CHECK(r->rule == "user-domain-owner-or-root");
  }
}

}  // namespace xpcd::control
