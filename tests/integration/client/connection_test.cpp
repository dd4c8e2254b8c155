// libxpc connections end to end against a stand-in xpcd (fake_xpcd.hpp):
// lookup by name, replies, synchronous sends, interrupted and invalid with
// their reasons, peer identity, fds in messages, and the C API.
#include "fake_xpcd.hpp"

#include <doctest/doctest.h>
#include <event_queue.hpp>
#include <fd_count.hpp>
#include <xpc/connection.hpp>
#include <xpc/xpc.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

using namespace xpc;
using xpc::test::EventQueue;
using xpc::test::FakeXpcd;
using namespace std::chrono_literals;

namespace {

// An in-process echo service: replies with the text it got and the peer it
// sees; "burst" sends three one-way messages before the reply; "silent"
// never replies; "crash" cancels every peer (the service "dies").
struct EchoService {
  std::mutex mu;
  std::vector<Connection> peers;
  EventQueue<PeerInfo> seen_peers;
  Listener listener;

  // Handlers capture `this`: silence them, then wait until the loop has run
  // everything queued before (a barrier runs after what was posted first).
  ~EchoService() {
    listener.cancel();
    std::lock_guard lock(mu);
    for (Connection& c : peers) {
      c.set_event_handler([](const Object&) {});
      c.cancel();
    }
    settle_loop();
  }

  static void settle_loop() {
    EventQueue<int> settled;
    Connection::mach_service("com.test.barrier").barrier([&settled] { settled.push(1); });
    (void)settled.pop();
  }

  void start(UniqueFd checkin) {
    auto started = Listener::start([this](Connection peer) { accept(peer); }, checkin.release());
    REQUIRE(started.ok());
    listener = std::move(started).value();
  }

  void accept(Connection peer) {
    {
      std::lock_guard lock(mu);
      peers.push_back(peer);
    }
    seen_peers.push(peer.peer());
    peer.set_event_handler([this, peer](const Object& event) mutable { on_event(peer, event); });
    peer.resume();
  }

  void on_event(Connection& peer, const Object& message) {
    if (!message.is(Type::Dictionary)) return;
    std::string op = message["op"].string_or("");
    if (op == "silent") return;
    if (op == "crash") {
      std::lock_guard lock(mu);
      for (Connection& c : peers) c.cancel();
      peers.clear();
      return;
    }
    if (op == "burst") {
      for (int i = 0; i < 3; ++i) peer.send(Object{{"burst", i}});
    }
    if (op == "write-fd") {
      UniqueFd fd = message["fd"].dup_fd();
      (void)::write(fd.get(), "via fd", 6);
    }
    Object reply = make_reply(message);
    if (reply.is_null()) return;
    reply["echo"] = message["text"];
    reply["peer-pid"] = std::int64_t{peer.peer().pid};
    remote_connection(message).send(reply);
  }
};

struct Fixture {
  FakeXpcd xpcd;
  EchoService echo;
  Fixture() { echo.start(xpcd.add_service("com.test.echo")); }
};

}  // namespace

TEST_CASE("a message sent by name reaches the service and its reply comes back") {
  Fixture f;
  Connection c = Connection::mach_service("com.test.echo");
  c.set_event_handler([](const Object&) {});
  c.resume();
  Object reply = c.send_sync(Object{{"op", "echo"}, {"text", "hello"}});
  REQUIRE_MESSAGE(reply.is(Type::Dictionary), reply.description());
  CHECK(reply["echo"].as_string() == "hello");
  CHECK(reply["peer-pid"].as_int64() == getpid());

  SUBCASE("the service sees the client's peer record, the client the service's credentials") {
    auto peer = f.echo.seen_peers.pop();
    REQUIRE(peer.has_value());
    CHECK(peer->pid == getpid());
    CHECK(peer->uid == getuid());
    CHECK(c.peer().pid == getpid());  // kernel-stamped on the reply
  }
  SUBCASE("one lookup serves every later send") {
    for (int i = 0; i < 5; ++i) CHECK(c.send_sync(Object{{"op", "echo"}, {"text", i}})["echo"].as_int64() == i);
    CHECK(f.xpcd.lookups() == 1);
  }
  c.cancel();
}

TEST_CASE("asynchronous replies arrive at their handlers, and a barrier runs after the sends before it") {
  Fixture f;
  Connection c = Connection::mach_service("com.test.echo");
  c.resume();
  EventQueue<std::string> order;
  for (int i = 0; i < 3; ++i) {
    c.send(Object{{"op", "echo"}, {"text", "r" + std::to_string(i)}},
           [&order](const Object& reply) { order.push(reply["echo"].string_or("?")); });
  }
  for (int i = 0; i < 3; ++i) CHECK(order.pop() == "r" + std::to_string(i));
  EventQueue<int> barrier;
  c.barrier([&barrier] { barrier.push(1); });
  CHECK(barrier.pop() == 1);
  c.cancel();
}

