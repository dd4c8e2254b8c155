// The service the FDSTORE tests launch: what a systemd service does with
// its file descriptor store, through libsystemd's own calls. At start it
// records what sd_listen_fds_with_names() found in STATE_DIR/found.PID,
// one line per fd, "NAME TEXT" (a memfd's content) or "NAME socket"; then
// it does each line of STATE_DIR/cmd, in order, and exits 0:
//   store NAME COUNT TEXT       COUNT memfds holding TEXT in one FDSTORE=1 FDNAME=NAME datagram
//   store-found NAME            the fds it found, stored again under NAME
//   store-socket NAME [nopoll]  one end of a socketpair (FDPOLL=0 with nopoll); the
//                               other end stays open until this process ends
//   remove NAME                 FDSTOREREMOVE=1 FDNAME=NAME
//   stay                        wait for a signal instead of exiting
//   fdstore-service STATE_DIR
#include <systemd/sd-daemon.h>

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string describe(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return "bad";
  if (S_ISSOCK(st.st_mode)) return "socket";
  std::string text(256, '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

int store(const std::string& name, const std::vector<int>& fds, bool poll = true) {
  std::string state = "FDSTORE=1\nFDNAME=" + name + (poll ? "" : "\nFDPOLL=0");
  return sd_pid_notify_with_fds(0, 0, state.c_str(), fds.data(), static_cast<unsigned>(fds.size()));
}

int memfd_with(const std::string& text) {
  int fd = ::memfd_create("fdstore-test", MFD_CLOEXEC);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::exit(70);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 64;
  const std::string dir = argv[1];
  char** names = nullptr;
  const int found = sd_listen_fds_with_names(0, &names);
  std::ofstream out(dir + "/found." + std::to_string(::getpid()));
  std::vector<int> found_fds;
  for (int i = 0; i < found; ++i) {
    out << names[i] << ' ' << describe(SD_LISTEN_FDS_START + i) << '\n';
    found_fds.push_back(SD_LISTEN_FDS_START + i);
  }
  out.close();
  std::ifstream commands(dir + "/cmd");
  std::vector<int> peers;  // kept open until exit
  for (std::string line; std::getline(commands, line);) {
    std::istringstream words(line);
    std::string verb, name, extra;
    words >> verb >> name;
    if (verb == "store") {
      int count = 0;
      words >> count >> extra;
      std::vector<int> fds;
      for (int i = 0; i < count; ++i) fds.push_back(memfd_with(extra));
      if (store(name, fds) <= 0) return 71;
    } else if (verb == "store-found") {
      if (store(name, found_fds) <= 0) return 71;
    } else if (verb == "store-socket") {
      words >> extra;
      int pair[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 72;
      if (store(name, {pair[0]}, extra != "nopoll") <= 0) return 71;
      peers.push_back(pair[1]);
    } else if (verb == "remove") {
      if (sd_pid_notify(0, 0, ("FDSTOREREMOVE=1\nFDNAME=" + name).c_str()) <= 0) return 71;
    } else if (verb == "stay") {
      for (;;) ::pause();
    }
  }
  return 0;
}
