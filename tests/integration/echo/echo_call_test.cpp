// xpcctl call, echo-client and echo-client-c against the real echo-service,
// with the test playing xpcd (stand_in_xpcd.hpp). Each scenario starts its
// own service and waits for its checkin ("ready"); children are waited for
// with deadlines, never with sleeps.
#include <doctest/doctest.h>
#include <event_queue.hpp>
#include <xpc/connection.hpp>
#include <xpc/object.hpp>

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "json.hpp"
#include "stand_in_xpcd.hpp"

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::Env;
using xpc::test::Finished;
using xpc::test::StandInXpcd;

namespace {

struct Fixture {
  StandInXpcd xpcd{"com.example.echo", ECHO_SERVICE};
  Env env{{protocol::kBootstrapEnv, xpcd.bootstrap()}};

  Fixture() {
    REQUIRE(xpcd.service_pid() > 0);
    REQUIRE(xpcd.checkin_events().pop(20s) == "ready");
  }

  Finished call(std::vector<std::string> args, std::chrono::milliseconds timeout = 20s) {
    args.insert(args.begin(), {XPCCTL, "call"});
    return test::run(std::move(args), env, timeout);
  }
};

std::vector<Object> json_lines(const std::string& out) {
  std::vector<Object> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto parsed = xpcctl::json::parse(line);
    REQUIRE_MESSAGE(parsed.ok(), "not JSON: ", line);
    lines.push_back(std::move(parsed).value());
  }
  return lines;
}

std::string diagnose(const Finished& f) {
  return "exit " + std::to_string(f.exit_code) + " after " + std::to_string(f.took.count()) + " ms\nstdout: " + f.out +
         "\nstderr: " + f.err;
}

}  // namespace

TEST_CASE("xpcctl call sends the message N times on one connection and prints each reply as a JSON line") {
  Fixture f;
  Finished r = f.call({"com.example.echo", R"({"text":"hi","n":[1,2.5]})", "--count", "3"});
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  CHECK(r.err.empty());
  auto replies = json_lines(r.out);
  REQUIRE(replies.size() == 3);
  for (const Object& reply : replies) {
    CHECK(reply["text"] == Object("hi"));
    CHECK(reply["n"] == Object(Array{1, 2.5}));
    CHECK(reply["pid"].as_int64() == f.xpcd.service_pid());
    CHECK(reply["peer-pid"].as_int64() == r.pid);
    CHECK(reply["peer-uid"].as_int64() == ::getuid());
    CHECK(reply["peer-exe"].as_string() == std::filesystem::canonical(XPCCTL).string());
  }
  CHECK(f.xpcd.lookups() == 1);
}

TEST_CASE("the echo service counts every message, one-way ones included") {
  Fixture f;
  Finished r = f.call({"com.example.echo", R"({"op":"count"})", "--count", "2", "--interval", "0.01"});
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  auto replies = json_lines(r.out);
  REQUIRE(replies.size() == 2);
  CHECK(replies[0]["count"].as_int64() == 1);
  CHECK(replies[1]["count"].as_int64() == 2);
}

