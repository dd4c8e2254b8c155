// echo-service, the service of com.example.echo: replies to each message
// with the message itself plus its own `pid` and the client's `peer-uid`,
// `peer-pid` and `peer-exe`. With `sleep` (seconds) the reply waits that
// long without holding up other clients; with "op": "count" the reply also
// has `count`, the messages this instance has seen. One-way messages are
// only counted. Launched by xpcd (XPCD_CHECKIN_FD); see echo-client.cpp.
#include <xpc/connection.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>

using Clock = std::chrono::steady_clock;

// Sends replies when they are due, from one thread: handlers run on the
// library's loop, which must never sleep.
class DelayedReplies {
 public:
  void add(Clock::time_point due, xpc::Object reply, xpc::Connection to) {
    std::lock_guard lock(mu_);
    queue_.emplace(due, Entry{std::move(reply), std::move(to)});
    ++added_;
    cv_.notify_one();
  }

 private:
  struct Entry {
    xpc::Object reply;
    xpc::Connection to;
  };

  void run(std::stop_token stop) {
    std::unique_lock lock(mu_);
    while (!stop.stop_requested()) {
      auto seen = added_;
      auto due = queue_.empty() ? Clock::now() + std::chrono::hours(1) : queue_.begin()->first;
      if (Clock::now() < due) {
        cv_.wait_until(lock, stop, due, [&] { return added_ != seen; });  // woken early by a new entry
        continue;
      }
      auto entry = queue_.extract(queue_.begin());
      lock.unlock();
      entry.mapped().to.send(entry.mapped().reply);
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable_any cv_;
  std::multimap<Clock::time_point, Entry> queue_;
  std::uint64_t added_ = 0;
  std::jthread thread_{[this](std::stop_token stop) { run(stop); }};  // last: starts after the rest exists
};

int main() {
  DelayedReplies delayed;
  std::atomic<std::int64_t> seen{0};
  xpc::service_main([&](xpc::Connection peer) {
    peer.set_event_handler([&](const xpc::Object& message) {
      if (!message.is(xpc::Type::Dictionary)) return;  // errors: the client went away
      std::int64_t count = ++seen;
      xpc::Object reply = xpc::make_reply(message);
      if (reply.is_null()) return;  // one-way: counted only
      for (const auto& [key, value] : *message.as_dictionary()) reply[key] = value;
      xpc::Connection client = xpc::remote_connection(message);
      xpc::PeerInfo who = client.peer();
      reply["pid"] = std::int64_t{::getpid()};
      reply["peer-uid"] = std::uint64_t{who.uid};
      reply["peer-pid"] = std::int64_t{who.pid};
      reply["peer-exe"] = who.exe;
      if (message["op"].as_string() == "count") reply["count"] = count;
      const xpc::Object& sleep = message["sleep"];
      double seconds = sleep.as_double().value_or(static_cast<double>(sleep.int64_or(0)));
      if (seconds <= 0) return client.send(reply);
      auto wait =
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::min(seconds, 86400.0)));
      delayed.add(Clock::now() + wait, std::move(reply), std::move(client));
    });
    peer.resume();
  });
}
