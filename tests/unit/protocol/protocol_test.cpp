// Where libxpc looks for xpcd (DESIGN 2).
#include <doctest/doctest.h>
#include <xpc/protocol.hpp>

#include <cstdlib>

using namespace xpc::protocol;

namespace {

struct Env {
  Env(const char* bootstrap, const char* runtime_dir) {
    set(kBootstrapEnv, bootstrap);
    set("XDG_RUNTIME_DIR", runtime_dir);
  }
  ~Env() {
    ::unsetenv(kBootstrapEnv);
    ::unsetenv("XDG_RUNTIME_DIR");
  }
  static void set(const char* name, const char* value) {
    if (value == nullptr) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value, 1);
    }
  }
};

}  // namespace

TEST_CASE("XPCD_BOOTSTRAP, when set, is the only socket asked, privileged or not") {
  Env env("/tmp/x/bootstrap", "/run/user/1000");
  CHECK(lookup_paths(0) == std::vector<std::string>{"/tmp/x/bootstrap"});
  CHECK(lookup_paths(kLookupPrivileged) == std::vector<std::string>{"/tmp/x/bootstrap"});
}

TEST_CASE("without XPCD_BOOTSTRAP a lookup asks the user domain, then the system domain") {
  Env env(nullptr, "/run/user/1000");
  CHECK(lookup_paths(0) == std::vector<std::string>{"/run/user/1000/xpcd/bootstrap", "/run/xpcd/bootstrap"});
  SUBCASE("a privileged lookup asks the system domain only") {
    CHECK(lookup_paths(kLookupPrivileged) == std::vector<std::string>{"/run/xpcd/bootstrap"});
  }
}

TEST_CASE("an empty XPCD_BOOTSTRAP counts as unset") {
  Env env("", "/run/user/1000");
  CHECK(lookup_paths(0) == std::vector<std::string>{"/run/user/1000/xpcd/bootstrap", "/run/xpcd/bootstrap"});
  CHECK(bootstrap_path(Domain::User) == "/run/user/1000/xpcd/bootstrap");
}

TEST_CASE("without XDG_RUNTIME_DIR there is no user domain to ask") {
  Env env(nullptr, nullptr);
  CHECK_FALSE(bootstrap_path(Domain::User).has_value());
  CHECK(lookup_paths(0) == std::vector<std::string>{"/run/xpcd/bootstrap"});
}
