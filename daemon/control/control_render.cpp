// What the command core tells about jobs: the result dictionaries (for
// programs, xpcctl --json) and their text (for people), control.hpp.
#include "control/control.hpp"

#include <fmt/format.h>

#include <chrono>

namespace xpcd::control {

using xpc::Object;

Object Control::job_result(const std::string& label) const {
  auto view = supervisor_.job_view(label);
  if (!view) return Object::dictionary();
  const job::Job& job = *view->job;
  const job::Status& status = job.status();
  const manifest::JobSpec& spec = job.spec();
  Object services = Object::array();
  for (const auto& service : spec.mach_services) services.push_back(service.name);
  Object arguments = Object::array();
  for (const auto& argument : spec.arguments) arguments.push_back(argument);
  Object last_exit;  // null: none yet
  if (status.last_exit) {
    last_exit = Object{{"signaled", status.last_exit->signaled}, {"code", status.last_exit->code},
                       {"text", job::describe(*status.last_exit)}};
  }
  std::string override_text;
  if (auto it = overrides_.disabled.find(label); it != overrides_.disabled.end()) {
    override_text = it->second ? "disabled" : "enabled";
  }
  std::int64_t throttled_ms = 0;
  if (status.throttled_until) {
    auto left = *status.throttled_until - job::Clock::now();
    throttled_ms = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
  }
  // The current instance's period (WatchdogSec, or WATCHDOG_USEC= since), 0: off.
  std::int64_t watchdog_usec = 0;
  if (status.watchdog_period) {
    watchdog_usec = std::chrono::duration_cast<std::chrono::microseconds>(*status.watchdog_period).count();
  }
  return Object{{"label", label},
                {"target", to_string(served_) + "/" + label},
                {"state", job::to_string(job.state())},
                {"pid", status.pid},
                {"disabled", job.disabled()},
                {"override", override_text},
                {"source", spec.source},
                {"program", spec.program},
                {"arguments", arguments},
                {"services", services},
                {"instance", status.instance},
                {"starts", status.starts},
                {"started_because", status.started_because},
                {"checked_in", status.checked_in},
                {"dirty", status.dirty},
                {"status_text", status.status_text},
                {"last_exit", last_exit},
                {"last_failure", status.last_failure},
                {"consecutive_failures", status.consecutive_failures},
                {"throttled", status.throttled_until.has_value()},
                {"throttled_for_ms", throttled_ms},
                {"waiting_lookups", job.waiting_lookups()},
                {"parked_connections", view->parked},
                {"stored_fds", view->stored_fds},
                {"idle_exits", status.idle_exits},
                {"relaunches", status.relaunches},
                {"busy_answers", status.busy_answers},
                {"pressured_exits", status.pressured_exits},
                {"watchdog_usec", watchdog_usec},
                {"watchdog_kills", status.watchdog_kills}};
}

namespace {

std::string or_dash(std::string_view text) { return text.empty() ? std::string("-") : std::string(text); }

std::string list_of(const Object& array) {
  std::string out;
  for (std::size_t i = 0; i < array.size(); ++i) out += (i ? ", " : "") + array[i].string_or("");
  return or_dash(out);
}

}  // namespace

std::string render_job(const Object& job) {
  const std::int64_t pid = job["pid"].int64_or(0);
  std::string out = fmt::format("{} = {{\n", job["target"].string_or("?"));
  auto line = [&out](std::string_view key, const std::string& value) { out += fmt::format("\t{} = {}\n", key, value); };
  line("state", job["state"].string_or("?"));
  line("pid", pid != 0 ? std::to_string(pid) : "-");
  std::string enabled = job["disabled"].bool_or(false) ? "disabled" : "enabled";
  if (auto o = job["override"].string_or(""); !o.empty()) enabled += " (override: " + o + ")";
  line("enabled", enabled);
  line("manifest", or_dash(job["source"].string_or("")));
  line("program", or_dash(job["program"].string_or("")));
  line("services", list_of(job["services"]));
  line("started because", or_dash(job["started_because"].string_or("")));
  line("last exit", job["last_exit"].is_null() ? "-" : job["last_exit"]["text"].string_or("?"));
  line("last failure", or_dash(job["last_failure"].string_or("")));
  line("starts", std::to_string(job["starts"].uint64_or(0)));
  line("consecutive failures", std::to_string(job["consecutive_failures"].uint64_or(0)));
  line("throttled", job["throttled"].bool_or(false)
                        ? fmt::format("yes, {} ms left", job["throttled_for_ms"].int64_or(0))
                        : std::string("no"));
  line("transactions", job["dirty"].bool_or(false) ? "dirty" : "clean");
  line("waiting lookups", std::to_string(job["waiting_lookups"].uint64_or(0)));
  line("parked connections", std::to_string(job["parked_connections"].uint64_or(0)));
  line("stored fds", std::to_string(job["stored_fds"].uint64_or(0)));
  line("idle exits", std::to_string(job["idle_exits"].uint64_or(0)));
  line("relaunches", std::to_string(job["relaunches"].uint64_or(0)));
  line("busy answers", std::to_string(job["busy_answers"].uint64_or(0)));
  line("pressured exits", std::to_string(job["pressured_exits"].uint64_or(0)));
  const std::int64_t watchdog_usec = job["watchdog_usec"].int64_or(0);
  line("watchdog", watchdog_usec > 0 ? fmt::format("{} ms", watchdog_usec / 1000) : std::string("off"));
  line("watchdog kills", std::to_string(job["watchdog_kills"].uint64_or(0)));
  if (auto text = job["status_text"].string_or(""); !text.empty()) line("status", text);
  return out + "}\n";
}

std::string render_list(const Object& list) {
  std::string out = "PID\tLAST EXIT\tSTATE\tLABEL\n";
  const Object& jobs = list["jobs"];
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Object& job = jobs[i];
    const std::int64_t pid = job["pid"].int64_or(0);
    std::string exit = "-";
    if (!job["last_exit"].is_null()) {
      exit = job["last_exit"]["signaled"].bool_or(false)
                 ? job::signal_name(static_cast<int>(job["last_exit"]["code"].int64_or(0)))
                 : std::to_string(job["last_exit"]["code"].int64_or(0));
    }
    out += fmt::format("{}\t{}\t{}\t{}\n", pid != 0 ? std::to_string(pid) : "-", exit, job["state"].string_or("?"),
                       job["label"].string_or("?"));
  }
  return out;
}

}  // namespace xpcd::control
