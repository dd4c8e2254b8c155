// xpcd end to end: a real daemon, real manifests, a real launched service,
// libxpc as the client. Lazy launch, one instance for many clients,
// messages sent before the service runs, failures reported with their
// reason, crash then relaunch, no fd leaked into the service.
#include "xpcd_fixture.hpp"

#include <xpc/connection.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::XpcdFixture;

namespace {

Object ask(Connection& c, std::string_view text, std::chrono::milliseconds timeout = 10s) {
  return c.send_sync(Object{{"text", text}}, timeout);
}

std::int64_t pid_of(const Object& reply) { return reply["pid"].int64_or(-1); }

}  // namespace

TEST_CASE("a service is not running before its first lookup, and one instance serves every client") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.lazy", "com.test.lazy");
  xpcd.start();
  CHECK(xpcd.started_pids().empty());

  Connection first = Connection::mach_service("com.test.lazy");
  first.resume();
  Object reply = ask(first, "hello");
  REQUIRE_MESSAGE(reply.is(Type::Dictionary), reply.description() << "\n" << xpcd.log());
  CHECK(reply["text"].as_string() == "hello");
  CHECK(reply["peer-pid"].as_int64() == getpid());
  CHECK(reply["peer-uid"].as_uint64() == getuid());
  CHECK(reply["peer-exe"].string_or("").find("daemon_lazy_launch_test") != std::string::npos);
  REQUIRE(xpcd.started_pids().size() == 1);
  CHECK(xpcd.started_pids()[0] == pid_of(reply));

  std::set<std::int64_t> pids{pid_of(reply)};
  std::vector<Connection> more;
  for (int i = 0; i < 3; ++i) {
    more.push_back(Connection::mach_service("com.test.lazy"));
    more.back().resume();
    pids.insert(pid_of(ask(more.back(), "again")));
  }
  CHECK(pids.size() == 1);
  CHECK(xpcd.started_pids().size() == 1);
  for (auto& c : more) c.cancel();
  first.cancel();
}

TEST_CASE("a message sent before the service has started is waiting for it when it checks in") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.early", "com.test.early");
  xpcd.start();
  Connection c = Connection::mach_service("com.test.early");
  c.resume();
  auto replies = std::make_shared<test::EventQueue<Object>>();
  // Two messages at once: the lookup returns before the launch, so both
  // sit in the socket until the new instance reads them.
  c.send(Object{{"text", "one"}}, [replies](const Object& r) { replies->push(r); });
  c.send(Object{{"text", "two"}}, [replies](const Object& r) { replies->push(r); });
  auto one = replies->pop();
  auto two = replies->pop();
  REQUIRE(one.has_value());
  REQUIRE(two.has_value());
  CHECK((*one)["text"].as_string() == "one");
  CHECK((*two)["text"].as_string() == "two");
  c.cancel();
}

TEST_CASE("a launch that cannot exec fails the lookup at once, with the reason") {
  XpcdFixture xpcd;
  xpcd.add_raw_manifest("broken.toml",
                        "Label = \"com.test.broken\"\nProgram = \"/nonexistent/xpcd-test-program\"\n"
                        "[MachServices]\n\"com.test.broken\" = true\n");
  xpcd.start();
  Connection c = Connection::mach_service("com.test.broken");
  c.resume();
  auto started = std::chrono::steady_clock::now();
  Object reply = ask(c, "anyone?");
  CHECK(std::chrono::steady_clock::now() - started < 5s);  // not a timeout
  CHECK(reply[kErrorKeyCode].as_string() == "invalid");
  std::string reason = reply[kErrorKeyDescription].string_or("");
  CHECK_MESSAGE(reason.find("com.test.broken") != std::string::npos, reason);
  CHECK_MESSAGE(reason.find("/nonexistent/xpcd-test-program") != std::string::npos, reason);
  CHECK_MESSAGE(reason.find("No such file or directory") != std::string::npos, reason);
}

TEST_CASE("a service that exits before checking in fails the lookup at once, with its status") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.quitter", "com.test.quitter", "", {"--exit-before-checkin", "3"});
  xpcd.start();
  Connection c = Connection::mach_service("com.test.quitter");
  c.resume();
  Object reply = ask(c, "anyone?");
  CHECK(reply[kErrorKeyCode].as_string() == "invalid");
  std::string reason = reply[kErrorKeyDescription].string_or("");
  CHECK_MESSAGE(reason.find("com.test.quitter") != std::string::npos, reason);
  CHECK_MESSAGE(reason.find("3") != std::string::npos, reason);
}

