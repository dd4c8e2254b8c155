// libxpc connections in the orders that used to go wrong, each scripted
// against a service played by hand (manual_service.hpp), so the test
// decides what the client reads when: a suspended connection whose peer
// closes, EOF read by a synchronous send, messages read by a synchronous
// send beside those the loop reads, two first sends at once, and a
// listener cancelled while it starts.
#include "fake_xpcd.hpp"
#include "manual_service.hpp"

#include <doctest/doctest.h>
#include <event_queue.hpp>
#include <fd_count.hpp>
#include <xpc/connection.hpp>
#include <xpc/xpc.h>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

using namespace xpc;
using xpc::test::EventQueue;
using xpc::test::FakeXpcd;
using xpc::test::ManualService;
using namespace std::chrono_literals;

namespace {

constexpr const char* kName = "com.test.manual";

// Runs once everything the loop had to do when it was called is done,
// including every epoll event that was ready then: the first barrier runs
// in the batch that holds those events, the second in a later batch.
void settle_loop() {
  for (int i = 0; i < 2; ++i) {
    EventQueue<int> settled;
    Connection::mach_service("com.test.barrier").barrier([&settled] { settled.push(1); });
    REQUIRE(settled.pop().has_value());
  }
}

// What a test's event handler saw: "n=K" for a message with `n`, else the
// error code.
std::string describe(const Object& event) {
  if (event.is(Type::Error)) return std::string(event[kErrorKeyCode].string_or("?"));
  return "n=" + std::to_string(event["n"].int64_or(-1));
}

Connection watched_connection(EventQueue<std::string>& events) {
  Connection c = Connection::mach_service(kName);
  c.set_event_handler([&events](const Object& e) { events.push(describe(e)); });
  return c;
}

void send_n(int fd, std::int64_t n, std::uint64_t reply_to = 0) {
  REQUIRE(wire::send(fd, wire::Message{static_cast<std::uint64_t>(100 + n), reply_to, false, Object{{"n", n}}}).ok());
}

// Keeps the loop busy in a handler until released, so that only a
// synchronous sender can read the socket meanwhile.
class LoopHold {
 public:
  LoopHold() {
    Connection::mach_service("com.test.barrier").barrier([this] {
      held_.push(1);
      (void)release_.pop();
    });
    REQUIRE(held_.pop().has_value());
  }
  ~LoopHold() { release(); }
  void release() {
    if (!released_.exchange(true)) release_.push(1);
  }

 private:
  EventQueue<int> held_, release_;
  std::atomic<bool> released_{false};
};

}  // namespace

TEST_CASE("a suspended connection reads nothing, not even its peer's close, and gets it all in order on resume") {
  FakeXpcd xpcd;
  ManualService service(xpcd.add_service(kName));
  settle_loop();  // the loop's own fds exist from here
  int fds_before = test::open_fd_count();
  {
    EventQueue<std::string> events;
    Connection c = watched_connection(events);
    SUBCASE("suspended since it was made") {}
    SUBCASE("suspended after a resume") {
      c.resume();
      c.suspend();
    }
    c.send(Object{{"n", 0}});  // looks the name up: the socket is watched from here
    UniqueFd peer = service.accept();
    REQUIRE(peer);
    for (std::int64_t n = 1; n <= 3; ++n) send_n(peer.get(), n);
    peer = UniqueFd();  // the peer closes: EPOLLHUP, which epoll reports even for a paused watch
    settle_loop();
    CHECK(events.size() == 0);

    c.resume();
    for (const char* want : {"n=1", "n=2", "n=3", "interrupted"}) CHECK(events.pop() == want);
    c.cancel();
    CHECK(events.pop() == "invalid");
    settle_loop();
  }
  CHECK(test::open_fd_count() == fds_before);
}

