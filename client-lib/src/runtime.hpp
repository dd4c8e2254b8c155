// The loop behind every connection: one epoll set, an eventfd for posted
// work, and either the library's own thread or the application's (external
// mode). Internal.
#pragma once

#include <xpc/unique_fd.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace xpc::detail {

// Something the loop watches: called on the loop thread when its fd is
// readable (level-triggered).
class Watched {
 public:
  virtual ~Watched() = default;
  virtual void on_readable() = 0;
};

class Runtime {
 public:
  // The process's runtime, made on first use; its thread (unless external)
  // starts then too. Deliberately never destroyed: handlers may run until
  // the process exits.
  static Runtime& get();

  bool select_external();
  int fd() const noexcept { return epoll_.get(); }
  void dispatch();
  // Runs the loop on the calling thread for ever (service_main).
  [[noreturn]] void run_here();

  // Watches fd for `owner`, which stays alive while watched; a disabled
  // watch reports nothing until enabled.
  void watch(int fd, std::shared_ptr<Watched> owner, bool enabled = true);
  // Pauses or resumes watching without forgetting the owner. Pausing takes
  // the fd out of the epoll set: epoll reports EPOLLHUP and EPOLLERR even
  // with no events requested, so a paused peer that closed would be read.
  void set_enabled(int fd, bool enabled);
  // Quiets an enabled watch for a moment (a synchronous sender reading the
  // socket itself) and back: cheaper than set_enabled, but EPOLLHUP and
  // EPOLLERR still come through, so only for a reader that will act on them.
  void set_quiet(int fd, bool quiet);
  // Stops watching; the owner is released on the loop.
  void unwatch(int fd);
  // Runs fn on the loop, after everything posted before it.
  void post(std::function<void()> fn);
  bool on_loop_thread() const noexcept;
  // Whether posted work waits to run (the idle-exit busy check).
  bool has_posted();

 private:
  Runtime();
  void start_thread_locked();
  // Waits up to `timeout_ms` for events and handles them; false when
  // epoll_wait failed other than by a signal.
  bool wait_and_dispatch(int timeout_ms);
  void run_posted();

  UniqueFd epoll_;
  UniqueFd wake_;
  std::mutex mu_;
  bool started_ = false;
  bool external_ = false;
  std::deque<std::function<void()>> posted_;
  std::thread thread_;
  std::atomic<std::thread::id> loop_thread_{};
  // Owners by fd. Only the loop thread removes entries it dispatches to, so
  // an owner is never destroyed while its on_readable runs.
  std::mutex watched_mu_;
  std::vector<std::shared_ptr<Watched>> watched_;  // indexed by fd
};

}  // namespace xpc::detail