TEST_CASE("an unknown name is invalid, naming the name and the domain") {
  XpcdFixture xpcd;
  xpcd.start();
  Connection c = Connection::mach_service("com.test.nobody");
  c.resume();
  Object reply = ask(c, "hello");
  CHECK(reply[kErrorKeyCode].as_string() == "invalid");
  CHECK(reply[kErrorKeyDescription].as_string() == "no service named 'com.test.nobody' in the user domain");
}

TEST_CASE("a crash gives interrupted, and the next send relaunches the service") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.crashy", "com.test.crashy", "ThrottleInterval = 1");
  xpcd.start();
  Connection c = Connection::mach_service("com.test.crashy");
  // Shared with the handler, which may outlive this scope if a check fails.
  auto events = std::make_shared<test::EventQueue<Object>>();
  c.set_event_handler([events](const Object& e) { events->push(e); });
  c.resume();
  std::int64_t first = pid_of(ask(c, "before"));
  REQUIRE(first > 0);
  c.send(Object{{"op", "exit"}, {"code", 1}});
  auto event = events->pop();
  REQUIRE(event.has_value());
  CHECK((*event)[kErrorKeyCode].as_string() == "interrupted");
  Object after = ask(c, "after", 15s);
  REQUIRE_MESSAGE(after.is(Type::Dictionary), after.description() << "\n" << xpcd.log());
  CHECK(pid_of(after) != first);
  CHECK(xpcd.started_pids().size() == 2);
  c.cancel();
  CHECK((*events->pop())[kErrorKeyCode].as_string() == "invalid");
}

TEST_CASE("a launched service gets stdio and its checkin channel, and no other fd of xpcd") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.fds", "com.test.fds");
  xpcd.start();
  Connection c = Connection::mach_service("com.test.fds");
  c.resume();
  std::int64_t pid = pid_of(ask(c, "fds?"));
  REQUIRE(pid > 0);
  std::istringstream record(xpcd.started_record(static_cast<int>(pid)));
  std::string word, fds, checkin;
  record >> word;
  std::getline(record, fds);
  record >> word >> checkin;
  CHECK(fds == " 0 1 2 " + checkin);
  c.cancel();
}

namespace {

// "Max open files" of /proc/PID/limits: {soft, hard}.
std::pair<std::string, std::string> open_file_limits(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(std::strlen("Max open files")));
    std::string soft, hard;
    fields >> soft >> hard;
    return {soft, hard};
  }
  return {};
}

// Sets this process's soft RLIMIT_NOFILE (xpcd inherits it) for a scope.
class SoftNofile {
 public:
  explicit SoftNofile(rlim_t soft) {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    REQUIRE(saved_.rlim_max > soft);
    rlimit lowered{soft, saved_.rlim_max};
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~SoftNofile() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  rlim_t hard() const { return saved_.rlim_max; }

 private:
  rlimit saved_{};
};

}  // namespace

TEST_CASE("xpcd raises its open file limit to the hard one, and jobs get the soft limit it started with") {
  SoftNofile started(1000);
  XpcdFixture xpcd;
  xpcd.add_service("com.test.nofile", "com.test.nofile");
  xpcd.add_service("com.test.nofile-set", "com.test.nofile-set", "[SoftResourceLimits]\nNumberOfFiles = 900\n");
  xpcd.start();
  std::string hard = std::to_string(started.hard());
  CHECK(open_file_limits(xpcd.pid()) == std::pair{hard, hard});
  for (auto [name, soft] : {std::pair{"com.test.nofile", "1000"}, {"com.test.nofile-set", "900"}}) {
    CAPTURE(name);
    Connection c = Connection::mach_service(name);
    c.resume();
    std::int64_t pid = pid_of(ask(c, "limits?"));
    REQUIRE(pid > 0);
    CHECK(open_file_limits(static_cast<pid_t>(pid)) == std::pair<std::string, std::string>{soft, hard});
    c.cancel();
  }
}
