// The loop behind every connection.
#include "runtime.hpp"

#include <xpc/runtime.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace xpc::detail {

namespace {

constexpr std::uint64_t kWakeToken = ~std::uint64_t{0};

}  // namespace

Runtime& Runtime::get() {
  static Runtime* runtime = new Runtime();  // never destroyed, see header
  return *runtime;
}

Runtime::Runtime()
    : epoll_(UniqueFd::adopt(::epoll_create1(EPOLL_CLOEXEC))),
      wake_(UniqueFd::adopt(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))) {
  if (!epoll_ || !wake_) {
    std::perror("libxpc: cannot create its event loop");
    std::abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
}

bool Runtime::select_external() {
  std::lock_guard lock(mu_);
  if (started_) return external_;
  external_ = true;
  started_ = true;
  return true;
}

void Runtime::start_thread_locked() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    for (;;) {
      if (!wait_and_dispatch(-1)) std::abort();
    }
  });
  loop_thread_ = thread_.get_id();
}

void Runtime::run_here() {
  {
    std::lock_guard lock(mu_);
    started_ = true;
    external_ = true;
  }
  loop_thread_ = std::this_thread::get_id();
  for (;;) wait_and_dispatch(-1);
}

bool Runtime::on_loop_thread() const noexcept { return std::this_thread::get_id() == loop_thread_; }

void Runtime::dispatch() {
  if (loop_thread_.load() == std::thread::id()) loop_thread_ = std::this_thread::get_id();
  wait_and_dispatch(0);
}

// The events of the wait that woke the loop are handled as they are: one
// epoll_wait per wakeup, not a blocking one and then another to collect.
bool Runtime::wait_and_dispatch(int timeout_ms) {
  epoll_event events[32];
  int n = ::epoll_wait(epoll_.get(), events, 32, timeout_ms);
  if (n < 0) return errno == EINTR;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kWakeToken) {
      std::uint64_t count;
      (void)::read(wake_.get(), &count, sizeof count);
      run_posted();
      continue;
    }
    int fd = static_cast<int>(events[i].data.u64);
    std::shared_ptr<Watched> owner;
    {
      std::lock_guard lock(watched_mu_);
      if (static_cast<std::size_t>(fd) < watched_.size()) owner = watched_[static_cast<std::size_t>(fd)];
    }
    if (owner) owner->on_readable();
  }
  return true;
}

void Runtime::run_posted() {
  for (;;) {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu_);
      if (posted_.empty()) return;
      fn = std::move(posted_.front());
      posted_.pop_front();
    }
    fn();
  }
}

void Runtime::watch(int fd, std::shared_ptr<Watched> owner, bool enabled) {
  {
    std::lock_guard lock(watched_mu_);
    if (watched_.size() <= static_cast<std::size_t>(fd)) watched_.resize(static_cast<std::size_t>(fd) + 1);
    watched_[static_cast<std::size_t>(fd)] = std::move(owner);
  }
  if (enabled) set_enabled(fd, true);
  std::lock_guard lock(mu_);
  if (!external_) start_thread_locked();
}

// Deleting an fd that is not in the set (or adding one that is) fails
// harmlessly: callers need not track which state it is in.
void Runtime::set_enabled(int fd, bool enabled) {
  if (!enabled) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(fd);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
}

void Runtime::set_quiet(int fd, bool quiet) {
  epoll_event ev{};
  ev.events = quiet ? 0u : std::uint32_t{EPOLLIN};
  ev.data.u64 = static_cast<std::uint64_t>(fd);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
}

void Runtime::unwatch(int fd) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  std::shared_ptr<Watched> owner;
  {
    std::lock_guard lock(watched_mu_);
    if (static_cast<std::size_t>(fd) < watched_.size()) owner = std::move(watched_[static_cast<std::size_t>(fd)]);
  }
  // Released on the loop, never inside its own on_readable's caller frame.
  if (owner) post([owner = std::move(owner)] {});
}

bool Runtime::has_posted() {
  std::lock_guard lock(mu_);
  return !posted_.empty();
}

void Runtime::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(fn));
    if (!external_) start_thread_locked();
  }
  std::uint64_t one = 1;
  (void)::write(wake_.get(), &one, sizeof one);
}

}  // namespace xpc::detail

namespace xpc::runtime {

bool use_external_loop() { return detail::Runtime::get().select_external(); }
int fd() { return detail::Runtime::get().fd(); }
void dispatch() { detail::Runtime::get().dispatch(); }

}  // namespace xpc::runtime
