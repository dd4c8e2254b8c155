// Connection and activation benchmark (issue 4), each case beside its
// no-library baselines in one run, every operation timed on its own:
// (1) send_sync round trip on an established connection to echo-service
//     vs raw SOCK_SEQPACKET ping-pong of the same bytes with raw_echo (a
//     separate process, as echo-service is);
// (2) Connection::mach_service + first reply from a running echo-service
//     under a real xpcd vs connect() to a listening raw_echo + one reply;
// (3) cold start: lookup of a stopped service + first reply vs posix_spawn
//     of the same echo-service by hand (checkin channel handed over, as
//     xpcd does) + reply, vs systemd-socket-activate --accept fork+exec'ing
//     raw_echo per connection, vs
//     posix_spawn of raw_echo (the libc-only floor);
// (4) idle exit (issue 5): (a) the first request after an idle exit
//     (parked connection readable -> relaunch -> reply) vs the same
//     echo-service spawned by hand; (b) the round trip with automatic
//     transactions vs without (XPC_AUTOMATIC_TRANSACTIONS=0).
// A program, not a test: scripts/bench builds and runs it. It starts its
// own xpcd on a temp dir and kills everything it started, even on failure.
#include "bench_harness.hpp"

#include <xpc/codec.hpp>
#include <xpc/connection.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

using namespace xpc;
using Clock = std::chrono::steady_clock;
using bench::PerOperation;

namespace {

constexpr int kRoundTrips = 10000, kLookups = 2000, kColdStarts = 300, kColdWarmup = 10;
constexpr const char* kSocketActivate = "/usr/bin/systemd-socket-activate";

// --- cleanup: every process started and the temp dir, on every exit -------
// Kept in plain arrays so the signal handler uses only async-signal-safe calls.
constexpr int kMaxTracked = 32;
std::atomic<pid_t> g_tracked[kMaxTracked];
pid_t g_xpcd = -1;
pid_t g_running_echo = -1;  // com.example.echo's instance, stopped before xpcd
char g_dir[PATH_MAX] = "";

void track(pid_t pid) {
  if (pid <= 0) return;
  for (auto& slot : g_tracked) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
  ::kill(pid, SIGKILL);  // no room to remember it: do not leave it behind
}

void untrack(pid_t pid) {
  for (auto& slot : g_tracked) {
    pid_t expected = pid;
    slot.compare_exchange_strong(expected, 0);
  }
}

void kill_tracked() {
  for (auto& slot : g_tracked) {
    if (pid_t pid = slot.exchange(0); pid > 0) ::kill(pid, SIGKILL);
  }
}

void cleanup() {
  kill_tracked();  // services first, so xpcd reaps them: none is left to init
  if (g_xpcd > 0) {  // SIGTERM, then SIGKILL if it is not gone within 5 s
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, g_xpcd, 0));
    ::kill(g_xpcd, SIGTERM);
    pollfd p{pidfd, POLLIN, 0};
    if (pidfd < 0 || ::poll(&p, 1, 5000) != 1) ::kill(g_xpcd, SIGKILL);
    if (pidfd >= 0) ::close(pidfd);
    ::waitpid(g_xpcd, nullptr, 0);
    g_xpcd = -1;
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  if (g_dir[0] != '\0') {
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
    g_dir[0] = '\0';
  }
}