TEST_CASE("messages that arrive during a synchronous send reach the event handler in order") {
  Fixture f;
  Connection c = Connection::mach_service("com.test.echo");
  EventQueue<std::int64_t> events;
  c.set_event_handler([&events](const Object& e) { events.push(e["burst"].int64_or(-1)); });
  c.resume();
  Object reply = c.send_sync(Object{{"op", "burst"}, {"text", "b"}});
  CHECK(reply["echo"].as_string() == "b");
  for (int i = 0; i < 3; ++i) CHECK(events.pop() == i);
  c.cancel();
  CHECK(events.pop() == -1);  // the final invalid event, before `events` goes
}

TEST_CASE("a name no domain knows makes the connection invalid, with the reason") {
  FakeXpcd xpcd;
  Connection c = Connection::mach_service("com.test.nobody");
  EventQueue<Object> events;
  c.set_event_handler([&events](const Object& e) { events.push(e); });
  c.resume();
  Object reply = c.send_sync(Object{{"op", "echo"}});
  CHECK(reply.is(Type::Error));
  CHECK(reply[kErrorKeyCode].as_string() == "invalid");
  CHECK(reply[kErrorKeyDescription].string_or("").find("no service named 'com.test.nobody'") != std::string::npos);
  auto event = events.pop();
  REQUIRE(event.has_value());
  CHECK((*event)[kErrorKeyCode].as_string() == "invalid");
  CHECK(c.invalidation_reason().find("com.test.nobody") != std::string::npos);
  SUBCASE("invalid is final: a later send does not look the name up again") {
    int before = xpcd.lookups();
    CHECK(c.send_sync(Object{{"op", "echo"}})[kErrorKeyCode].as_string() == "invalid");
    CHECK(xpcd.lookups() == before);
  }
  EchoService::settle_loop();
}

TEST_CASE("a launch that fails after the lookup reaches the client as invalid, with xpcd's reason") {
  FakeXpcd xpcd;
  (void)xpcd.add_service("com.test.broken", FakeXpcd::Mode::FailLaunch,
                         "com.test.broken: cannot exec /usr/bin/nope: No such file or directory");
  Connection c = Connection::mach_service("com.test.broken");
  c.resume();
  Object reply = c.send_sync(Object{{"op", "echo"}});
  CHECK_MESSAGE(reply[kErrorKeyCode].as_string() == "invalid", reply.description());
  CHECK(reply[kErrorKeyDescription].as_string() == "com.test.broken: cannot exec /usr/bin/nope: No such file or directory");
  CHECK(c.invalidation_reason() == "com.test.broken: cannot exec /usr/bin/nope: No such file or directory");
}

TEST_CASE("a malformed message from the peer invalidates the connection") {
  FakeXpcd xpcd;
  (void)xpcd.add_service("com.test.garbage", FakeXpcd::Mode::Garbage);
  Connection c = Connection::mach_service("com.test.garbage");
  EventQueue<Object> events;
  c.set_event_handler([&events](const Object& e) { events.push(e); });
  c.resume();
  c.send(Object{{"op", "echo"}});
  auto event = events.pop();
  REQUIRE(event.has_value());
  CHECK_MESSAGE((*event)[kErrorKeyCode].as_string() == "invalid", event->description());
  CHECK_MESSAGE(c.invalidation_reason().find("malformed message") != std::string::npos, c.invalidation_reason());
}

TEST_CASE("when the service dies the client sees interrupted, and the next send looks the name up again") {
  Fixture f;
  Connection c = Connection::mach_service("com.test.echo");
  EventQueue<Object> events;
  c.set_event_handler([&events](const Object& e) { events.push(e); });
  c.resume();
  REQUIRE(c.send_sync(Object{{"op", "echo"}, {"text", "before"}})["echo"].as_string() == "before");

  EventQueue<Object> pending;
  c.send(Object{{"op", "silent"}}, [&pending](const Object& r) { pending.push(r); });
  c.send(Object{{"op", "crash"}});
  auto event = events.pop();
  REQUIRE(event.has_value());
  CHECK((*event)[kErrorKeyCode].as_string() == "interrupted");
  auto failed = pending.pop();
  REQUIRE(failed.has_value());
  CHECK((*failed)[kErrorKeyCode].as_string() == "interrupted");
  CHECK(c.invalidation_reason().empty());  // interrupted is not invalid

  Object after = c.send_sync(Object{{"op", "echo"}, {"text", "after"}});
  CHECK(after["echo"].as_string() == "after");
  CHECK(f.xpcd.lookups() == 2);
  c.cancel();
  CHECK((*events.pop())[kErrorKeyCode].as_string() == "invalid");
}

