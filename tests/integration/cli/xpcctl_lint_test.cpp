// xpcctl as users run it: exit codes 0/1/2, diagnostics on stdout, --json.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Run {
  int status;
  std::string out;
};

// Runs xpcctl with the given (shell-quoted) arguments, capturing stdout.
Run xpcctl(const std::string& args) {
  std::string cmd = std::string(XPCCTL) + " " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "xpcctl-lint-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

}  // namespace

TEST_CASE("lint exits 0 on clean manifests and 1 on any error") {
  CHECK(xpcctl("lint " XPCD_SCHEMA_DIR "/examples").status == 0);
  TempDir d;
  std::string warn = d.write("w.toml", "Label = \"a\"\nProgram = \"/bin/true\"\nDebug = true\n");
  Run w = xpcctl("lint " + warn);
  CHECK(w.status == 0);
  CHECK(w.out == warn + ":3:1: warning: Debug: not supported on Linux, ignored: sets launchd's per-job log mask; use xpcd's log level\n"
                        "1 manifest(s): 1 loadable, 0 error(s), 1 warning(s)\n");
  std::string bad = d.write("b.toml", "Label = 5\nProgram = \"/bin/true\"\n");
  Run b = xpcctl("lint " + warn + " " + bad);
  CHECK(b.status == 1);
  CHECK(b.out.find(bad + ":1:1: error: Label: wrong type (expected string, got integer)\n") != std::string::npos);
  CHECK(b.out.ends_with("2 manifest(s): 1 loadable, 1 error(s), 1 warning(s)\n"));
}

TEST_CASE("lint --json prints one document") {
  TempDir d;
  std::string bad = d.write("b.toml", "Label = 5\nProgram = \"/bin/true\"\n");
  Run r = xpcctl("lint --json " + bad);
  CHECK(r.status == 1);
  CHECK(r.out == "{\"manifests\":[{\"path\":\"" + bad + "\",\"loadable\":false,\"label\":null,\"diagnostics\":[{\"file\":\"" +
                     bad + "\",\"line\":1,\"col\":1,\"severity\":\"error\",\"key\":\"Label\",\"message\":\"wrong type (expected string, got integer)\"}]}],"
                     "\"path_errors\":[],\"errors\":1,\"warnings\":0}\n");
}

TEST_CASE("usage errors exit 2, help exits 0") {
  CHECK(xpcctl("").status == 2);
  CHECK(xpcctl("frobnicate").status == 2);
  CHECK(xpcctl("lint").status == 2);
  CHECK(xpcctl("lint --bogus x").status == 2);
  CHECK(xpcctl("explain").status == 2);
  CHECK(xpcctl("--help").status == 0);
  CHECK(xpcctl("lint --help").status == 0);
}

TEST_CASE("explain prints the schema entry of nested keys") {
  Run r = xpcctl("explain Sockets.Listeners.SockType");
  CHECK(r.status == 0);
  CHECK(r.out == "Sockets.*.SockType  (launchd.plist(5))\n  type:     string (string)\n  default:  stream\n"
                 "  allowed:  stream, dgram, seqpacket (any case)\n  linux:    yes\n  meaning:  Socket type.\n");
  CHECK(xpcctl("explain XPCService.ServiceType").status == 0);
  CHECK(xpcctl("explain KeepAlive.SuccessfulExit").out.starts_with("KeepAlive.SuccessfulExit  (launchd.plist(5))\n"));
  CHECK(xpcctl("explain NoSuchKey").status == 1);
  CHECK(xpcctl("explain --all").out.find("MachServices.*.HideUntilCheckIn") != std::string::npos);
}