extern "C" void on_signal(int sig) {
  kill_tracked();
  if (g_xpcd > 0) {  // let xpcd reap the services it started, then stop it
    ::alarm(5);       // bound: SIGALRM ends the process
    timespec pause{0, 20'000'000};
    ::nanosleep(&pause, nullptr);
    ::kill(g_xpcd, SIGTERM);
    ::waitpid(g_xpcd, nullptr, 0);
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  if (g_dir[0] != '\0') {  // fork and exec are async-signal-safe; remove_all is not
    pid_t rm = ::fork();
    if (rm == 0) {
      ::execl("/bin/rm", "rm", "-rf", g_dir, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (rm > 0) ::waitpid(rm, nullptr, 0);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "activation_bench: %s%s%s\n", what.c_str(), errno ? ": " : "", errno ? std::strerror(errno) : "");
  if (g_dir[0] != '\0') {
    std::ifstream log(std::string(g_dir) + "/xpcd.log");
    std::string line;
    while (std::getline(log, line)) std::fprintf(stderr, "  xpcd.log: %s\n", line.c_str());
  }
  std::exit(1);  // atexit: cleanup()
}

// --- processes ---------------------------------------------------------------
struct FdMap {
  int from, to;
};

pid_t spawn(const std::vector<std::string>& argv, const std::vector<FdMap>& fds,
            const std::vector<std::string>& extra_env = {}, const std::string& stderr_path = "/dev/null") {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (auto [from, to] : fds) posix_spawn_file_actions_adddup2(&actions, from, to);
  if (!stderr_path.empty()) posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args, env;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : extra_env) env.push_back(const_cast<char*>(e.c_str()));
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    die("posix_spawn " + argv[0]);
  }
  track(pid);
  return pid;
}

// Kills (if asked) and reaps a child of ours.
void reap(pid_t pid, bool kill_first) {
  if (kill_first) ::kill(pid, SIGKILL);
  if (::waitpid(pid, nullptr, 0) != pid) die("waitpid");
  untrack(pid);
}

// Kills a service xpcd started and waits until it is gone: its pidfd says
// it exited, and kill(pid, 0) failing says xpcd has reaped it too, so the
// job has seen the exit before the next iteration.
void kill_service(pid_t pid) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) die("pidfd_open of a service");
  ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  pollfd p{pidfd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) die("service did not die");
  ::close(pidfd);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (::kill(pid, 0) == 0 || errno != ESRCH) {
    if (Clock::now() > deadline) die("xpcd did not reap a service");
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  untrack(pid);
}

UniqueFd seqpacket_listener(const std::string& path) {
  UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd.get(), 64) != 0) {
    die("listen on " + path);
  }
  return fd;
}

UniqueFd connect_to(const std::string& path) {
  UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect to " + path);
  return fd;
}

std::pair<UniqueFd, UniqueFd> seqpacket_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
  return {UniqueFd::adopt(sv[0]), UniqueFd::adopt(sv[1])};
}

// One raw request/reply: the same bytes back.
void raw_round_trip(int fd, const std::vector<std::byte>& bytes) {
  static thread_local std::vector<std::byte> buffer(65536);
  if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) die("send");
  if (::recv(fd, buffer.data(), buffer.size(), 0) != static_cast<ssize_t>(bytes.size())) die("recv");
}

// --- xpcd --------------------------------------------------------------------
struct Paths {
  std::string xpcd = XPCD_BIN, echo = ECHO_SERVICE_BIN, raw_echo = RAW_ECHO_BIN;
  std::string dir;
  std::string cold_name(int k) const { return "com.example.echo.cold." + std::to_string(k); }
};

// `extra`: more TOML before the tables (TimeOut = ..., [EnvironmentVariables] ...).
void write_manifest(const Paths& p, const std::string& label, const std::string& extra = "") {
  std::ofstream out(p.dir + "/manifests/" + label + ".toml");
  out << "Label = \"" << label << "\"\nProgramArguments = [\"" << p.echo << "\"]\n" << extra
      << "\n[MachServices]\n\"" << label << "\" = true\n";
  if (!out) die("write manifest " + label);
}

