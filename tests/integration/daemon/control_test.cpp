// The control plane end to end: every xpcctl verb, run as a process
// against a real xpcd, its --json output parsed here; enable/disable
// across a restart; the refusals for an unprivileged caller (nobody,
// through setpriv) against a daemon run as root; bad input.
#include "xpcctl_runner.hpp"
#include "xpcd_fixture.hpp"

#include <nlohmann/json.hpp>
#include <xpc/connection.hpp>

#include <sys/syscall.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::Run;
using xpc::test::xpcctl;
using xpc::test::XpcdFixture;
using Json = nlohmann::json;

namespace {

Json json_of(const Run& run) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit == 0);
  Json parsed = Json::parse(run.out, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  return parsed;
}

Json print_job(const std::string& target) { return json_of(xpcctl({"print", "--json", target})); }

// A round trip to the service through libxpc: it is running and checked in
// once this returns. Its pid.
std::int64_t call(const std::string& name) {
  Connection c = Connection::mach_service(name);
  c.set_event_handler([](const Object&) {});
  c.resume();
  Object reply = c.send_sync(Object{{"text", "hi"}}, 10s);
  c.cancel();
  REQUIRE_MESSAGE(reply.is(Type::Dictionary), reply.description());
  return reply["pid"].int64_or(-1);
}

// xpcd's pid, as the kernel says for a connection to its bootstrap socket.
pid_t xpcd_pid() {
  UniqueFd fd = xpc::test::connect_bootstrap();
  ucred cred{};
  socklen_t len = sizeof cred;
  REQUIRE(::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0);
  return cred.pid;
}

