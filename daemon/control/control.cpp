// The command core: dispatch, targets, permissions, and the verbs
// (control.hpp). Rendering of results is in control_render.cpp.
#include "control/control.hpp"

#include "manifest/loader.hpp"
#include "supervisor/log.hpp"

#include <xpc/protocol.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace xpcd::control {

namespace fs = std::filesystem;
namespace protocol = xpc::protocol;
using xpc::Object;

namespace {

constexpr const char* kOverridesFile = "overrides";

std::string string_of(const Object& request, const char* key) { return request[key].string_or(""); }

// Writes `text` to `path` whole or not at all: a temporary file in the
// same directory, fsync'd, renamed over the old one.
xpc::Result<xpc::Ok, std::string> write_atomically(const std::string& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::string temp = path + ".new";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return xpc::fail(fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
  xpc::UniqueFd owned = xpc::UniqueFd::adopt(fd);
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return xpc::fail(fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    return xpc::fail(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return xpc::Ok{};
}

}  // namespace

Object answer_ok(Object result, std::string output) {
  return Object{{protocol::kOk, true}, {protocol::kExit, 0}, {protocol::kResult, std::move(result)},
                {protocol::kOutput, std::move(output)}};
}

Object answer_error(std::string error, int exit, std::string rule) {
  Object answer{{protocol::kOk, false}, {protocol::kExit, exit}, {protocol::kError, std::move(error)}};
  if (!rule.empty()) answer[protocol::kRule] = std::move(rule);
  return answer;
}

// A verb that waits for a job's next instance (kickstart -k -p).
struct Control::Wait {
  Control* owner;
  std::string label;
  std::uint64_t after;  // the instance that was current when the wait began
  Answer answer;
  SourcePtr timer;      // kMaxWait
};

Control::Control(sd_event* loop, Supervisor& supervisor, ManifestWatch& manifests, std::string state_dir)
    : loop_(loop),
      supervisor_(supervisor),
      manifests_(manifests),
      state_dir_(std::move(state_dir)),
      served_(supervisor.serves_system() ? Domain{true, 0} : Domain{false, ::getuid()}) {}

Control::~Control() = default;

void Control::start() {
  std::ifstream in(fs::path(state_dir_) / kOverridesFile);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = parse_overrides(text.str());
    for (const auto& warning : parsed.warnings) {
      log_line(LogLevel::warning, fmt::format("{}/{}: {}", state_dir_, kOverridesFile, warning));
    }
    overrides_ = std::move(parsed.overrides);
  }
  manifests_.set_load_filter([this](manifest::JobSpec& spec) {
    if (auto it = overrides_.disabled.find(spec.label); it != overrides_.disabled.end()) spec.disabled = it->second;
  });
}

void Control::run(const Caller& caller, const Object& request, Answer answer) {
  const std::string verb = string_of(request, protocol::kVerb);
  if (verb == "kickstart") return kickstart(caller, request, std::move(answer));
  if (verb == "bootout") return bootout(caller, request, std::move(answer));
  Object reply;
  if (verb == "list") {
    reply = list(caller, request);
  } else if (verb == "print") {
    reply = print(caller, request);
  } else if (verb == "blame") {
    reply = blame(caller, request);
  } else if (verb == "kill") {
    reply = kill(caller, request);
  } else if (verb == "enable" || verb == "disable") {
    reply = enable(caller, request, verb == "enable");
  } else if (verb == "bootstrap") {
    reply = bootstrap(caller, request);
  } else if (verb == "reload") {
    reply = reload(caller, request);
  } else {
    reply = answer_error(fmt::format("unknown verb '{}' (expected bootstrap, bootout, enable, disable, kickstart, "
                                     "kill, list, print, blame or reload)",
                                     verb.empty() ? "(none)" : verb),
                         2);
  }
  answer(std::move(reply));
}

xpc::Result<Control::Resolved, Object> Control::resolve(std::string_view verb, const Caller& caller,
                                                        const Object& request, const char* key, Access access,
                                                        bool label_required) {
  const Object& given = request[key];
  Target target;
  if (given.is_null()) {
    target.domain = served_;  // no target: the domain this daemon serves
  } else if (auto text = given.as_string()) {
    auto parsed = parse_target(*text);
    if (!parsed) return xpc::fail(answer_error(parsed.error(), 2));
    target = std::move(*parsed);
  } else {
    return xpc::fail(answer_error(fmt::format("'{}' must be a string", key), 2));
  }
  if (label_required && target.label.empty()) {
    return xpc::fail(answer_error(fmt::format("{} needs a job (DOMAIN/LABEL or LABEL), not the domain '{}'", verb,
                                              to_string(target)),
                                  2));
  }
  Domain domain = target.domain.value_or(default_domain(caller.uid, served_.system));
  if (domain != served_) {
    return xpc::fail(answer_error(fmt::format("this xpcd serves the {} domain, not {}{}", to_string(served_),
                                              to_string(domain),
                                              target.domain ? "" : " (the caller's default domain)")));
  }
  if (auto refusal = check_access(verb, access, domain, caller.uid)) {
    log_line(LogLevel::notice, fmt::format("pid {} uid {}: {}", caller.pid, caller.uid, refusal->text));
    return xpc::fail(answer_error(refusal->text, 1, refusal->rule));
  }
  return Resolved{domain, std::move(target.label)};
}

Object Control::list(const Caller& caller, const Object& request) {
  auto where = resolve("list", caller, request, protocol::kDomain, Access::read, false);
  if (!where) return std::move(where).error();
  if (!where->label.empty()) return answer_error("list takes a domain, not a job; print shows one job", 2);
  Object jobs = Object::array();
  for (const auto& label : supervisor_.labels()) jobs.push_back(job_result(label));
  Object result{{"domain", to_string(served_)}, {"jobs", std::move(jobs)}};
  std::string text = render_list(result);
  return answer_ok(std::move(result), std::move(text));
}

Object Control::print(const Caller& caller, const Object& request) {
  auto where = resolve("print", caller, request, protocol::kTarget, Access::read, false);
  if (!where) return std::move(where).error();
  if (!where->label.empty()) {
    if (!supervisor_.job_view(where->label)) {
      return answer_error(fmt::format("no job '{}' in the {} domain", where->label, to_string(served_)));
    }
    Object job = job_result(where->label);
    std::string text = render_job(job);
    return answer_ok(std::move(job), std::move(text));
  }
  Object labels = Object::array();
  for (const auto& label : supervisor_.labels()) labels.push_back(label);
  Object overrides = Object::dictionary();
  for (const auto& [label, disabled] : overrides_.disabled) overrides[label] = disabled ? "disabled" : "enabled";
  Object result{{"domain", to_string(served_)}, {"jobs", labels}, {"state_dir", state_dir_},
                {"overrides", overrides}};
  std::string text = fmt::format("{} = {{\n\tjobs = {}\n\tstate directory = {}\n\toverrides = {}\n",
                                 to_string(served_), labels.size(), state_dir_, overrides_.disabled.size());
  for (const auto& label : supervisor_.labels()) {
    const auto& status = supervisor_.job_view(label)->job->status();
    text += fmt::format("\t{}\t{}\t{}\n", status.pid != 0 ? std::to_string(status.pid) : "-",
                        job::to_string(supervisor_.job_view(label)->job->state()), label);
  }
  return answer_ok(std::move(result), text + "}\n");
}

Object Control::blame(const Caller& caller, const Object& request) {
  auto where = resolve("blame", caller, request, protocol::kTarget, Access::read, true);
  if (!where) return std::move(where).error();
  auto view = supervisor_.job_view(where->label);
  if (!view) return answer_error(fmt::format("no job '{}' in the {} domain", where->label, to_string(served_)));
  const job::Status& status = view->job->status();
  const job::State state = view->job->state();
  const bool running = state == job::State::spawning || state == job::State::running ||
                       state == job::State::draining || state == job::State::stopping;
  Object result{{"label", where->label}, {"running", running}, {"state", job::to_string(state)},
                {"pid", status.pid}, {"started_because", status.started_because}};
  std::string text = running ? status.started_because + "\n"
                             : fmt::format("not running{}\n", status.started_because.empty()
                                                                  ? std::string(" (never started)")
                                                                  : " (last started for: " + status.started_because + ")");
  return answer_ok(std::move(result), std::move(text));
}

Object Control::kill(const Caller& caller, const Object& request) {
  auto where = resolve("kill", caller, request, protocol::kTarget, Access::change, true);
  if (!where) return std::move(where).error();
  auto signal = request[protocol::kSignal].as_int64();
  if (!signal || *signal < 1 || *signal > 64) return answer_error("kill needs a signal number from 1 to 64", 2);
  auto view = supervisor_.job_view(where->label);
  if (!view) return answer_error(fmt::format("no job '{}' in the {} domain", where->label, to_string(served_)));
  const int pid = view->job->status().pid;
  if (auto r = supervisor_.control(where->label, job::Signal{static_cast<int>(*signal)}); !r) {
    return answer_error(r.error());
  }
  log_line(LogLevel::info, fmt::format("uid {} sent {} to '{}'", caller.uid, job::signal_name(static_cast<int>(*signal)),
                                       where->label));
  return answer_ok(Object{{"label", where->label}, {"pid", pid}, {"signal", *signal}},
                   fmt::format("sent {} to {} (pid {})\n", job::signal_name(static_cast<int>(*signal)), where->label, pid));
}

xpc::Result<xpc::Ok, std::string> Control::save_override(const std::string& label, bool disabled) {
  Overrides next = overrides_;
  next.disabled[label] = disabled;
  if (auto written = write_atomically((fs::path(state_dir_) / kOverridesFile).string(), format_overrides(next));
      !written) {
    return written;
  }
  overrides_ = std::move(next);
  return xpc::Ok{};
}

// Persisted first: if the state directory cannot be written, nothing
// changes. Then a loaded job is told (disable leaves a live instance alone).
Object Control::enable(const Caller& caller, const Object& request, bool enabled) {
  const char* verb = enabled ? "enable" : "disable";
  auto where = resolve(verb, caller, request, protocol::kTarget, Access::change, true);
  if (!where) return std::move(where).error();
  if (!storable_label(where->label)) return answer_error("a label to store has no newline or NUL", 2);
  if (auto saved = save_override(where->label, !enabled); !saved) return answer_error(saved.error());
  const bool loaded = supervisor_.job_view(where->label).has_value();
  if (loaded) {
    auto r = enabled ? supervisor_.control(where->label, job::Enable{}) : supervisor_.control(where->label, job::Disable{});
    if (!r) return answer_error(r.error());
  }
  log_line(LogLevel::info, fmt::format("uid {} {}d '{}'", caller.uid, verb, where->label));
  return answer_ok(Object{{"label", where->label}, {"disabled", !enabled}, {"loaded", loaded}},
                   fmt::format("{} {}{}\n", where->label, enabled ? "enabled" : "disabled",
                               loaded ? "" : " (not loaded; applies when it is)"));
}

Object Control::bootstrap(const Caller& caller, const Object& request) {
  auto where = resolve("bootstrap", caller, request, protocol::kDomain, Access::change, false);
  if (!where) return std::move(where).error();
  const Object& given = request[protocol::kPaths];
  if (!given.is(xpc::Type::Array) || given.size() == 0) return answer_error("bootstrap needs at least one PATH", 2);
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < given.size(); ++i) {
    auto path = given[i].as_string();
    if (!path || path->empty() || path->front() != '/') return answer_error("bootstrap takes absolute paths", 2);
    paths.emplace_back(*path);
  }
  manifest::Diagnostics missing;
  Object loaded = Object::array();
  Object errors = Object::array();
  std::string text;
  for (const auto& path : manifest::expand_paths(paths, missing)) {
    auto label = manifests_.bootstrap(path);
    if (label) {
      loaded.push_back(Object{{"path", path}, {"label", *label}});
      text += fmt::format("{}: loaded {}\n", path, *label);
    } else {
      errors.push_back(Object{{"path", path}, {"error", label.error()}});
    }
  }
  for (const auto& d : missing) errors.push_back(Object{{"path", d.file}, {"error", manifest::format(d)}});
  if (errors.size() > 0) {
    std::string error;
    for (std::size_t i = 0; i < errors.size(); ++i) error += (i ? "\n" : "") + errors[i]["error"].string_or("");
    Object answer = answer_error(error);
    answer[protocol::kResult] = Object{{"loaded", loaded}, {"errors", errors}};
    answer[protocol::kOutput] = text;
    return answer;
  }
  if (loaded.size() == 0) return answer_error("no manifest found at the given paths");
  return answer_ok(Object{{"loaded", loaded}, {"errors", errors}}, std::move(text));
}

Object Control::reload(const Caller& caller, const Object& request) {
  auto where = resolve("reload", caller, request, protocol::kDomain, Access::change, false);
  if (!where) return std::move(where).error();
  if (!where->label.empty()) return answer_error("reload takes a domain, not a job", 2);
  log_line(LogLevel::info, fmt::format("uid {} asked for a reload of the manifests", caller.uid));
  manifests_.reload();
  return answer_ok(Object{{"jobs", supervisor_.job_count()}},
                   fmt::format("manifests read again; {} jobs loaded\n", supervisor_.job_count()));
}

// kickstart [-k] [-p]: started (or left running) now; -p answers with the
// pid, which after -k means waiting for the next instance.
void Control::kickstart(const Caller& caller, const Object& request, Answer answer) {
  auto where = resolve("kickstart", caller, request, protocol::kTarget, Access::change, true);
  if (!where) return answer(std::move(where).error());
  auto view = supervisor_.job_view(where->label);
  if (!view) {
    return answer(answer_error(fmt::format("no job '{}' in the {} domain", where->label, to_string(served_))));
  }
  const bool kill_running = request[protocol::kKill].bool_or(false);
  const std::uint64_t before = view->job->status().instance;
  const bool was_live = view->job->status().pid != 0;
  if (auto r = supervisor_.control(where->label, job::Kickstart{kill_running}); !r) {
    return answer(answer_error(r.error()));
  }
  log_line(LogLevel::info, fmt::format("uid {} kickstarted '{}'{}", caller.uid, where->label, kill_running ? " -k" : ""));
  // A new instance, or (kickstart without -k of a live job) the current one.
  wait_for_instance(where->label, kill_running || !was_live ? before : before - 1, std::move(answer));
}

void Control::wait_for_instance(const std::string& label, std::uint64_t after, Answer answer) {
  Wait& wait = waits_.emplace_back(Wait{this, label, after, std::move(answer), {}});
  sd_event_source* source = nullptr;
  std::uint64_t now = 0;
  sd_event_now(loop_, CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<std::uint64_t>(std::chrono::microseconds(kMaxWait).count());
  if (sd_event_add_time(loop_, &source, CLOCK_MONOTONIC, now + usec, 0, on_wait_timer, &wait) >= 0) {
    wait.timer.reset(source);
  }
  if (!post_ && sd_event_add_post(loop_, &source, on_post, this) >= 0) post_.reset(source);
  check_waits();
}

// After every event: a wait is over once its job has a newer instance with
// a pid, or no chance of one (removed, or stopped with no start coming).
void Control::check_waits() {
  for (auto it = waits_.begin(); it != waits_.end();) {
    auto view = supervisor_.job_view(it->label);
    std::optional<Object> done;
    if (!view) {
      done = answer_error(fmt::format("{}: job was removed", it->label));
    } else {
      const job::Status& status = view->job->status();
      const job::State state = view->job->state();
      if (status.instance > it->after && status.pid != 0) {
        done = answer_ok(Object{{"label", it->label}, {"pid", status.pid}, {"instance", status.instance}},
                         fmt::format("{}\n", status.pid));
      } else if (status.instance > it->after &&
                 (state == job::State::throttled || state == job::State::stopped)) {
        done = answer_error(status.last_failure.empty() ? fmt::format("{}: did not start", it->label)
                                                        : status.last_failure);
      }
    }
    if (!done) {
      ++it;
      continue;
    }
    Answer answer = std::move(it->answer);
    it = waits_.erase(it);
    answer(std::move(*done));
  }
  if (waits_.empty()) post_.reset();
}

int Control::on_post(sd_event_source*, void* userdata) {
  static_cast<Control*>(userdata)->check_waits();
  return 0;
}

int Control::on_wait_timer(sd_event_source*, uint64_t, void* userdata) {
  auto* wait = static_cast<Wait*>(userdata);
  Control& self = *wait->owner;
  Answer answer = std::move(wait->answer);
  std::string label = wait->label;
  self.waits_.remove_if([wait](const Wait& w) { return &w == wait; });
  if (self.waits_.empty()) self.post_.reset();
  answer(answer_error(fmt::format("{}: no new instance within {} s", label, kMaxWait.count())));
  return 0;
}

// bootout TARGET, or bootout DOMAIN PATH...: answered once every job named
// is gone (after its instance stopped, up to its ExitTimeOut).
void Control::bootout(const Caller& caller, const Object& request, Answer answer) {
  const Object& paths = request[protocol::kPaths];
  const bool by_path = paths.is(xpc::Type::Array);
  auto where = resolve("bootout", caller, request, by_path ? protocol::kDomain : protocol::kTarget, Access::change,
                       !by_path);
  if (!where) return answer(std::move(where).error());
  std::vector<std::string> labels;
  if (by_path) {
    if (!where->label.empty()) return answer(answer_error("bootout DOMAIN PATH takes a domain, not a job", 2));
    for (std::size_t i = 0; i < paths.size(); ++i) {
      std::string path = paths[i].string_or("");
      auto label = manifests_.label_of(path);
      if (!label) return answer(answer_error(fmt::format("{}: no job loaded from this manifest", path)));
      labels.push_back(*label);
    }
    if (labels.empty()) return answer(answer_error("bootout needs a PATH", 2));
  } else {
    if (!supervisor_.job_view(where->label)) {
      return answer(answer_error(fmt::format("no job '{}' in the {} domain", where->label, to_string(served_))));
    }
    labels.push_back(where->label);
  }
  log_line(LogLevel::info, fmt::format("uid {} booted out {}", caller.uid, fmt::join(labels, ", ")));
  // One answer once the last one is gone.
  auto pending = std::make_shared<std::size_t>(labels.size());
  auto shared = std::make_shared<Answer>(std::move(answer));
  Object gone = Object::array();
  for (const auto& label : labels) gone.push_back(label);
  auto text = fmt::format("booted out {}\n", fmt::join(labels, ", "));
  for (const auto& label : labels) {
    auto finished = [pending, shared, gone, text] {
      if (--*pending == 0) (*shared)(answer_ok(Object{{"removed", gone}}, text));
    };
    if (!manifests_.bootout_label(label, finished)) finished();
  }
}

}  // namespace xpcd::control