TEST_CASE("a synchronous send without a reply times out with a timeout error") {
  Fixture f;
  Connection c = Connection::mach_service("com.test.echo");
  c.resume();
  Object reply = c.send_sync(Object{{"op", "silent"}}, 100ms);
  CHECK(reply[kErrorKeyCode].as_string() == "timeout");
  SUBCASE("and the connection still works afterwards") {
    CHECK(c.send_sync(Object{{"op", "echo"}, {"text", "ok"}})["echo"].as_string() == "ok");
  }
  c.cancel();
}

TEST_CASE("an fd in a message reaches the service and works there") {
  Fixture f;
  Connection c = Connection::mach_service("com.test.echo");
  c.resume();
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  Object reply = c.send_sync(Object{{"op", "write-fd"}, {"fd", Object::fd(UniqueFd::adopt(p[1]))}});
  REQUIRE_MESSAGE(reply.is(Type::Dictionary), reply.description());
  char buf[8] = {};
  CHECK(read(p[0], buf, sizeof buf) == 6);
  CHECK(std::string(buf, 6) == "via fd");
  close(p[0]);
  c.cancel();
}

TEST_CASE("cancel delivers a final invalid event and fails pending replies") {
  Fixture f;
  Connection c = Connection::mach_service("com.test.echo");
  EventQueue<Object> events;
  c.set_event_handler([&events](const Object& e) { events.push(e); });
  c.resume();
  EventQueue<Object> pending;
  c.send(Object{{"op", "silent"}}, [&pending](const Object& r) { pending.push(r); });
  c.cancel();
  CHECK((*pending.pop())[kErrorKeyCode].as_string() == "invalid");
  CHECK((*events.pop())[kErrorKeyCode].as_string() == "invalid");
  CHECK(c.send_sync(Object{{"op", "echo"}})[kErrorKeyCode].as_string() == "invalid");
}

TEST_CASE("handlers of many connections never run concurrently") {
  Fixture f;
  std::atomic<int> inside{0}, overlaps{0};
  EventQueue<int> done;
  std::vector<Connection> conns;
  for (int i = 0; i < 4; ++i) conns.push_back(Connection::mach_service("com.test.echo"));
  for (auto& c : conns) c.resume();
  for (int round = 0; round < 20; ++round) {
    for (auto& c : conns) {
      c.send(Object{{"op", "echo"}}, [&](const Object&) {
        if (inside.fetch_add(1) != 0) ++overlaps;
        inside.fetch_sub(1);
        done.push(1);
      });
    }
  }
  for (int i = 0; i < 80; ++i) REQUIRE(done.pop().has_value());
  CHECK(overlaps.load() == 0);
  for (auto& c : conns) c.cancel();
}

namespace {

struct CContext {
  EventQueue<std::string> events;
};

void c_service_peer_event(void* context, xpc_object_t event) {
  (void)context;
  if (xpc_get_type(event) != XPC_TYPE_DICTIONARY) return;
  xpc_object_t reply = xpc_dictionary_create_reply(event);
  xpc_dictionary_set_string(reply, "echo", xpc_dictionary_get_string(event, "text"));
  xpc_connection_send_message(xpc_dictionary_get_remote_connection(event), reply);
  xpc_release(reply);
}

void c_listener_event(void* context, xpc_object_t event) {
  auto* ctx = static_cast<CContext*>(context);
  if (xpc_get_type(event) == XPC_TYPE_CONNECTION) {
    auto peer = static_cast<xpc_connection_t>(event);
    xpc_connection_set_event_handler(peer, nullptr, c_service_peer_event);
    xpc_connection_resume(peer);
    ctx->events.push("peer");
  }
}

void c_client_event(void* context, xpc_object_t event) {
  auto* ctx = static_cast<CContext*>(context);
  if (event == XPC_ERROR_CONNECTION_INVALID) ctx->events.push("invalid");
  if (event == XPC_ERROR_CONNECTION_INTERRUPTED) ctx->events.push("interrupted");
}

// The C echo service's listener, checking in to `xpcd` as com.test.c-echo;
// not resumed.
xpc_connection_t c_echo_listener(FakeXpcd& xpcd, CContext& ctx) {
  UniqueFd checkin = xpcd.add_service("com.test.c-echo");
  ::setenv(protocol::kCheckinFdEnv, std::to_string(checkin.release()).c_str(), 1);
  xpc_connection_t listener = xpc_connection_create_mach_service("com.test.c-echo", nullptr,
                                                                  XPC_CONNECTION_MACH_SERVICE_LISTENER);
  xpc_connection_set_event_handler(listener, &ctx, c_listener_event);
  return listener;
}

}  // namespace

