// Manifest hot reload end to end: a real xpcd watching its manifest
// directory, files added, rewritten and removed while it runs.
// Synchronisation: xpcd logs one line when it has acted on a change
// ("PATH: loaded 'L'", "PATH: booted out 'L'", "PATH: unchanged",
// "PATH: not loaded"); the test waits for that line with inotify on the log
// file and a deadline, reading only what was logged after the change.
// Process exits are awaited on a pidfd, also with a deadline.
#include "xpcd_fixture.hpp"

#include <xpc/connection.hpp>

#include <sys/inotify.h>

#include <chrono>
#include <fstream>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::XpcdFixture;

namespace {

constexpr auto kDeadline = 10s;

Object ask(const std::string& service, std::string_view text = "hello") {
  Connection c = Connection::mach_service(service);
  c.resume();
  Object reply = c.send_sync(Object{{"text", text}}, kDeadline);
  c.cancel();
  return reply;
}

std::int64_t pid_of(const Object& reply) { return reply["pid"].int64_or(-1); }

// Waits for lines xpcd logs after mark(): inotify on the log file, no sleeps.
class LogWaiter {
 public:
  explicit LogWaiter(const XpcdFixture& xpcd) : xpcd_(xpcd) {
    fd_ = UniqueFd::adopt(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    REQUIRE(fd_);
    REQUIRE(::inotify_add_watch(fd_.get(), (xpcd.root() / "xpcd.log").c_str(), IN_MODIFY) >= 0);
    mark();
  }

  void mark() { from_ = xpcd_.log().size(); }

  bool wait_for(const std::string& needle) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    for (;;) {
      std::string log = xpcd_.log();
      if (auto at = log.find(needle, from_); at != std::string::npos) {
        from_ = at + needle.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) == 1) {
        char buffer[4096];
        while (::read(fd_.get(), buffer, sizeof buffer) > 0) {
        }
      }
    }
  }

 private:
  const XpcdFixture& xpcd_;
  UniqueFd fd_;
  std::size_t from_ = 0;
};

UniqueFd open_pidfd(std::int64_t pid) {
  return UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)));
}

bool exits_within(const UniqueFd& pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

std::string manifest_text(const XpcdFixture& xpcd, const std::string& label, const std::string& service) {
  return "Label = \"" + label + "\"\nProgramArguments = [\"" + xpcd.service_binary() + "\", \"" + xpcd.state_dir() +
         "\"]\n[MachServices]\n\"" + service + "\" = true\n";
}

// As editors that save atomically do: a hidden temporary file renamed over
// the manifest.
void replace_file(const std::filesystem::path& path, const std::string& text) {
  auto temp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  std::ofstream(temp) << text;
  std::filesystem::rename(temp, path);
}

}  // namespace

TEST_CASE("a manifest added after start can be looked up") {
  XpcdFixture xpcd;
  xpcd.start();
  LogWaiter log(xpcd);
  CHECK(ask("com.test.added")[kErrorKeyCode].as_string() == "invalid");
  log.mark();
  xpcd.add_service("com.test.added", "com.test.added");
  REQUIRE_MESSAGE(log.wait_for("com.test.added.toml: loaded 'com.test.added'"), xpcd.log());
  Object reply = ask("com.test.added");
  REQUIRE_MESSAGE(reply.is(Type::Dictionary), reply.description() << "\n" << xpcd.log());
  CHECK(reply["text"].as_string() == "hello");
}

TEST_CASE("a removed manifest's name is not found any more and its running instance is stopped") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.gone", "com.test.gone");
  xpcd.start();
  LogWaiter log(xpcd);
  std::int64_t pid = pid_of(ask("com.test.gone"));
  REQUIRE(pid > 0);
  UniqueFd pidfd = open_pidfd(pid);
  REQUIRE(pidfd);
  log.mark();
  std::filesystem::remove(xpcd.root() / "manifests" / "com.test.gone.toml");
  REQUIRE_MESSAGE(log.wait_for("com.test.gone.toml: booted out 'com.test.gone'"), xpcd.log());
  CHECK(exits_within(pidfd, kDeadline));
  Object reply = ask("com.test.gone");
  CHECK(reply[kErrorKeyCode].as_string() == "invalid");
  CHECK(reply[kErrorKeyDescription].as_string() == "no service named 'com.test.gone' in the user domain");
}

TEST_CASE("a changed manifest takes effect: the old instance stops and the new definition serves") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.change", "com.test.old");
  xpcd.start();
  LogWaiter log(xpcd);
  std::int64_t first = pid_of(ask("com.test.old"));
  REQUIRE(first > 0);
  UniqueFd pidfd = open_pidfd(first);
  log.mark();
  replace_file(xpcd.root() / "manifests" / "com.test.change.toml", manifest_text(xpcd, "com.test.change", "com.test.new"));
  REQUIRE_MESSAGE(log.wait_for("com.test.change.toml: changed; booting out 'com.test.change'"), xpcd.log());
  REQUIRE_MESSAGE(log.wait_for("com.test.change.toml: loaded 'com.test.change'"), xpcd.log());
  CHECK(exits_within(pidfd, kDeadline));
  Object reply = ask("com.test.new");
  REQUIRE_MESSAGE(reply.is(Type::Dictionary), reply.description() << "\n" << xpcd.log());
  CHECK(pid_of(reply) != first);
  CHECK(ask("com.test.old")[kErrorKeyCode].as_string() == "invalid");
}