TEST_CASE("xpcctl call exits 1, 2 or 3 with the reason on stderr") {
  Fixture f;
  SUBCASE("1: a name nobody serves") {
    Finished r = f.call({"com.example.nobody", "{}"});
    CHECK_MESSAGE(r.exit_code == 1, diagnose(r));
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("no service named 'com.example.nobody'") != std::string::npos, r.err);
  }
  SUBCASE("2: JSON that does not parse, or is not an object") {
    Finished r = f.call({"com.example.echo", R"({"text": )"});
    CHECK_MESSAGE(r.exit_code == 2, diagnose(r));
    CHECK_MESSAGE(r.err.find("JSON argument: parse error at line 1") != std::string::npos, r.err);
    r = f.call({"com.example.echo", "[1]"});
    CHECK_MESSAGE(r.exit_code == 2, diagnose(r));
    CHECK_MESSAGE(r.err.find("expected an object, got array") != std::string::npos, r.err);
    CHECK(f.xpcd.lookups() == 0);
  }
  SUBCASE("2: numbers that are not numbers, naming the option") {
    for (auto [option, value] : {std::pair{"--count", "0"},
                                 {"--count", "3x"},
                                 {"--timeout", "0"},
                                 {"--timeout", "-1"},
                                 {"--interval", "soon"}}) {
      Finished r = f.call({"com.example.echo", option, value});
      CHECK_MESSAGE(r.exit_code == 2, diagnose(r));
      CHECK_MESSAGE(r.err.find(std::string(option) + ": expected") != std::string::npos, r.err);
    }
  }
  SUBCASE("3: no xpcd at the bootstrap path") {
    f.env[protocol::kBootstrapEnv] = f.xpcd.bootstrap() + ".missing";
    Finished r = f.call({"com.example.echo", "{}"});
    CHECK_MESSAGE(r.exit_code == 3, diagnose(r));
    CHECK_MESSAGE(r.err.find("xpcd is not running at") != std::string::npos, r.err);
  }
}

TEST_CASE("a reply with sleep comes after the sleep, and --timeout gives up before it") {
  Fixture f;
  SUBCASE("the reply comes after the sleep") {
    Finished r = f.call({"com.example.echo", R"({"sleep":0.3})"});
    REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
    CHECK(r.took >= 300ms);
    CHECK(json_lines(r.out).at(0)["sleep"] == Object(0.3));
  }
  SUBCASE("a timeout shorter than the sleep is an error") {
    Finished r = f.call({"com.example.echo", R"({"sleep":5})", "--timeout", "0.2"});
    CHECK_MESSAGE(r.exit_code == 1, diagnose(r));
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("timeout: no reply within 200 ms") != std::string::npos, r.err);
    CHECK(r.took < 5s);
  }
}

TEST_CASE("a sleeping request does not hold up other clients") {
  Fixture f;
  test::Child sleeper = test::spawn({XPCCTL, "call", "com.example.echo", R"({"sleep":60})", "--timeout", "90"}, f.env);
  REQUIRE(sleeper.pid > 0);
  // Quick calls until one reports that the service has seen the sleeper's
  // message too: that reply came while the sleeper still waits.
  std::int64_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (seen < 2 && std::chrono::steady_clock::now() < deadline) {
    Finished r = f.call({"com.example.echo", R"({"op":"count"})", "--timeout", "5"});
    REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
    seen = json_lines(r.out).at(0)["count"].int64_or(0);
  }
  CHECK(seen >= 2);
  CHECK(test::running(sleeper));
  ::kill(sleeper.pid, SIGKILL);
  (void)test::finish(sleeper, 10s);
}

namespace {

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

// This test process as a client too, through libxpc, for what xpcctl
// cannot do: one-way messages, and a connection that stays open.
struct InProcessClient {
  Connection connection;
  explicit InProcessClient(const std::string& bootstrap) {
    ::setenv(protocol::kBootstrapEnv, bootstrap.c_str(), 1);
    connection = Connection::mach_service("com.example.echo");
    connection.set_event_handler([](const Object&) {});
    connection.resume();
  }
  ~InProcessClient() {
    connection.cancel();
    ::unsetenv(protocol::kBootstrapEnv);
  }
  // The service's count; the reply also means it has handled every
  // message sent on this connection before.
  std::int64_t count() {
    Object reply = connection.send_sync(Object{{"op", "count"}}, 10s);
    REQUIRE_MESSAGE(reply.is(Type::Dictionary), reply.description());
    return reply["count"].int64_or(-1);
  }
};

}  // namespace

TEST_CASE("one-way messages are counted and get no reply") {
  Fixture f;
  InProcessClient client(f.xpcd.bootstrap());
  test::EventQueue<Object> unexpected;
  client.connection.set_event_handler([&unexpected](const Object& e) { unexpected.push(e); });
  CHECK(client.count() == 1);
  for (int i = 0; i < 3; ++i) client.connection.send(Object{{"text", "one-way"}});
  CHECK(client.count() == 5);
  CHECK(unexpected.size() == 0);
  client.connection.set_event_handler([](const Object&) {});
}