TEST_CASE("the C API: a listener, a named connection, replies and the well-known errors") {
  FakeXpcd xpcd;
  CContext ctx;
  xpc_connection_t listener = c_echo_listener(xpcd, ctx);
  xpc_connection_resume(listener);
  CHECK(std::getenv(protocol::kCheckinFdEnv) == nullptr);  // taken over

  xpc_connection_t conn = xpc_connection_create_mach_service("com.test.c-echo", nullptr, 0);
  CHECK(xpc_get_type(conn) == XPC_TYPE_CONNECTION);
  CHECK(std::strcmp(xpc_connection_get_name(conn), "com.test.c-echo") == 0);
  xpc_connection_set_event_handler(conn, &ctx, c_client_event);
  xpc_connection_resume(conn);
  xpc_object_t message = xpc_dictionary_create(nullptr, nullptr, 0);
  xpc_dictionary_set_string(message, "text", "from C");
  xpc_object_t reply = xpc_connection_send_message_with_reply_sync(conn, message);
  REQUIRE(xpc_get_type(reply) == XPC_TYPE_DICTIONARY);
  CHECK(std::strcmp(xpc_dictionary_get_string(reply, "echo"), "from C") == 0);
  CHECK(xpc_connection_get_pid(conn) == getpid());
  CHECK(ctx.events.pop() == "peer");
  xpc_release(reply);
  xpc_release(message);

  xpc_connection_t missing = xpc_connection_create_mach_service("com.test.c-missing", nullptr, 0);
  xpc_connection_set_event_handler(missing, &ctx, c_client_event);
  xpc_connection_resume(missing);
  xpc_object_t empty = xpc_dictionary_create_empty();
  xpc_object_t error = xpc_connection_send_message_with_reply_sync(missing, empty);
  CHECK(error == XPC_ERROR_CONNECTION_INVALID);
  CHECK(ctx.events.pop() == "invalid");
  char* reason = xpc_connection_copy_invalidation_reason(missing);
  REQUIRE(reason != nullptr);
  CHECK(std::string(reason).find("com.test.c-missing") != std::string::npos);
  std::free(reason);
  xpc_release(error);
  xpc_release(empty);

  xpc_connection_cancel(conn);
  CHECK(ctx.events.pop() == "invalid");
  xpc_connection_cancel(missing);  // already invalid: no further event
  xpc_connection_cancel(listener);
  EchoService::settle_loop();
  xpc_release(conn);
  xpc_release(missing);
  xpc_release(listener);
}

namespace {

void c_reply_seen(void* context, xpc_object_t reply) {
  auto* ctx = static_cast<CContext*>(context);
  ctx->events.push(reply == XPC_ERROR_CONNECTION_INVALID ? "invalid" : "other");
}

}  // namespace

TEST_CASE("a listener does not send: its sends fail with the reason, and it goes on accepting peers") {
  FakeXpcd xpcd;
  CContext ctx;
  xpc_connection_t listener = c_echo_listener(xpcd, ctx);
  xpc_object_t message = xpc_dictionary_create_empty();
  // Before resume and after: no lookup of its own name, no crash.
  for (int resumed = 0; resumed < 2; ++resumed) {
    CAPTURE(resumed);
    if (resumed) xpc_connection_resume(listener);
    xpc_object_t answer = xpc_connection_send_message_with_reply_sync(listener, message);
    CHECK(answer == XPC_ERROR_CONNECTION_INVALID);
    xpc_release(answer);
    xpc_connection_send_message_with_reply(listener, message, nullptr, &ctx, c_reply_seen);
    CHECK(ctx.events.pop() == "invalid");
    xpc_connection_send_message(listener, message);
  }
  CHECK(xpcd.lookups() == 0);

  xpc_connection_t conn = xpc_connection_create_mach_service("com.test.c-echo", nullptr, 0);
  xpc_connection_set_event_handler(conn, &ctx, c_client_event);
  xpc_connection_resume(conn);
  xpc_dictionary_set_string(message, "text", "still serving");
  xpc_object_t reply = xpc_connection_send_message_with_reply_sync(conn, message);
  REQUIRE(xpc_get_type(reply) == XPC_TYPE_DICTIONARY);
  CHECK(std::strcmp(xpc_dictionary_get_string(reply, "echo"), "still serving") == 0);
  CHECK(ctx.events.pop() == "peer");
  xpc_release(reply);
  xpc_release(message);
  xpc_connection_cancel(conn);
  CHECK(ctx.events.pop() == "invalid");
  xpc_connection_cancel(listener);
  EchoService::settle_loop();
  xpc_release(conn);
  xpc_release(listener);
}
