// SpawnError's names and messages, as the daemon will log them (pure: no
// process is started).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <cerrno>

#include "launcher/spawn.hpp"

namespace xpcd::launcher::test {

TEST_CASE("spawn errors read as one sentence naming what failed and the errno text") {
  CHECK(SpawnError{SpawnStage::exec, ENOENT, 0, "/usr/bin/nope"}.message() ==
        "cannot exec /usr/bin/nope: No such file or directory");
  CHECK(SpawnError{SpawnStage::setuid, EPERM, -1, "nobody"}.message() ==
        "cannot switch to user 'nobody': Operation not permitted");
  CHECK(SpawnError{SpawnStage::setgid, EPERM, -1, "nogroup"}.message() ==
        "cannot switch to group 'nogroup': Operation not permitted");
  CHECK(SpawnError{SpawnStage::setgroups, EPERM, -1, "nobody"}.message() ==
        "cannot set the supplementary groups of user 'nobody': Operation not permitted");
  CHECK(SpawnError{SpawnStage::stdio, EACCES, 1, "/var/log/x"}.message() ==
        "cannot open /var/log/x for standard output: Permission denied");
  CHECK(SpawnError{SpawnStage::chdir, ENOENT, -1, "/srv/nope"}.message() ==
        "cannot change directory to /srv/nope: No such file or directory");
  CHECK(SpawnError{SpawnStage::chroot, ENOENT, -1, "/srv/root"}.message() ==
        "cannot change root directory to /srv/root: No such file or directory");
  CHECK(SpawnError{SpawnStage::rlimit, EINVAL, RLIMIT_NOFILE, "NumberOfFiles"}.message() ==
        "cannot set resource limit NumberOfFiles: Invalid argument");
  CHECK(SpawnError{SpawnStage::fds, EBADF, 3, ""}.message() == "cannot pass file descriptor 3: Bad file descriptor");
  CHECK(SpawnError{SpawnStage::clone, EAGAIN, -1, ""}.message() ==
        "cannot create a process: Resource temporarily unavailable");
}

TEST_CASE("every spawn stage has a name") {
  for (auto [stage, name] : {std::pair{SpawnStage::prepare, "prepare"},
                             {SpawnStage::clone, "clone"},
                             {SpawnStage::signals, "signals"},
                             {SpawnStage::stdio, "stdio"},
                             {SpawnStage::fds, "fds"},
                             {SpawnStage::session, "session"},
                             {SpawnStage::rlimit, "rlimit"},
                             {SpawnStage::nice, "nice"},
                             {SpawnStage::chroot, "chroot"},
                             {SpawnStage::chdir, "chdir"},
                             {SpawnStage::setgroups, "setgroups"},
                             {SpawnStage::setgid, "setgid"},
                             {SpawnStage::setuid, "setuid"},
                             {SpawnStage::exec, "exec"}}) {
    CHECK(std::string(to_string(stage)) == name);
  }
}

}  // namespace xpcd::launcher::test