TEST_CASE("a service that dies before replying makes xpcctl call exit 1 with interrupted") {
  Fixture f;
  test::Child caller = test::spawn({XPCCTL, "call", "com.example.echo", R"({"sleep":60})", "--timeout", "30"}, f.env);
  REQUIRE(caller.pid > 0);
  {
    InProcessClient client(f.xpcd.bootstrap());
    // Counting until the count exceeds our own messages: then the
    // service has the sleeper's message too.
    std::int64_t mine = 0, seen = 0;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (seen <= mine && std::chrono::steady_clock::now() < deadline) {
      ++mine;
      seen = client.count();
    }
    REQUIRE(seen > mine);
  }
  f.xpcd.kill_service();  // the sleeping request is in the service now
  Finished r = test::finish(caller, 20s);
  CHECK_MESSAGE(r.exit_code == 1, diagnose(r));
  CHECK_MESSAGE(r.err.find("xpcctl call: com.example.echo: interrupted:") != std::string::npos, r.err);
}

TEST_CASE("a reply that comes after its timeout is not taken for a later message's reply") {
  Fixture f;
  InProcessClient client(f.xpcd.bootstrap());
  test::EventQueue<Object> events;
  client.connection.set_event_handler([&events](const Object& e) { events.push(e); });
  Object late = client.connection.send_sync(Object{{"sleep", 0.3}, {"n", 1}}, 100ms);
  CHECK(late[kErrorKeyCode].as_string() == "timeout");
  Object next = client.connection.send_sync(Object{{"sleep", 0.5}, {"n", 2}}, 10s);
  CHECK_MESSAGE(next["n"].as_int64() == 2, next.description());
  test::EventQueue<int> flushed;  // what the loop had queued has run after this
  client.connection.barrier([&flushed] { flushed.push(1); });
  REQUIRE(flushed.pop() == 1);
  CHECK_MESSAGE(events.size() == 0, (events.size() ? events.pop()->description() : ""));
  client.connection.set_event_handler([](const Object&) {});
}

TEST_CASE("the service keeps no fd of clients that have gone") {
  Fixture f;
  InProcessClient client(f.xpcd.bootstrap());
  (void)client.count();
  std::size_t before = open_fds(f.xpcd.service_pid());
  for (int i = 0; i < 10; ++i) {
    Finished r = f.call({"com.example.echo", "{}"});
    REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  }
  // Every xpcctl had exited (its socket closed, readable at the service)
  // before this message was sent, so the service's loop has seen each close.
  CHECK(client.count() == 12);
  // A close read in the same loop turn as that request is cleaned up by
  // work posted to the loop; the next request's reply comes after it.
  (void)client.count();
  CHECK(open_fds(f.xpcd.service_pid()) == before);
}

TEST_CASE("echo-client and echo-client-c talk to the service by name") {
  Fixture f;
  for (const char* client : {ECHO_CLIENT, ECHO_CLIENT_C}) {
    CAPTURE(client);
    Finished r = test::run({client, "from a client"}, f.env);
    REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
    std::string pid = std::to_string(r.pid);
    CHECK_MESSAGE(r.out.find("com.example.echo (pid " + std::to_string(f.xpcd.service_pid()) +
                             ") answered \"from a client\"; it sees me as pid " + pid + " (I am " + pid + ")") !=
                      std::string::npos,
                  r.out);
  }
  SUBCASE("and say why when there is no xpcd") {
    f.env[protocol::kBootstrapEnv] = f.xpcd.bootstrap() + ".missing";
    for (const char* client : {ECHO_CLIENT, ECHO_CLIENT_C}) {
      Finished r = test::run({client}, f.env);
      CHECK_MESSAGE(r.exit_code == 1, diagnose(r));
      CHECK_MESSAGE(r.err.find("xpcd is not running at") != std::string::npos, r.err);
    }
  }
}