std::size_t fd_count(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

// Waits (bounded) for a process to end.
void wait_gone(std::int64_t pid) { REQUIRE(xpc::test::wait_exit(static_cast<pid_t>(pid), 10'000)); }

// Asks xpcd (bounded, one round trip per try, no sleeps) until the job is
// no longer live: xpcd may see an exit after the test's pidfd does.
Json print_until_stopped(const std::string& target) {
  for (int i = 0; i < 2000; ++i) {
    Json job = print_job(target);
    if (job["pid"] == 0) return job;
  }
  FAIL("the job still has a pid");
  return {};
}

std::string user_target(const std::string& label) { return "user/" + std::to_string(::getuid()) + "/" + label; }

}  // namespace

TEST_CASE("list, print and blame show a job before and after a lookup starts it") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.a", "com.test.a");
  xpcd.start({"--state-dir", (xpcd.root() / "xpcd-state").string()});

  Json list = json_of(xpcctl({"list", "--json"}));
  CHECK(list["domain"] == "user/" + std::to_string(::getuid()));
  REQUIRE(list["jobs"].size() == 1);
  CHECK(list["jobs"][0]["label"] == "com.test.a");
  CHECK(list["jobs"][0]["state"] == "stopped");
  CHECK(list["jobs"][0]["pid"] == 0);
  Run text = xpcctl({"list"});
  CHECK(text.exit == 0);
  CHECK(text.out.find("com.test.a") != std::string::npos);
  CHECK(xpcctl({"blame", "com.test.a"}).out == "not running (never started)\n");

  std::int64_t pid = call("com.test.a");
  Json job = print_job(user_target("com.test.a"));
  CHECK(job["state"] == "running");
  CHECK(job["pid"] == pid);
  CHECK(job["services"] == Json::array({"com.test.a"}));
  CHECK(job["started_because"] == "lookup");
  CHECK(job["starts"] == 1);
  CHECK(job["parked_connections"] == 0);
  CHECK(job["idle_exits"] == 0);
  CHECK(job["relaunches"] == 0);
  CHECK(job["busy_answers"] == 0);
  CHECK(job["throttled"] == false);
  CHECK(job["last_exit"].is_null());
  CHECK(job["source"] == (xpcd.root() / "manifests" / "com.test.a.toml").string());
  Run printed = xpcctl({"print", "com.test.a"});
  CHECK(printed.exit == 0);
  CHECK(printed.out.find("state = running") != std::string::npos);
  CHECK(printed.out.find("pid = " + std::to_string(pid)) != std::string::npos);
  CHECK(printed.out.find("parked connections = 0") != std::string::npos);
  CHECK(xpcctl({"blame", "com.test.a"}).out == "lookup\n");
  Json blame = json_of(xpcctl({"blame", "--json", user_target("com.test.a")}));
  CHECK(blame["started_because"] == "lookup");
  CHECK(blame["running"] == true);

  Json domain = json_of(xpcctl({"print", "--json", "user/" + std::to_string(::getuid())}));
  CHECK(domain["jobs"] == Json::array({"com.test.a"}));
  CHECK(domain["state_dir"] == (xpcd.root() / "xpcd-state").string());
}

TEST_CASE("kickstart starts a job and -p prints its pid; -k replaces a running instance") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.k", "com.test.k");
  xpcd.start({"--state-dir", (xpcd.root() / "xpcd-state").string()});

  Run quiet = xpcctl({"kickstart", "com.test.k"});
  CHECK(quiet.exit == 0);
  CHECK(quiet.out.empty());
  Run first = xpcctl({"kickstart", "-p", "com.test.k"});  // running already: the same pid
  REQUIRE(first.exit == 0);
  const long pid = std::stol(first.out);
  CHECK(print_job("com.test.k")["pid"] == pid);
  CHECK(xpcctl({"blame", "com.test.k"}).out == "kickstart\n");

  Run second = xpcctl({"kickstart", "-k", "-p", "com.test.k"});
  REQUIRE_MESSAGE(second.exit == 0, second.err);
  const long next = std::stol(second.out);
  CHECK(next != pid);
  wait_gone(pid);
  Json job = print_job("com.test.k");
  CHECK(job["pid"] == next);
  CHECK(job["starts"] == 2);
  // kickstart answers once the new instance has a pid; a round trip to it
  // waits for its check-in, after which it has recorded its start.
  CHECK(call("com.test.k") == next);
  CHECK(xpcd.started_pids().size() == 2);
  Json answer = json_of(xpcctl({"kickstart", "--json", "com.test.k"}));
  CHECK(answer["pid"] == next);
}

TEST_CASE("kill sends a signal by name, SIG name or number; a stopped job is refused") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.kill", "com.test.kill");
  xpcd.start({"--state-dir", (xpcd.root() / "xpcd-state").string()});

  for (std::string signal : {"TERM", "SIGTERM", "15"}) {
    CAPTURE(signal);
    Run started = xpcctl({"kickstart", "-p", "com.test.kill"});
    REQUIRE(started.exit == 0);
    const long pid = std::stol(started.out);
    Run killed = xpcctl({"kill", signal, "com.test.kill"});
    CHECK(killed.exit == 0);
    CHECK(killed.out == "sent SIGTERM to com.test.kill (pid " + std::to_string(pid) + ")\n");
    wait_gone(pid);
    Json job = print_until_stopped("com.test.kill");
    CHECK(job["last_exit"]["signaled"] == true);
    CHECK(job["last_exit"]["code"] == 15);
  }
  Run refused = xpcctl({"kill", "TERM", "com.test.kill"});
  CHECK(refused.exit == 1);
  CHECK(refused.err.find("com.test.kill: not running") != std::string::npos);
}

