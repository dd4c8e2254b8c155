// The system domain's ownership rule for manifests (manifest/loader.hpp
// check_system_ownership, DESIGN 3): root-owned and not writable by group
// or others, the file and its directory. Needs root to chown (CI runs as
// root); skipped otherwise.
#include "manifest/loader.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace xpcd::manifest;

namespace {

std::string only_message(const Diagnostics& d) {
  REQUIRE(d.size() == 1);
  CHECK(d[0].severity == Severity::error);
  return d[0].message;
}

}  // namespace

TEST_CASE("system-domain manifests: root's and writable by root only, file and directory") {
  if (::geteuid() != 0) {
    MESSAGE("not root: cannot chown, skipped");
    return;
  }
  auto dir = std::filesystem::temp_directory_path() / ("xpcd-ownership-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  std::string file = (dir / "job.toml").string();
  std::ofstream(file) << "Label = \"x\"\n";
  REQUIRE(::chmod(file.c_str(), 0644) == 0);

  CHECK(check_system_ownership(file).empty());

  SUBCASE("a file owned by someone else") {
    REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
    CHECK(only_message(check_system_ownership(file)) ==
          "refused: " + file + " is owned by uid 65534, not root (system-domain manifests and their directories "
                               "must be root's)");
  }
  SUBCASE("a group-writable file") {
    REQUIRE(::chmod(file.c_str(), 0664) == 0);
    CHECK(only_message(check_system_ownership(file)).find("is writable by its group (mode 0664)") != std::string::npos);
  }
  SUBCASE("a world-writable directory") {
    REQUIRE(::chmod(dir.c_str(), 0757) == 0);
    CHECK(only_message(check_system_ownership(file)) ==
          "refused: " + dir.string() + " is writable by others (mode 0757); system-domain manifests and their "
                                       "directories must be writable by root only");
  }
  SUBCASE("a file that is gone") {
    std::filesystem::remove(file);
    CHECK(only_message(check_system_ownership(file)).find("cannot check who owns") == 0);
  }
  std::filesystem::remove_all(dir);
}