// One job for the running service, and one per cold start: a job whose
// instance died within ThrottleInterval (>= 1 s) is throttled, so each
// cold start looks up a job that has never run, which is as stopped as a
// job gets and needs no wait for a backoff.
void start_xpcd(const Paths& p) {
  std::filesystem::create_directories(p.dir + "/manifests");
  write_manifest(p, "com.example.echo");
  write_manifest(p, "com.example.echo.idle", "TimeOut = 0.01");  // (4a): exits 10 ms after each reply
  write_manifest(p, "com.example.echo.notx", "[EnvironmentVariables]\nXPC_AUTOMATIC_TRANSACTIONS = \"0\"");
  for (int k = 0; k < kColdStarts + kColdWarmup; ++k) write_manifest(p, p.cold_name(k));
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) die("pipe");
  std::string bootstrap = p.dir + "/bootstrap";
  g_xpcd = spawn({p.xpcd, "--user", "--bootstrap", bootstrap, "--manifest-dir", p.dir + "/manifests", "--ready-fd", "3"},
                 {{ready[1], 3}}, {}, p.dir + "/xpcd.log");
  untrack(g_xpcd);  // cleanup() stops it with SIGTERM first
  ::close(ready[1]);
  pollfd pfd{ready[0], POLLIN, 0};
  char c = 0;
  if (::poll(&pfd, 1, 10'000) != 1 || ::read(ready[0], &c, 1) != 1 || c != '\n') die("xpcd did not become ready");
  ::close(ready[0]);
  ::setenv(protocol::kBootstrapEnv, bootstrap.c_str(), 1);
}

Object request() { return Object{{"text", "hello, echo"}, {"n", std::int64_t{42}}}; }

std::vector<std::byte> request_bytes() {
  auto encoded = wire::encode(wire::Message{1, 0, true, request()});
  if (!encoded || !encoded->fds.empty()) die("encode");
  return encoded->datagram;
}

Connection open(const std::string& name) {
  Connection c = Connection::mach_service(name);
  c.set_event_handler([](const Object&) {});
  c.resume();
  return c;
}

Object checked_send_sync(Connection& c, const Object& message) {
  Object reply = c.send_sync(message, std::chrono::seconds(10));
  if (!reply.is(Type::Dictionary)) die("send_sync to " + c.name() + ": " + c.invalidation_reason());
  return reply;
}

void note_running_echo(const Object& reply) {
  if (g_running_echo > 0) return;
  g_running_echo = static_cast<pid_t>(reply["pid"].int64_or(0));
  if (g_running_echo <= 0) die("echo-service sent no pid");
  track(g_running_echo);
}

// --- the cases ---------------------------------------------------------------
void round_trip(const Paths& p) {
  Connection echo = open("com.example.echo");
  Object message = request();
  note_running_echo(checked_send_sync(echo, message));
  auto [mine, theirs] = seqpacket_pair();
  pid_t raw = spawn({p.raw_echo, "loop"}, {{theirs.get(), 3}});
  theirs = UniqueFd();
  std::vector<std::byte> bytes = request_bytes();
  PerOperation(500, kRoundTrips)
      .run("(1) round trip on an established connection, " + std::to_string(bytes.size()) + "-byte request",
           {{"xpc send_sync -> echo-service",
             [&] {
               auto t = Clock::now();
               Object reply = echo.send_sync(message, std::chrono::seconds(10));
               double ns = PerOperation::ns_since(t);
               if (!reply.is(Type::Dictionary)) die("send_sync");
               return ns;
             }},
            {"raw seqpacket socketpair ping-pong (raw_echo process)", [&, fd = mine.get()] {
               auto t = Clock::now();
               raw_round_trip(fd, bytes);
               return PerOperation::ns_since(t);
             }}});
  echo.cancel();
  mine = UniqueFd();  // EOF: raw_echo exits
  reap(raw, false);
}

void lookup_running(const Paths& p) {
  Object message = request();
  {
    Connection first = open("com.example.echo");
    note_running_echo(checked_send_sync(first, message));
    first.cancel();
  }
  std::string path = p.dir + "/raw.sock";
  UniqueFd listener = seqpacket_listener(path);
  pid_t raw = spawn({p.raw_echo, "loop"}, {{listener.get(), 3}});
  std::vector<std::byte> bytes = request_bytes();
  PerOperation(100, kLookups)
      .run("(2) lookup of a running service + first reply",
           {{"xpc mach_service + send_sync (echo-service running)",
             [&] {
               auto t = Clock::now();
               Connection c = open("com.example.echo");
               Object reply = c.send_sync(message, std::chrono::seconds(10));
               double ns = PerOperation::ns_since(t);
               if (!reply.is(Type::Dictionary)) die("send_sync: " + c.invalidation_reason());
               c.cancel();
               return ns;
             }},
            {"raw connect() to listening raw_echo + round trip", [&] {
               auto t = Clock::now();
               UniqueFd fd = connect_to(path);
               raw_round_trip(fd.get(), bytes);
               return PerOperation::ns_since(t);
             }}});
  reap(raw, true);
}

// The peer record xpcd would send with a connection (stand_in_xpcd.hpp).
Object peer_record(const std::string& exe) {
  Object record{{protocol::kPid, std::int64_t{::getpid()}}, {protocol::kUid, std::uint64_t{::getuid()}},
                {protocol::kGid, std::uint64_t{::getgid()}}, {protocol::kExe, exe},
                {protocol::kLabel, ""}};
  UniqueFd pidfd = UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  if (pidfd) record[protocol::kPidfd] = Object::fd(std::move(pidfd));
  return record;
}

// echo-service launched by hand as xpcd would (checkin channel on fd 3,
// XPCD_CHECKIN_FD=3), handed one connection up front, then one request.
double echo_by_hand(const Paths& p, const std::string& exe, const Object& message) {
  auto t = Clock::now();
  auto [checkin, service_checkin] = seqpacket_pair();
  auto [client, service_end] = seqpacket_pair();
  pid_t pid = spawn({p.echo}, {{service_checkin.get(), 3}}, {std::string(protocol::kCheckinFdEnv) + "=3"}, "");
  service_checkin = UniqueFd();
  Object event{{protocol::kEvent, protocol::kConnection},
               {protocol::kFd, Object::fd(std::move(service_end))},
               {protocol::kService, "com.example.echo"},
               {protocol::kPeer, peer_record(exe)}};
  if (!wire::send(checkin.get(), {1, 0, false, event})) die("send connection event");
  if (!wire::send(client.get(), {1, 0, true, message})) die("send request");
  auto reply = wire::receive(client.get());
  double ns = PerOperation::ns_since(t);
  if (!reply || reply->reply_to != 1) die("echo-service by hand: no reply");
  reap(pid, true);
  return ns;
}

// systemd-socket-activate --accept: it listens, and forks and execs
// raw_echo for each connection (fd 3 the connection), so every connect is
// a true cold start, as a lookup of a stopped service is. (Without
// --accept it execs the program at once, before anyone connects, and a
// timed connect would find it already started.) Started once, untimed.
class SocketActivator {
 public:
  explicit SocketActivator(const Paths& p) : path_(p.dir + "/activate.sock") {
    std::filesystem::remove(path_);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) die("pipe");
    pid_ = spawn({kSocketActivate, "--seqpacket", "--accept", "-l", path_, p.raw_echo, "once"}, {{out[1], 2}}, {}, "");
    ::close(out[1]);
    std::string said;  // waits until it listens: "Listening on PATH as 3."
    char buffer[256];
    while (said.find(" as 3.") == std::string::npos) {
      pollfd pfd{out[0], POLLIN, 0};
      ssize_t n = ::poll(&pfd, 1, 5000) == 1 ? ::read(out[0], buffer, sizeof buffer) : -1;
      if (n <= 0) die("systemd-socket-activate did not listen; it said: " + said);
      said.append(buffer, static_cast<std::size_t>(n));
    }
    // Kept open and drained before each connect: it logs every connection
    // to stderr, and a closed pipe would kill it (SIGPIPE), a full one stall it.
    log_ = UniqueFd::adopt(out[0]);
    ::fcntl(log_.get(), F_SETFL, O_NONBLOCK);
  }
  ~SocketActivator() { reap(pid_, true); }

  double once() const {
    char buffer[4096];
    while (::read(log_.get(), buffer, sizeof buffer) > 0) {
    }
    std::vector<std::byte> bytes = request_bytes();
    auto t = Clock::now();
    UniqueFd fd = connect_to(path_);
    raw_round_trip(fd.get(), bytes);
    return PerOperation::ns_since(t);
  }

 private:
  std::string path_;
  pid_t pid_ = -1;
  UniqueFd log_;
};