TEST_CASE("enable and disable are kept in the state directory across a restart") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.d", "com.test.d");
  xpcd.add_service("com.test.off", "com.test.off", "Disabled = true");
  const std::string state = (xpcd.root() / "xpcd-state").string();
  const std::string manifest = (xpcd.root() / "manifests" / "com.test.d.toml").string();
  std::string before;
  {
    std::ifstream in(manifest);
    before.assign(std::istreambuf_iterator<char>(in), {});
  }
  xpcd.start({"--state-dir", state});
  CHECK(print_job("com.test.off")["disabled"] == true);

  Run disabled = xpcctl({"disable", "com.test.d"});
  CHECK(disabled.exit == 0);
  CHECK(disabled.out == "com.test.d disabled\n");
  CHECK(xpcctl({"enable", "com.test.off"}).exit == 0);
  CHECK(xpcctl({"disable", "com.test.not-loaded"}).out ==
        "com.test.not-loaded disabled (not loaded; applies when it is)\n");
  CHECK(print_job("com.test.d")["disabled"] == true);
  CHECK(print_job("com.test.d")["override"] == "disabled");
  Object failure = xpc::test::failure_on(xpc::test::raw_lookup("com.test.d"));
  CHECK(failure[kErrorKeyDescription].string_or("") == "com.test.d: job is disabled");
  Run kick = xpcctl({"kickstart", "com.test.d"});
  CHECK(kick.exit == 1);
  CHECK(kick.err.find("job is disabled") != std::string::npos);

  xpcd.stop();
  xpcd.start({"--state-dir", state});
  Json d = print_job("com.test.d");
  CHECK(d["disabled"] == true);
  Json off = print_job("com.test.off");
  CHECK(off["disabled"] == false);  // the override wins over Disabled = true
  CHECK(off["override"] == "enabled");
  call("com.test.off");
  CHECK(xpcctl({"enable", "com.test.d"}).exit == 0);
  xpcd.stop();
  xpcd.start({"--state-dir", state});
  CHECK(print_job("com.test.d")["disabled"] == false);
  call("com.test.d");
  std::ifstream in(manifest);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == before);  // never rewritten
  std::ifstream overrides(state + "/overrides");
  std::string text(std::istreambuf_iterator<char>(overrides), {});
  CHECK(text.find("enabled com.test.d\n") != std::string::npos);
  CHECK(text.find("disabled com.test.not-loaded\n") != std::string::npos);
}

TEST_CASE("bootstrap and bootout load and unload manifests; reload reads the directory again") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.dir", "com.test.dir");
  xpcd.start({"--state-dir", (xpcd.root() / "xpcd-state").string()});
  std::filesystem::create_directories(xpcd.root() / "extra");
  const std::string extra = (xpcd.root() / "extra" / "x.toml").string();
  std::ofstream(extra) << "Label = \"com.test.extra\"\nProgramArguments = [\"" << xpcd.service_binary() << "\", \""
                       << xpcd.state_dir() << "\"]\n[MachServices]\n\"com.test.extra\" = true\n";
  const std::string domain = "user/" + std::to_string(::getuid());

  Json loaded = json_of(xpcctl({"bootstrap", "--json", domain, extra}));
  REQUIRE(loaded["loaded"].size() == 1);
  CHECK(loaded["loaded"][0]["label"] == "com.test.extra");
  CHECK(call("com.test.extra") > 0);
  Run again = xpcctl({"bootstrap", domain, extra});
  CHECK(again.exit == 1);
  CHECK(again.err.find("already loaded as 'com.test.extra'") != std::string::npos);
  Run broken = xpcctl({"bootstrap", domain, (xpcd.root() / "extra" / "missing.toml").string()});
  CHECK(broken.exit == 1);
  CHECK_FALSE(broken.err.empty());

  Run out = xpcctl({"bootout", domain, extra});  // waits for the running instance to go
  CHECK(out.exit == 0);
  CHECK(out.out == "booted out com.test.extra\n");
  Json list = json_of(xpcctl({"list", "--json"}));
  REQUIRE(list["jobs"].size() == 1);
  CHECK(list["jobs"][0]["label"] == "com.test.dir");

  CHECK(xpcctl({"bootout", "com.test.dir"}).exit == 0);
  CHECK(json_of(xpcctl({"list", "--json"}))["jobs"].empty());
  CHECK(std::filesystem::exists(xpcd.root() / "manifests" / "com.test.dir.toml"));
  Run gone = xpcctl({"print", "com.test.dir"});
  CHECK(gone.exit == 1);
  CHECK(gone.err.find("no job 'com.test.dir'") != std::string::npos);
  Run reload = xpcctl({"reload"});
  CHECK(reload.exit == 0);
  list = json_of(xpcctl({"list", "--json"}));
  REQUIRE(list["jobs"].size() == 1);
  CHECK(list["jobs"][0]["label"] == "com.test.dir");
}