TEST_CASE("a synchronous send that reads EOF interrupts the connection at once, and only that socket") {
  FakeXpcd xpcd;
  ManualService service(xpcd.add_service(kName));
  EventQueue<std::string> events;
  Connection c = watched_connection(events);
  c.resume();
  Object first, second;
  {
    // With the loop held, the synchronous sender is the only reader: what
    // it reads, it must act on itself.
    LoopHold hold;
    std::thread client([&] {
      first = c.send_sync(Object{{"n", 1}}, 10s);
      second = c.send_sync(Object{{"n", 2}}, 10s);
    });
    UniqueFd peer = service.accept();
    REQUIRE(peer);
    CHECK(test::receive_message(peer.get()).has_value());
    peer = UniqueFd();  // the service dies before it replies
    // The second send must find the connection interrupted and look the
    // name up again, not send into the dead socket.
    UniqueFd next = service.accept();
    CHECK(next);
    if (auto request = test::receive_message(next.get())) send_n(next.get(), 2, request->id);
    client.join();
    CHECK(first[kErrorKeyCode].string_or("") == "interrupted");
    CHECK_MESSAGE(second["n"].int64_or(-1) == 2, second.description());
    CHECK(xpcd.lookups() == 2);

    hold.release();
    CHECK(events.pop() == "interrupted");
    // The connection looked up after the EOF outlives it: sends go on over
    // it, with no further lookup and no second event.
    std::thread third([&] { CHECK(c.send_sync(Object{{"n", 3}}, 10s)["n"].int64_or(-1) == 3); });
    if (auto request = test::receive_message(next.get())) send_n(next.get(), 3, request->id);
    third.join();
    settle_loop();
    CHECK(events.size() == 0);
    CHECK(xpcd.lookups() == 2);
    c.cancel();  // while the service still holds its end
  }
  CHECK(events.pop() == "invalid");
}

TEST_CASE("messages read by synchronous sends keep their order with those the loop reads") {
  FakeXpcd xpcd;
  ManualService service(xpcd.add_service(kName));
  EventQueue<std::string> events;
  Connection c = watched_connection(events);
  c.resume();
  c.send(Object{{"n", -1}});
  UniqueFd peer = service.accept();
  REQUIRE(peer);
  REQUIRE(test::receive_message(peer.get()).has_value());
  // Each request gets a message before its reply and one after: the first
  // is read by the synchronous sender, the second by the loop or by the
  // next synchronous send, whichever comes first.
  constexpr int kRounds = 300;
  std::thread service_thread([&, fd = peer.get()] {
    for (int k = 0; k < kRounds; ++k) {
      auto request = test::receive_message(fd);
      if (!request) return;
      send_n(fd, 2 * k);
      send_n(fd, 1000000 + k, request->id);
      send_n(fd, 2 * k + 1);
    }
  });
  for (int k = 0; k < kRounds; ++k) {
    Object reply = c.send_sync(Object{{"k", k}}, 10s);
    REQUIRE_MESSAGE(reply["n"].int64_or(-1) == 1000000 + k, reply.description());
  }
  service_thread.join();
  for (int n = 0; n < 2 * kRounds; ++n) REQUIRE(events.pop() == "n=" + std::to_string(n));
  c.cancel();
  CHECK(events.pop() == "invalid");
}

TEST_CASE("two first sends at once look the name up once") {
  FakeXpcd xpcd;
  ManualService service(xpcd.add_service(kName));
  EventQueue<std::string> events;
  Connection c = watched_connection(events);
  c.resume();
  xpcd.hold_answers();
  std::thread first([&] { c.send(Object{{"n", 1}}); });
  REQUIRE(xpcd.requests().pop() == kName);  // the first lookup is in flight
  std::atomic<pid_t> second_tid{0};
  std::thread second([&] {
    second_tid = test::current_tid();
    c.send(Object{{"n", 2}});
  });
  while (second_tid.load() == 0) std::this_thread::yield();
  // The second sender waits for the first one's lookup (or, broken, makes
  // its own and waits for xpcd's answer).
  CHECK(test::wait_until_blocked(second_tid.load()));
  xpcd.release_answers();
  first.join();
  second.join();
  UniqueFd peer = service.accept();
  REQUIRE(peer);
  std::vector<std::int64_t> got;
  for (int i = 0; i < 2; ++i) {
    if (auto m = test::receive_message(peer.get())) got.push_back(m->body["n"].int64_or(-1));
  }
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::int64_t>{1, 2});
  CHECK(xpcd.lookups() == 1);
  c.cancel();
  CHECK(events.pop() == "invalid");
}

