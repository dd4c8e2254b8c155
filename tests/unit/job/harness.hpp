// Test harness for the job engine: a Job, a fake monotonic clock, and
// helpers that build events and compare effects exactly.
#pragma once

#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

#include "job/job.hpp"

namespace doctest {
template <>
struct StringMaker<xpcd::job::Effects> {
  static String convert(const xpcd::job::Effects& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + xpcd::job::to_string(v[i]);
    return (s + "]").c_str();
  }
};
}  // namespace doctest

namespace xpcd::job::test {

using namespace std::chrono_literals;
using manifest::JobSpec;

// A MachServices job, the default case: it uses the checkin channel.
inline JobSpec service_spec(std::string label = "com.example.echo") {
  JobSpec s;
  s.label = std::move(label);
  s.program = "/usr/bin/echo-service";
  s.mach_services.push_back({.name = s.label});
  return s;
}

// A service with EnableTransactions=false: a requested stop is SIGTERM at
// once, with no exit-if-idle handshake first (idle_test.cpp has those).
inline JobSpec signal_spec(std::string label = "com.example.echo") {
  JobSpec s = service_spec(std::move(label));
  s.enable_transactions = false;
  return s;
}

// A job without MachServices: ready once exec succeeded.
inline JobSpec plain_spec(std::string label = "com.example.plain") {
  JobSpec s;
  s.label = std::move(label);
  s.program = "/usr/bin/plain";
  return s;
}

inline JobSpec sockets_spec(std::string label = "com.example.sock") {
  JobSpec s = plain_spec(std::move(label));
  s.sockets.push_back({.group = "Listeners", .path_name = "/run/sock"});
  return s;
}

// Drives one Job with a fake clock. send() returns the effects without the
// Log effects (asserted separately through logs()), so every test compares
// the complete list of actions.
class Harness {
 public:
  explicit Harness(JobSpec spec, Config config = {}) : job(std::move(spec), config) {}

  Effects send(const Event& e) {
    Effects all = job.handle(e, now);
    Effects actions;
    last_logs.clear();
    for (Effect& x : all) {
      if (auto* l = std::get_if<Log>(&x)) {
        last_logs.push_back(*l);
      } else {
        actions.push_back(std::move(x));
      }
    }
    return actions;
  }
  Effects load(CivilTime civil = {2024, 1, 1, 0, 0}) { return send(Load{civil}); }
  void advance(Duration d) { now += d; }
  Effects fire(TimerKind kind) { return send(TimerFired{kind}); }
  // The instance's events, for the current instance.
  InstanceId id() const { return job.status().instance; }
  Effects spawned(int pid = 100) { return send(SpawnSucceeded{id(), pid}); }
  Effects checked_in() { return send(CheckedIn{id()}); }
  Effects exited(int status) { return send(Exited{id(), ExitStatus::exited(status)}); }
  Effects killed(int signal) { return send(Exited{id(), ExitStatus::killed(signal)}); }
  Effects spawn_failed(int error, std::string text) { return send(SpawnFailed{id(), "exec", error, std::move(text)}); }
  // Starts an instance through a lookup and brings it to running.
  void bring_up(LookupId lookup = 1) {
    send(Lookup{lookup});
    spawned();
    checked_in();
  }

  Job job;
  TimePoint now{};
  std::vector<Log> last_logs;
};

inline TimePoint t(Duration d) { return TimePoint{} + d; }

}  // namespace xpcd::job::test