TEST_CASE("bad input gets a clear error and exit code; xpcd survives it and leaks no fd") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.bad", "com.test.bad");
  xpcd.start({"--state-dir", (xpcd.root() / "xpcd-state").string()});
  const pid_t daemon = xpcd_pid();
  // Counted after round trips, as at the end; the least of a few counts,
  // since xpcd may not have seen the last xpcctl's close yet at one.
  std::size_t fds = fd_count(daemon);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(xpcctl({"list"}).exit == 0);
    fds = std::min(fds, fd_count(daemon));
  }

  struct Case {
    std::vector<std::string> args;
    int exit;
    std::string error;
  };
  const Case cases[] = {
      {{"frobnicate"}, 2, "unknown verb 'frobnicate'"},
      {{"print", "gui/501/x"}, 2, "unknown domain 'gui'"},
      {{"print"}, 2, "missing arguments"},
      {{"kill", "FOO", "com.test.bad"}, 2, "unknown signal 'FOO'"},
      {{"kill", "TERM"}, 2, "wrong number of arguments"},
      {{"kickstart", "-x", "com.test.bad"}, 2, "unknown option '-x'"},
      {{"kickstart", "user/0"}, 2, "needs a job"},
      {{"bootstrap", "com.test.bad"}, 2, "missing PATH"},
      {{"enable", "user/abc/x"}, 2, "bad UID 'abc'"},
      {{"print", "com.test.nope"}, 1, "no job 'com.test.nope'"},
      {{"kickstart", "com.test.nope"}, 1, "no job 'com.test.nope'"},
      {{"blame", "system/com.test.bad"}, 1, "serves the user/"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args[0]);
    CAPTURE(c.error);
    Run run = xpcctl(c.args);
    CHECK(run.exit == c.exit);
    CHECK(run.err.find(c.error) != std::string::npos);
  }
  // Requests xpcctl would never send, straight over the protocol.
  UniqueFd fd = xpc::test::connect_bootstrap();
  const Object odd[] = {
      Object{{protocol::kRequest, protocol::kCommand}},
      Object{{protocol::kRequest, protocol::kCommand}, {protocol::kVerb, 7}},
      Object{{protocol::kRequest, protocol::kCommand}, {protocol::kVerb, "print"}, {protocol::kTarget, 7}},
      Object{{protocol::kRequest, protocol::kCommand}, {protocol::kVerb, "kill"}, {protocol::kTarget, "com.test.bad"}},
      Object{{protocol::kRequest, protocol::kCommand}, {protocol::kVerb, "bootstrap"}, {protocol::kPaths, "x"}},
      Object{{protocol::kRequest, protocol::kCommand}, {protocol::kVerb, "bootstrap"},
             {protocol::kPaths, Object::array({Object("relative.toml")})}},
      Object{{protocol::kRequest, protocol::kCommand}, {protocol::kVerb, "bootout"}, {protocol::kPaths, Object::array()}},
  };
  std::uint64_t id = 0;
  for (const auto& request : odd) {
    CAPTURE(request.description());
    REQUIRE(wire::send(fd.get(), {++id, 0, true, request}).ok());
    pollfd p{fd.get(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 10'000) == 1);
    auto reply = wire::receive(fd.get());
    REQUIRE(reply.ok());
    CHECK(reply->reply_to == id);
    CHECK(reply->body[protocol::kOk].as_bool() == false);
    CHECK(reply->body[protocol::kExit].int64_or(0) >= 1);
    CHECK_FALSE(reply->body[protocol::kError].string_or("").empty());
  }
  fd.reset();
  CHECK(json_of(xpcctl({"list", "--json"}))["jobs"].size() == 1);  // alive and answering
  // Each try is a round trip; a closed client is seen within a loop turn.
  for (int i = 0; i < 20 && fd_count(daemon) != fds; ++i) REQUIRE(xpcctl({"list"}).exit == 0);
  CHECK(fd_count(daemon) == fds);
}

TEST_CASE("xpcctl says xpcd is unreachable with exit 3") {
  XpcdFixture xpcd;  // not started
  ::setenv(protocol::kBootstrapEnv, (xpcd.root() / "no-such-socket").c_str(), 1);
  Run run = xpcctl({"list"});
  CHECK(run.exit == 3);
  CHECK(run.err.find("xpcd unreachable") != std::string::npos);
}

TEST_CASE("an unprivileged caller may read a user domain that is not its own, and changes nothing") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.p", "com.test.p");
  const std::string state = (xpcd.root() / "xpcd-state").string();
  xpcd.start({"--state-dir", state});
  REQUIRE(::getuid() == 0);  // the daemon runs as root; the refused caller is nobody
  const std::string target = user_target("com.test.p");
  const std::string domain = "user/0";

  CHECK(xpcctl({"list"}, true).exit == 0);
  Json job = json_of(xpcctl({"print", "--json", target}, true));
  CHECK(job["state"] == "stopped");
  CHECK(xpcctl({"blame", target}, true).exit == 0);

  const std::vector<std::vector<std::string>> changes = {
      {"kickstart", target},       {"kill", "TERM", target}, {"enable", target}, {"disable", target},
      {"bootout", target},         {"reload", domain},      {"bootstrap", domain, "/etc/passwd"},
      {"bootout", domain, (xpcd.root() / "manifests" / "com.test.p.toml").string()},
  };
  for (const auto& args : changes) {
    CAPTURE(args[0]);
    Run run = xpcctl(args, true);
    CHECK(run.exit == 1);
    CHECK(run.err.find("refused by rule user-domain-owner-or-root") != std::string::npos);
    CHECK(run.err.find("the caller is uid 65534") != std::string::npos);
  }
  // Nothing changed: still loaded, never started, no override written.
  job = print_job(target);
  CHECK(job["state"] == "stopped");
  CHECK(job["starts"] == 0);
  CHECK(job["disabled"] == false);
  CHECK(xpcd.started_pids().empty());
  CHECK_FALSE(std::filesystem::exists(state + "/overrides"));
  // A bare label means the caller's own domain, which this xpcd does not serve.
  Run own = xpcctl({"kickstart", "com.test.p"}, true);
  CHECK(own.exit == 1);
  CHECK(own.err.find("not user/65534") != std::string::npos);
  CHECK(xpcctl({"kickstart", target}).exit == 0);  // root may
}

