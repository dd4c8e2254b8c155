// The service the daemon tests launch. Before anything else it records
// what it was started with (its pid and open fds) in a file under the
// directory named by argv[1], so a test can see when, how often and how it
// was launched. Then it serves: a reply carries its pid and what it knows
// of the peer; {"op": "exit", "code": N} makes it exit at once;
// {"op": "stall"} stops its loop (no more reads of anything, the checkin
// channel included) until it gets SIGUSR1. Every other message is counted
// in STATE_DIR/seen (one line each, across instances); {"op": "count"}
// replies with that count, so a test can see that no message was lost.
// {"op": "hold"} opens a transaction that is never closed and makes the
// service ignore SIGTERM (a dirty service a stop must escalate on); a
// termination-imminent on any peer connection is recorded in
// STATE_DIR/terminating.PID.
//   test-service STATE_DIR [--exit-before-checkin CODE | --close-checkin]
// --close-checkin: checks in by hand, closes its checkin channel and lives
// on without taking a connection.
#include <xpc/connection.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

std::string open_fds() {
  std::string fds;
  DIR* dir = opendir("/proc/self/fd");
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.' || std::atoi(e->d_name) == dirfd(dir)) continue;
    fds += std::string(fds.empty() ? "" : " ") + e->d_name;
  }
  closedir(dir);
  return fds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 64;
  std::string fds = open_fds();
  std::ofstream(std::string(argv[1]) + "/started." + std::to_string(getpid()))
      << "fds " << fds << "\ncheckin " << (std::getenv("XPCD_CHECKIN_FD") ? std::getenv("XPCD_CHECKIN_FD") : "-")
      << "\n";
  if (argc == 4 && std::string(argv[2]) == "--exit-before-checkin") return std::atoi(argv[3]);
  if (argc == 3 && std::string(argv[2]) == "--close-checkin") {
    int checkin = std::atoi(std::getenv(xpc::protocol::kCheckinFdEnv));
    xpc::Object ready{{xpc::protocol::kEvent, xpc::protocol::kReady}};
    if (!xpc::wire::send(checkin, {0, 0, false, ready})) return 70;
    ::close(checkin);
    for (;;) ::pause();
  }
  // Blocked in every thread, so only the stalled loop's sigwait takes it.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);

  const std::string seen = std::string(argv[1]) + "/seen";
  xpc::service_main([&usr1, &seen, argv](xpc::Connection peer) {
    peer.set_event_handler([peer, &usr1, seen, argv](const xpc::Object& message) mutable {
      if (message.is(xpc::Type::Error) && message[xpc::kErrorKeyCode].as_string() == "termination-imminent") {
        std::ofstream(std::string(argv[1]) + "/terminating." + std::to_string(getpid())) << "yes\n";
      }
      if (!message.is(xpc::Type::Dictionary)) return;
      if (message["op"].as_string() == "hold") {
        xpc::transaction_begin();
        ::signal(SIGTERM, SIG_IGN);
      }
      bool count = message["op"].as_string() == "count";
      if (!count) std::ofstream(seen, std::ios::app) << "seen\n";
      if (message["op"].as_string() == "exit") _exit(static_cast<int>(message["code"].int64_or(0)));
      if (message["op"].as_string() == "stall") {
        // Answered first, when asked: the asker then knows the loop is stopped.
        if (xpc::Object stalled = xpc::make_reply(message); !stalled.is_null()) peer.send(stalled);
        int signal = 0;
        sigwait(&usr1, &signal);
      }
      xpc::Object reply = xpc::make_reply(message);
      if (reply.is_null()) return;
      reply["pid"] = std::int64_t{getpid()};
      reply["peer-pid"] = std::int64_t{peer.peer().pid};
      reply["peer-uid"] = std::uint64_t{peer.peer().uid};
      reply["peer-exe"] = peer.peer().exe;
      reply["text"] = message["text"];
      if (count) {
        std::ifstream in(seen);
        reply["count"] = static_cast<std::int64_t>(
            std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
      }
      peer.send(reply);
    });
    peer.resume();
  });
}
