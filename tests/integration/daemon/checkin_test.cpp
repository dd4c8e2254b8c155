// The checkin channel seen from xpcd's side (DESIGN 5.3) with a real
// daemon: a service that stops reading it must not stop xpcd, and gets
// every connection queued for it once it reads again; an instance that
// closed it but lives on fails what waits for it, with the reason, instead
// of keeping its clients waiting for ever.
#include "xpcd_fixture.hpp"

#include <xpc/connection.hpp>
#include <xpc/transport.hpp>

#include <signal.h>

#include <chrono>
#include <vector>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::raw_lookup;
using xpc::test::XpcdFixture;

namespace {

// Sends one request on a connection socket from a raw lookup and waits
// (bounded) for its reply.
Object request(int fd, std::uint64_t id, const Object& body) {
  REQUIRE(wire::send(fd, {id, 0, true, body}).ok());
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10'000) == 1);
  auto reply = wire::receive(fd);
  REQUIRE(reply.ok());
  return reply->body;
}

}  // namespace

// 250 lookups (under the default 256 per uid) are more connection events
// than a checkin channel's socket buffer holds (about 170): a blocking
// send in xpcd would freeze it here.
TEST_CASE("a service that stops reading its checkin channel does not stop xpcd, and gets every connection later") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.stall", "com.test.stall");
  xpcd.add_service("com.test.other", "com.test.other");
  xpcd.start();

  Connection first = Connection::mach_service("com.test.stall");
  first.set_event_handler([](const Object&) {});
  first.resume();
  Object hello = first.send_sync(Object{{"text", "hello"}}, 10s);
  REQUIRE_MESSAGE(hello["pid"].int64_or(0) > 0, hello.description());
  auto pid = static_cast<pid_t>(hello["pid"].int64_or(0));
  // Its loop stops in this handler; a barrier-free way to know it did is
  // not needed: the lookups below queue up whether it stalled yet or not.
  first.send(Object{{"op", "stall"}});

  constexpr int kQueued = 250;
  std::vector<Object> lookups;
  for (int i = 0; i < kQueued; ++i) {
    lookups.push_back(raw_lookup("com.test.stall"));
    REQUIRE_MESSAGE(lookups.back()[protocol::kFd].borrowed_fd() >= 0, lookups.back().description() << "\n" << xpcd.log());
  }
  // xpcd still serves everyone else: another service is launched and answers.
  Connection other = Connection::mach_service("com.test.other");
  other.set_event_handler([](const Object&) {});
  other.resume();
  Object answer = other.send_sync(Object{{"text", "still here"}}, 10s);
  CHECK_MESSAGE(answer["text"].as_string() == "still here", answer.description() << "\n" << xpcd.log());

  // The stalled instance reads again and takes every queued connection.
  REQUIRE(::kill(pid, SIGUSR1) == 0);
  for (int i = 0; i < kQueued; ++i) {
    Object reply = request(lookups[i][protocol::kFd].borrowed_fd(), 1, Object{{"text", std::to_string(i)}});
    CHECK(reply["text"].as_string() == std::to_string(i));
    CHECK(reply["pid"].int64_or(0) == pid);
  }
  CHECK(xpcd.started_pids().size() == 2);
}

TEST_CASE("an instance that closed its checkin channel and lives on: its clients are told why, not left waiting") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.closer", "com.test.closer", "", {"--close-checkin"});
  xpcd.start();

  // Handed to the instance ahead of its check-in, never accepted: failed
  // once the grace (supervisor/limits.hpp, 2 s) is over.
  Connection c = Connection::mach_service("com.test.closer");
  c.set_event_handler([](const Object&) {});
  c.resume();
  Object reply = c.send_sync(Object{{"text", "anyone?"}}, 20s);
  CHECK(reply[kErrorKeyCode].as_string() == protocol::kErrorInvalid);
  CHECK_MESSAGE(std::string(reply[kErrorKeyDescription].as_string().value_or("")).find("closed its checkin channel and takes no more connections") !=
                    std::string::npos,
                reply.description());

  // Once the grace is over, a new lookup is refused at once, not held.
  Object lookup = raw_lookup("com.test.closer");
  Object failure = xpc::test::failure_on(lookup);
  CHECK(failure[kErrorKeyCode].as_string() == protocol::kErrorInvalid);
  CHECK(std::string(failure[kErrorKeyDescription].as_string().value_or("")).find("closed its checkin channel") != std::string::npos);
  CHECK(xpcd.started_pids().size() == 1);
}