TEST_CASE("rewriting a manifest with the same definition leaves its job and instance alone") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.same", "com.test.same");
  xpcd.start();
  LogWaiter log(xpcd);
  std::int64_t pid = pid_of(ask("com.test.same"));
  REQUIRE(pid > 0);
  UniqueFd pidfd = open_pidfd(pid);
  log.mark();
  // Same keys, another layout and a comment: the same JobSpec.
  replace_file(xpcd.root() / "manifests" / "com.test.same.toml",
               "# reformatted\n" + manifest_text(xpcd, "com.test.same", "com.test.same"));
  REQUIRE_MESSAGE(log.wait_for("com.test.same.toml: unchanged"), xpcd.log());
  CHECK_FALSE(exits_within(pidfd, 0ms));
  CHECK(pid_of(ask("com.test.same")) == pid);
  CHECK(xpcd.started_pids().size() == 1);
}

TEST_CASE("a bad manifest dropped in is skipped with a diagnostic, and the others keep working") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.good", "com.test.good");
  xpcd.start();
  LogWaiter log(xpcd);
  std::int64_t pid = pid_of(ask("com.test.good"));
  REQUIRE(pid > 0);
  log.mark();
  xpcd.add_raw_manifest("bad.toml", "Label = 42\nProgram = \"/bin/true\"\n");
  REQUIRE_MESSAGE(log.wait_for("bad.toml: not loaded"), xpcd.log());
  // file:line:column: error: KeyPath: what is wrong
  CHECK_MESSAGE(xpcd.log().find("bad.toml:1:") != std::string::npos, xpcd.log());
  CHECK_MESSAGE(xpcd.log().find("error: Label:") != std::string::npos, xpcd.log());
  CHECK(pid_of(ask("com.test.good")) == pid);
  log.mark();
  xpcd.add_service("com.test.after", "com.test.after");  // still watching
  REQUIRE_MESSAGE(log.wait_for("com.test.after.toml: loaded 'com.test.after'"), xpcd.log());
  CHECK(pid_of(ask("com.test.after")) > 0);
}

TEST_CASE("a broken edit keeps the loaded definition, and fixing the file reloads it") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.edit", "com.test.edit");
  xpcd.start();
  LogWaiter log(xpcd);
  auto path = xpcd.root() / "manifests" / "com.test.edit.toml";
  replace_file(path, "Label = \"com.test.edit\"\nProgramArguments = 7\n");
  REQUIRE_MESSAGE(log.wait_for("com.test.edit.toml: not reloaded; 'com.test.edit' keeps its loaded definition"),
                  xpcd.log());
  CHECK(pid_of(ask("com.test.edit")) > 0);
  replace_file(path, manifest_text(xpcd, "com.test.edit", "com.test.edited"));
  REQUIRE_MESSAGE(log.wait_for("com.test.edit.toml: loaded 'com.test.edit'"), xpcd.log());
  CHECK(pid_of(ask("com.test.edited")) > 0);
}

TEST_CASE("a manifest directory missing at start is loaded once it is created") {
  XpcdFixture xpcd;
  std::filesystem::remove_all(xpcd.root() / "manifests");
  xpcd.start();
  LogWaiter log(xpcd);
  CHECK_MESSAGE(xpcd.log().find("manifests: does not exist; loaded when it is created") != std::string::npos,
                xpcd.log());
  std::filesystem::create_directories(xpcd.root() / "manifests");
  xpcd.add_service("com.test.late", "com.test.late");
  REQUIRE_MESSAGE(log.wait_for("com.test.late.toml: loaded 'com.test.late'"), xpcd.log());
  CHECK(pid_of(ask("com.test.late")) > 0);
}

TEST_CASE("a manifest refused for a taken label loads when the one holding it is removed") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.dup", "com.test.dup-a");
  xpcd.start();
  LogWaiter log(xpcd);
  xpcd.add_raw_manifest("second.toml", manifest_text(xpcd, "com.test.dup", "com.test.dup-b"));
  REQUIRE_MESSAGE(log.wait_for("second.toml: not loaded: com.test.dup: a job with this label is loaded already"),
                  xpcd.log());
  std::filesystem::remove(xpcd.root() / "manifests" / "com.test.dup.toml");
  REQUIRE_MESSAGE(log.wait_for("second.toml: loaded 'com.test.dup'"), xpcd.log());
  CHECK(pid_of(ask("com.test.dup-b")) > 0);
  CHECK(ask("com.test.dup-a")[kErrorKeyCode].as_string() == "invalid");
}