TEST_CASE("changing the system domain needs root; reading it does not") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.sys", "com.test.sys");
  const std::string state = (xpcd.root() / "xpcd-state").string();
  xpcd.start({"--system", "--state-dir", state});

  Json list = json_of(xpcctl({"list", "--json"}, true));
  CHECK(list["domain"] == "system");
  CHECK(json_of(xpcctl({"print", "--json", "system/com.test.sys"}, true))["state"] == "stopped");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"kickstart", "system/com.test.sys"}, {"disable", "system/com.test.sys"}, {"reload", "system"}}) {
    CAPTURE(args[0]);
    Run run = xpcctl(args, true);
    CHECK(run.exit == 1);
    CHECK(run.err.find("refused by rule system-domain-needs-root") != std::string::npos);
  }
  CHECK(print_job("system/com.test.sys")["starts"] == 0);
  CHECK_FALSE(std::filesystem::exists(state + "/overrides"));
  Run root = xpcctl({"kickstart", "-p", "com.test.sys"});  // root's bare label: the system domain
  CHECK(root.exit == 0);
  CHECK(std::stol(root.out) > 0);
  CHECK(xpcctl({"blame", "system/com.test.sys"}).out == "kickstart\n");
}

// The parked-connection limit (xpc/protocol.hpp kMaxParkedConnections) at
// N and N+1: with N connections open the service parks them all and exits
// idle, and every one is served again; with N+1 it answers busy and stays.
TEST_CASE("an idle exit parks up to 256 connections; with 257 open the service stays and says busy") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.many", "com.test.many", "TimeOut = 0.05");
  xpcd.start();
  const std::string target = "com.test.many";
  for (std::size_t count : {protocol::kMaxParkedConnections, protocol::kMaxParkedConnections + 1}) {
    CAPTURE(count);
    // (Should the service exit idle while they are opened, the next one
    // brings every earlier one back to the new instance: the last reply
    // names the instance that has them all.)
    std::vector<Connection> clients;
    pid_t pid = 0;
    for (std::size_t i = 0; i < count; ++i) {
      Connection c = Connection::mach_service(target);
      c.set_event_handler([](const Object&) {});
      c.resume();
      pid = static_cast<pid_t>(c.send_sync(Object{{"text", "hi"}}, 20s)["pid"].int64_or(0));
      clients.push_back(c);
    }
    REQUIRE(pid > 0);
    Json before = print_job(target);
    if (count == protocol::kMaxParkedConnections) {
      REQUIRE_MESSAGE(xpc::test::wait_exit(pid, 20'000), xpcd.log());  // exited idle
      for (auto& c : clients) CHECK(c.send_sync(Object{{"text", "back"}}, 20s)["text"].as_string() == "back");
    } else {
      // Asked (every 50 ms), it answers busy: wait (bounded) for xpcd to count one.
      auto deadline = std::chrono::steady_clock::now() + 20s;
      Json job = before;
      while (job["busy_answers"].get<std::uint64_t>() == before["busy_answers"].get<std::uint64_t>() &&
             std::chrono::steady_clock::now() < deadline) {
        job = print_job(target);
      }
      CHECK(job["busy_answers"].get<std::uint64_t>() > before["busy_answers"].get<std::uint64_t>());
      CHECK(job["idle_exits"] == before["idle_exits"]);
      CHECK(job["pid"] == pid);
    }
    for (auto& c : clients) c.cancel();
  }
}

// A parked connection whose client closes it is dropped: nobody to relaunch
// for. The instance exits idle with two connections parked; one client goes
// away; xpcd's count of parked connections falls to one, and the service is
// not started for the close. The other client's next request brings it back.
TEST_CASE("a parked connection closed by its client is dropped without a relaunch") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.parked", "com.test.parked", "TimeOut = 0.05");
  xpcd.start();
  const std::string target = "com.test.parked";
  auto open_one = [&] {
    Connection c = Connection::mach_service(target);
    c.set_event_handler([](const Object&) {});
    c.resume();
    return c;
  };
  Connection stays = open_one(), goes = open_one();
  REQUIRE(stays.send_sync(Object{{"text", "a"}}, 20s)["text"].as_string() == "a");
  auto pid = static_cast<pid_t>(goes.send_sync(Object{{"text", "b"}}, 20s)["pid"].int64_or(0));
  REQUIRE(pid > 0);
  REQUIRE_MESSAGE(xpc::test::wait_exit(pid, 20'000), xpcd.log());  // exited idle, both parked
  // (xpcd may read the exit after this print: wait, bounded, for the count.)
  auto parked_is = [&](std::uint64_t want) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    Json job = print_job(target);
    while (job["parked_connections"].get<std::uint64_t>() != want && std::chrono::steady_clock::now() < deadline) {
      job = print_job(target);
    }
    return job;
  };
  Json parked = parked_is(2);
  REQUIRE(parked["parked_connections"] == 2);
  const auto starts = xpcd.started_pids().size();
  goes.cancel();
  Json after = parked_is(1);
  CHECK(after["parked_connections"] == 1);
  CHECK(after["state"] == "stopped");
  CHECK(xpcd.started_pids().size() == starts);
  CHECK(stays.send_sync(Object{{"text", "again"}}, 20s)["text"].as_string() == "again");
}
