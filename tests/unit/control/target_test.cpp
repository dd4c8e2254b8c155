// Targets, domains and signals as xpcctl and xpcd parse them (target.hpp).
#include <doctest/doctest.h>

#include <csignal>

#include "control/target.hpp"

namespace xpcd::control {

TEST_CASE("targets name a domain, a job of a domain, or a job of the caller's domain") {
  auto system_job = parse_target("system/com.example.echo");
  REQUIRE(system_job);
  CHECK(system_job->domain == Domain{true, 0});
  CHECK(system_job->label == "com.example.echo");
  auto user_job = parse_target("user/1000/com.example.echo");
  REQUIRE(user_job);
  CHECK(user_job->domain == Domain{false, 1000});
  CHECK(user_job->label == "com.example.echo");
  auto bare = parse_target("com.example.echo");
  REQUIRE(bare);
  CHECK_FALSE(bare->domain);
  CHECK(bare->label == "com.example.echo");
  auto system = parse_target("system");
  REQUIRE(system);
  CHECK(system->label.empty());
  auto user = parse_target("user/0");
  REQUIRE(user);
  CHECK(user->domain == Domain{false, 0});
  CHECK(user->label.empty());
  SUBCASE("a label may hold slashes after its domain") {
    auto odd = parse_target("system/a/b");
    REQUIRE(odd);
    CHECK(odd->label == "a/b");
  }
  CHECK(to_string(*user_job) == "user/1000/com.example.echo");
  CHECK(to_string(Domain{false, 7}) == "user/7");
}

TEST_CASE("a malformed target is refused with a sentence saying what is wrong") {
  auto error = [](std::string_view text) {
    auto r = parse_target(text);
    REQUIRE_FALSE(r);
    return r.error();
  };
  CHECK(error("") .find("empty target") != std::string::npos);
  CHECK(error("gui/501/x").find("unknown domain 'gui'") != std::string::npos);
  CHECK(error("user").find("needs a UID") != std::string::npos);
  CHECK(error("user/abc/x").find("bad UID 'abc'") != std::string::npos);
  CHECK(error("user/-1").find("bad UID") != std::string::npos);
  CHECK(error("user/4294967295/x").find("bad UID") != std::string::npos);  // (uid_t)-1 is no uid
  CHECK(error("user/99999999999/x").find("bad UID") != std::string::npos);
  CHECK(error("system/").find("no label") != std::string::npos);
  CHECK(error("user/1000/").find("no label") != std::string::npos);
  CHECK(error("a/b").find("unknown domain 'a'") != std::string::npos);
}

TEST_CASE("a domain argument must be a domain") {
  CHECK(parse_domain("system").value() == Domain{true, 0});
  CHECK(parse_domain("user/1000").value() == Domain{false, 1000});
  CHECK_FALSE(parse_domain("system/x"));
  CHECK_FALSE(parse_domain("label"));
}

TEST_CASE("the default domain: system for root at the system daemon, else the caller's user domain") {
  CHECK(default_domain(0, true) == Domain{true, 0});
  CHECK(default_domain(0, false) == Domain{false, 0});
  CHECK(default_domain(1000, true) == Domain{false, 1000});
  CHECK(default_domain(1000, false) == Domain{false, 1000});
}

TEST_CASE("signals by name, with or without SIG, any case, or by number") {
  CHECK(parse_signal("TERM").value() == SIGTERM);
  CHECK(parse_signal("SIGTERM").value() == SIGTERM);
  CHECK(parse_signal("sigkill").value() == SIGKILL);
  CHECK(parse_signal("15").value() == 15);
  CHECK(parse_signal("1").value() == 1);
  CHECK(parse_signal("64").value() == 64);
  CHECK(parse_signal("USR1").value() == SIGUSR1);
  for (std::string_view bad : {"0", "65", "FOO", "SIG", "", "-9", "15x", "99999999999"}) {
    CAPTURE(bad);
    auto r = parse_signal(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("unknown signal") != std::string::npos);
  }
}

}  // namespace xpcd::control