namespace {

void count_peers(void* context, xpc_object_t event) {
  if (xpc_get_type(event) == XPC_TYPE_CONNECTION) static_cast<std::atomic<int>*>(context)->fetch_add(1);
}

}  // namespace

TEST_CASE("a listener cancelled while it starts accepts no connection and closes its checkin channel") {
  settle_loop();
  int fds_before = test::open_fd_count();
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd xpcd_end = UniqueFd::adopt(sv[0]), service_end = UniqueFd::adopt(sv[1]);
  // A full channel: the listener's check-in (`ready`) blocks until xpcd
  // reads, which holds it inside its start while the test cancels it.
  std::vector<char> filler(4096, 'x');
  while (::send(service_end.get(), filler.data(), filler.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
  }
  ::setenv(protocol::kCheckinFdEnv, std::to_string(service_end.release()).c_str(), 1);
  std::atomic<int> peers{0};
  xpc_connection_t listener =
      xpc_connection_create_mach_service(kName, nullptr, XPC_CONNECTION_MACH_SERVICE_LISTENER);
  xpc_connection_set_event_handler(listener, &peers, count_peers);
  std::atomic<pid_t> starter_tid{0};
  std::thread starter([&] {
    starter_tid = test::current_tid();
    xpc_connection_resume(listener);
  });
  while (starter_tid.load() == 0) std::this_thread::yield();
  CHECK(test::wait_until_in_syscall(starter_tid.load(), SYS_sendmsg));
  xpc_connection_cancel(listener);

  bool ready = false;  // read the filler away, up to the check-in
  while (!ready && test::readable(xpcd_end.get())) {
    auto m = wire::receive(xpcd_end.get(), MSG_DONTWAIT);
    ready = m && m->body[protocol::kEvent].as_string() == protocol::kReady;
  }
  CHECK(ready);
  starter.join();

  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd client_end = UniqueFd::adopt(pair[0]);
  Object event{{protocol::kEvent, protocol::kConnection},
               {protocol::kFd, Object::fd(UniqueFd::adopt(pair[1]))},
               {protocol::kService, kName},
               {protocol::kPeer, Object{{protocol::kPid, std::int64_t{1}}}}};
  (void)wire::send(xpcd_end.get(), wire::Message{7, 0, false, event});
  // A cancelled listener closes the channel; a live one would answer
  // `accepted`. If the close comes after the event reached the listener's
  // queue unread, the kernel reports ECONNRESET once before the EOF.
  REQUIRE(test::readable(xpcd_end.get()));
  auto answer = wire::receive(xpcd_end.get(), MSG_DONTWAIT);
  CHECK_MESSAGE(!answer, answer->body.description());
  if (!answer && answer.error().code == wire::CodecErrc::System) {
    CHECK(answer.error().sys_errno == ECONNRESET);
    answer = wire::receive(xpcd_end.get(), MSG_DONTWAIT);
    CHECK_MESSAGE(!answer, answer->body.description());
  }
  if (!answer) CHECK(answer.error().code == wire::CodecErrc::Closed);
  settle_loop();
  CHECK(peers.load() == 0);
  xpc_release(listener);
  event = Object();
  client_end = UniqueFd();
  xpcd_end = UniqueFd();
  CHECK(test::open_fd_count() == fds_before);
}
