// Counts this process's open file descriptors through /proc/self/fd, so a
// test can assert that an operation leaked none.
#pragma once

#include <dirent.h>

namespace xpc::test {

inline int open_fd_count() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the DIR's own fd
}

}  // namespace xpc::test