double raw_by_hand(const Paths& p, const std::vector<std::byte>& bytes) {
  auto t = Clock::now();
  auto [mine, theirs] = seqpacket_pair();
  pid_t pid = spawn({p.raw_echo, "once"}, {{theirs.get(), 3}});
  theirs = UniqueFd();
  raw_round_trip(mine.get(), bytes);
  double ns = PerOperation::ns_since(t);
  reap(pid, false);
  return ns;
}

void cold_start(const Paths& p) {
  Object message = request();
  std::vector<std::byte> bytes = request_bytes();
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  int next_job = 0;
  std::vector<PerOperation::Side> sides{
      {"xpc lookup of a stopped service + first reply",
       [&] {
         if (next_job >= kColdStarts + kColdWarmup) die("out of cold jobs");
         std::string name = p.cold_name(next_job++);
         auto t = Clock::now();
         Connection c = open(name);
         Object reply = c.send_sync(message, std::chrono::seconds(10));
         double ns = PerOperation::ns_since(t);
         if (!reply.is(Type::Dictionary)) die("cold send_sync: " + c.invalidation_reason());
         pid_t pid = static_cast<pid_t>(reply["pid"].int64_or(0));
         if (pid <= 0) die("echo-service sent no pid");
         track(pid);
         c.cancel();
         kill_service(pid);
         return ns;
       }},
      {"(a) posix_spawn echo-service by hand + reply", [&] { return echo_by_hand(p, exe, message); }},
      {"(c) posix_spawn raw_echo (libc only) + reply", [&] { return raw_by_hand(p, bytes); }},
  };
  std::optional<SocketActivator> activator;
  if (::access(kSocketActivate, X_OK) == 0) {
    activator.emplace(p);
    sides.insert(sides.begin() + 2,
                 {"(b) systemd-socket-activate --accept: fork+exec raw_echo + reply", [&] { return activator->once(); }});
  } else {
    std::printf("(3b) skipped: no %s\n", kSocketActivate);
  }
  PerOperation(kColdWarmup, kColdStarts).run("(3) cold start + first reply", sides);
}

}  // namespace

