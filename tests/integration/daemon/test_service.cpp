// The service the daemon tests launch. Before anything else it records
// what it was started with (its pid and open fds) in a file under the
// directory named by argv[1], so a test can see when, how often and how it
// was launched. Then it serves: a reply carries its pid and what it knows
// of the peer; {"op": "exit", "code": N} makes it exit at once.
//   test-service STATE_DIR [--exit-before-checkin CODE]
#include <xpc/connection.hpp>

#include <dirent.h>
#include <unistd.h>

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

  xpc::service_main([](xpc::Connection peer) {
    peer.set_event_handler([peer](const xpc::Object& message) mutable {
      if (!message.is(xpc::Type::Dictionary)) return;
      if (message["op"].as_string() == "exit") _exit(static_cast<int>(message["code"].int64_or(0)));
      xpc::Object reply = xpc::make_reply(message);
      if (reply.is_null()) return;
      reply["pid"] = std::int64_t{getpid()};
      reply["peer-pid"] = std::int64_t{peer.peer().pid};
      reply["peer-uid"] = std::uint64_t{peer.peer().uid};
      reply["peer-exe"] = peer.peer().exe;
      reply["text"] = message["text"];
      peer.send(reply);
    });
    peer.resume();
  });
}