// (4a) The first request after an idle exit: the connection is parked with
// xpcd, the request makes it readable, xpcd relaunches the service and
// hands the connection back, the service answers. Against the same
// echo-service spawned by hand (the cold-start baseline of (3a)). Between
// operations (untimed) the instance is left to exit idle (TimeOut 10 ms).
void after_idle_exit(const Paths& p) {
  Object message = request();
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  Connection idle = open("com.example.echo.idle");
  pid_t last = static_cast<pid_t>(checked_send_sync(idle, message)["pid"].int64_or(0));
  auto wait_idle_exit = [&] {
    UniqueFd pidfd = UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, last, 0)));
    pollfd pfd{pidfd.get(), POLLIN, 0};
    if (pidfd && ::poll(&pfd, 1, 10'000) != 1) die("echo-service did not exit idle");
  };
  PerOperation(10, 300).run("(4a) first request after an idle exit",
                            {{"xpc send_sync on a parked connection (relaunch + reply)",
                              [&] {
                                wait_idle_exit();
                                auto t = Clock::now();
                                Object reply = checked_send_sync(idle, message);
                                double ns = PerOperation::ns_since(t);
                                last = static_cast<pid_t>(reply["pid"].int64_or(0));
                                return ns;
                              }},
                             {"(3a) posix_spawn echo-service by hand + reply",
                              [&] { return echo_by_hand(p, exe, message); }}});
  wait_idle_exit();
  idle.cancel();
}

// (4b) What automatic transactions cost a round trip: echo-service as it
// is, against the same binary with XPC_AUTOMATIC_TRANSACTIONS=0.
void transaction_cost(const Paths&) {
  Object message = request();
  Connection with = open("com.example.echo");
  Connection without = open("com.example.echo.notx");
  note_running_echo(checked_send_sync(with, message));
  pid_t notx = static_cast<pid_t>(checked_send_sync(without, message)["pid"].int64_or(0));
  track(notx);
  auto timed = [&message](Connection& c) {
    auto t = Clock::now();
    Object reply = c.send_sync(message, std::chrono::seconds(10));
    double ns = PerOperation::ns_since(t);
    if (!reply.is(Type::Dictionary)) die("send_sync");
    return ns;
  };
  PerOperation(500, kRoundTrips)
      .run("(4b) round trip with and without automatic transactions",
           {{"echo-service, a transaction per request", [&] { return timed(with); }},
            {"echo-service, XPC_AUTOMATIC_TRANSACTIONS=0", [&] { return timed(without); }}});
  with.cancel();
  without.cancel();
  kill_service(notx);
}

// argv[1], optional: which cases to run ("13": 1 and 3), to profile one.
int main(int argc, char** argv) {
  std::string cases = argc > 1 ? argv[1] : "1234";
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, on_signal);
  std::atexit(cleanup);
  Paths p;
  char pattern[] = "/tmp/xpc-bench-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) die("mkdtemp");
  std::snprintf(g_dir, sizeof g_dir, "%s", pattern);
  p.dir = pattern;
  std::printf("activation_bench: xpcd %s, %u CPUs; per-operation medians and p99; ratio = xpc / baseline\n\n",
              p.xpcd.c_str(), std::thread::hardware_concurrency());
  start_xpcd(p);
  if (cases.find('1') != std::string::npos) round_trip(p);
  if (cases.find('2') != std::string::npos) lookup_running(p);
  if (cases.find('3') != std::string::npos) cold_start(p);
  if (cases.find('4') != std::string::npos) after_idle_exit(p);
  if (cases.find('4') != std::string::npos) transaction_cost(p);
  if (g_running_echo > 0) kill_service(g_running_echo);
  return 0;  // atexit: cleanup()
}
