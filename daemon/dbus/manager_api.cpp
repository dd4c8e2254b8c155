// org.xpcd.Manager1 (manager_api.hpp): each method asks the bus daemon,
// asynchronously, who sent it, then builds the command core's request from
// its arguments, runs the verb with that caller, and turns the answer into
// D-Bus values or a D-Bus error.
#include "dbus/manager_api.hpp"

#include "dbus/bus_event.hpp"
#include "supervisor/log.hpp"

#include "manager1_adaptor.h"  // generated: sdbus-c++-xml2cpp org.xpcd.Manager1.xml

#include <json.hpp>  // xpcctl::json::format, the JSON xpcctl --json prints
#include <xpc/protocol.hpp>

#include <fmt/format.h>
#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>

namespace xpcd::dbus {

namespace protocol = xpc::protocol;
using xpc::Object;

namespace {

using JobRow = sdbus::Struct<std::string, std::int32_t, std::string, std::int32_t>;

// The longest xpcd waits for the bus daemon: for a sender's credentials
// (asynchronously, the loop serving others) and for the name at start
// (blocking, before xpcd says READY).
constexpr auto kBusCallTimeout = std::chrono::seconds(5);

// An error answer of the command core as a D-Bus error: a refusal by a
// rule is org.xpcd.Manager1.Error.AccessDenied (not the standard name:
// busctl and sd-bus show "Access denied" for that and drop the text, which
// names the rule), a usage error InvalidArgs, anything else
// org.xpcd.Manager1.Error.Failed.
sdbus::Error to_error(const Object& answer) {
  std::string text = answer[protocol::kError].string_or("failed");
  if (!answer[protocol::kRule].string_or("").empty()) return sdbus::Error("org.xpcd.Manager1.Error.AccessDenied", text);
  if (answer[protocol::kExit].int64_or(1) == 2) return sdbus::Error("org.freedesktop.DBus.Error.InvalidArgs", text);
  return sdbus::Error("org.xpcd.Manager1.Error.Failed", text);
}

// The answer's result, or the answer as a D-Bus error (thrown: sdbus-c++
// replies with it).
const Object& result_of(const Object& answer) {
  if (!answer[protocol::kOk].bool_or(false)) throw to_error(answer);
  return answer[protocol::kResult];
}

std::int32_t to_i32(const Object& value) { return static_cast<std::int32_t>(value.int64_or(0)); }

// launchctl list's status: the exit code, or minus the signal number.
std::int32_t exit_status(const Object& last_exit) {
  if (last_exit.is_null()) return 0;
  auto code = to_i32(last_exit["code"]);
  return last_exit["signaled"].bool_or(false) ? -code : code;
}

std::vector<JobRow> rows(const Object& list_result) {
  std::vector<JobRow> out;
  const Object& jobs = list_result["jobs"];
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Object& job = jobs[i];
    out.emplace_back(job["label"].string_or(""), to_i32(job["pid"]), job["state"].string_or(""),
                     exit_status(job["last_exit"]));
  }
  return out;
}

Object with_target(const std::string& target) {
  Object request = Object::dictionary();
  if (!target.empty()) request[protocol::kTarget] = target;
  return request;
}

std::vector<std::string> strings_of(const Object& array, const char* key = nullptr) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array.size(); ++i) {
    out.push_back(key != nullptr ? array[i][key].string_or("") : array[i].string_or(""));
  }
  return out;
}

}  // namespace

class Manager final : public sdbus::AdaptorInterfaces<org::xpcd::Manager1_adaptor> {
 public:
  Manager(sdbus::IConnection& connection, control::Control& control, Supervisor& supervisor)
      : AdaptorInterfaces(connection, kObjectPath),
        bus_daemon_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")),
        control_(control),
        supervisor_(supervisor) {
    registerAdaptor();
  }
  ~Manager() { unregisterAdaptor(); }

  // The supervisor's observer: JobChanged, then the Jobs property.
  void job_changed(const std::string& label) {
    auto view = supervisor_.job_view(label);
    std::string state = view ? std::string(job::to_string(view->job->state())) : "removed";
    std::int32_t pid = view ? view->job->status().pid : 0;
    emitJobChanged(label, state, pid);
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"Jobs"});
  }

 private:
  // Answers the method call being handled: runs `verb(caller, result)`
  // (`result` shared: an asynchronous verb keeps it for its later answer)
  // once the bus daemon said who sent the call, and turns an sdbus::Error
  // it throws into the error answer. The caller is the daemon's record of
  // the sender's connection (GetConnectionCredentials: the uid and pid it
  // took from SO_PEERCRED at connect), never an argument. Asked
  // asynchronously, on xpcd's own connection: the loop serves others
  // until the answer comes (at most kBusCallTimeout); a sender the daemon
  // cannot name (it left) is answered with an error and nothing is done.
  // Replies to a call to org.freedesktop.DBus come from the daemon only (it
  // routes no unrequested reply), so the answer cannot be forged.
  template <typename... T, typename Verb>
  void serve(sdbus::Result<T...>&& result, Verb verb) {
    const sdbus::Message* message = getObject().getCurrentlyProcessedMessage();
    if (message == nullptr) throw sdbus::Error("org.xpcd.Manager1.Error.Failed", "no method call being handled");
    auto shared = std::make_shared<sdbus::Result<T...>>(std::move(result));
    bus_daemon_->callMethodAsync("GetConnectionCredentials")
        .onInterface("org.freedesktop.DBus")
        .withTimeout(kBusCallTimeout)
        .withArguments(message->getSender())
        .uponReplyInvoke([shared, verb = std::move(verb)](const sdbus::Error* error,
                                                          std::map<std::string, sdbus::Variant> credentials) {
          answer(*shared, [&] { verb(caller_of(error, credentials), shared); });
        });
  }

  // The caller in GetConnectionCredentials's answer (UnixUserID and
  // ProcessID, both u), or the error that refuses the call.
  static control::Caller caller_of(const sdbus::Error* error,
                                   const std::map<std::string, sdbus::Variant>& credentials) {
    if (error != nullptr) {
      throw sdbus::Error(
          "org.xpcd.Manager1.Error.Failed",
          fmt::format("the bus did not say who called ({}: {}); nothing done", error->getName(), error->getMessage()));
    }
    auto uid = credentials.find("UnixUserID");
    if (uid == credentials.end() || uid->second.peekValueType() != "u") {
      throw sdbus::Error("org.xpcd.Manager1.Error.Failed", "the bus did not say the caller's uid; nothing done");
    }
    // The gid is not asked for (no rule reads it): -1, never root's group.
    control::Caller caller{uid->second.get<std::uint32_t>(), static_cast<gid_t>(-1), 0};
    auto pid = credentials.find("ProcessID");
    if (pid != credentials.end() && pid->second.peekValueType() == "u") {
      caller.pid = static_cast<pid_t>(pid->second.get<std::uint32_t>());
    }
    return caller;
  }

  // Runs `send`, which answers through `result`; what it throws is the
  // answer instead (an sdbus::Error as it is, anything else as Failed).
  // Sending fails only when the bus is gone, which BusEvent reports.
  // Called from sdbus-c++'s reply handler: nothing may escape.
  template <typename R, typename Send>
  static void answer(const R& result, Send send) noexcept {
    try {
      try {
        send();
      } catch (const sdbus::Error& e) {
        result.returnError(e);
      } catch (const std::exception& e) {
        result.returnError(sdbus::Error("org.xpcd.Manager1.Error.Failed", e.what()));
      }
    } catch (const std::exception& e) {
      log_line(LogLevel::warning, fmt::format("D-Bus: cannot send a reply: {}", e.what()));
    }
  }

  void List(sdbus::Result<std::vector<JobRow>>&& result) override {
    serve(std::move(result), [this](const control::Caller& caller, const auto& r) {
      r->returnResults(rows(result_of(control_.list(caller, Object::dictionary()))));
    });
  }

  void Print(sdbus::Result<std::string, std::string>&& result, std::string target) override {
    serve(std::move(result), [this, target](const control::Caller& caller, const auto& r) {
      Object answer = control_.print(caller, with_target(target));
      const Object& printed = result_of(answer);
      r->returnResults(answer[protocol::kOutput].string_or(""), xpcctl::json::format(printed));
    });
  }

  void Blame(sdbus::Result<bool, std::string, std::int32_t, std::string>&& result, std::string target) override {
    serve(std::move(result), [this, target](const control::Caller& caller, const auto& r) {
      const Object answer = control_.blame(caller, with_target(target));
      const Object& b = result_of(answer);
      r->returnResults(b["running"].bool_or(false), b["state"].string_or(""), to_i32(b["pid"]),
                       b["started_because"].string_or(""));
    });
  }

  // Answered now or when the instance has a pid; the core's Answer is a
  // std::function, which wants a copyable callable: the Result is shared.
  void Kickstart(sdbus::Result<std::int32_t>&& result, std::string target, bool kill) override {
    serve(std::move(result), [this, target, kill](const control::Caller& caller, const auto& r) {
      Object request = with_target(target);
      request[protocol::kKill] = kill;
      control_.kickstart(caller, request, [r](Object answer) {
        reply(*r, answer, [&](const Object& k) { r->returnResults(to_i32(k["pid"])); });
      });
    });
  }

  void Kill(sdbus::Result<std::int32_t>&& result, std::string target, std::int32_t signal) override {
    serve(std::move(result), [this, target, signal](const control::Caller& caller, const auto& r) {
      Object request = with_target(target);
      request[protocol::kSignal] = static_cast<std::int64_t>(signal);
      r->returnResults(to_i32(result_of(control_.kill(caller, request))["pid"]));
    });
  }

  void Enable(sdbus::Result<bool>&& result, std::string target) override { enable(std::move(result), target, true); }
  void Disable(sdbus::Result<bool>&& result, std::string target) override { enable(std::move(result), target, false); }

  void enable(sdbus::Result<bool>&& result, const std::string& target, bool enabled) {
    serve(std::move(result), [this, target, enabled](const control::Caller& caller, const auto& r) {
      r->returnResults(result_of(control_.enable(caller, with_target(target), enabled))["loaded"].bool_or(false));
    });
  }

  void Bootstrap(sdbus::Result<std::vector<std::string>>&& result, std::vector<std::string> paths) override {
    serve(std::move(result), [this, paths](const control::Caller& caller, const auto& r) {
      Object given = Object::array();
      for (const auto& path : paths) given.push_back(path);
      Object request{{protocol::kPaths, given}};
      r->returnResults(strings_of(result_of(control_.bootstrap(caller, request))["loaded"], "label"));
    });
  }

  void Bootout(sdbus::Result<std::vector<std::string>>&& result, std::string target,
               std::vector<std::string> paths) override {
    Object request = Object::dictionary();
    if (paths.empty()) {
      request[protocol::kTarget] = target;
    } else {
      Object given = Object::array();
      for (const auto& path : paths) given.push_back(path);
      request[protocol::kPaths] = given;
      if (!target.empty()) request[protocol::kDomain] = target;
    }
    serve(std::move(result), [this, request](const control::Caller& caller, const auto& r) {
      control_.bootout(caller, request, [r](Object answer) {
        reply(*r, answer, [&](const Object& b) { r->returnResults(strings_of(b["removed"])); });
      });
    });
  }

  void Reload(sdbus::Result<std::uint32_t>&& result) override {
    serve(std::move(result), [this](const control::Caller& caller, const auto& r) {
      Object answer = control_.reload(caller, Object::dictionary());
      const Object& jobs = result_of(answer)["jobs"];
      r->returnResults(
          static_cast<std::uint32_t>(jobs.as_uint64().value_or(static_cast<std::uint64_t>(jobs.int64_or(0)))));
    });
  }

  std::string Domain() override { return control::to_string(control_.served()); }

  // A property read has no caller: sdbus-c++ 1.2 answers it synchronously
  // (no Result to defer), and asking the bus who reads would block the
  // loop. Reading is open to everyone (policy.hpp), so the core is asked
  // by an anonymous reader, uid -1, which no process has: were reading ever
  // restricted, the property would be refused rather than read with xpcd's
  // privilege.
  std::vector<JobRow> Jobs() override {
    const control::Caller anonymous{static_cast<uid_t>(-1), static_cast<gid_t>(-1), 0};
    return rows(result_of(control_.list(anonymous, Object::dictionary())));
  }

  // A later answer of the core (kickstart, bootout): `ok` with the result,
  // else the error.
  template <typename R, typename Ok>
  static void reply(const R& result, const Object& answer, Ok ok) noexcept {
    Manager::answer(result, [&] { ok(result_of(answer)); });
  }

  std::unique_ptr<sdbus::IProxy> bus_daemon_;  // org.freedesktop.DBus, for the callers' credentials
  control::Control& control_;
  Supervisor& supervisor_;
};

struct ManagerApi::Impl {
  std::unique_ptr<sdbus::IConnection> connection;
  std::unique_ptr<Manager> manager;
  std::unique_ptr<BusEvent> attached;
  Supervisor* supervisor = nullptr;
  bool lost = false;
};

ManagerApi::ManagerApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ManagerApi::~ManagerApi() {
  impl_->supervisor->on_job_changed({});
  // The object before the connection it is registered on.
  impl_->attached.reset();
  impl_->manager.reset();
}

std::unique_ptr<ManagerApi> ManagerApi::start(sd_event* loop, control::Control& control, Supervisor& supervisor) {
  const bool system = supervisor.serves_system();
  const char* bus = system ? "system bus" : "session bus";
  auto impl = std::make_unique<Impl>();
  impl->supervisor = &supervisor;
  try {
    impl->connection = system ? sdbus::createSystemBusConnection() : sdbus::createSessionBusConnection();
    impl->connection->setMethodCallTimeout(kBusCallTimeout);
    // The object first, so the name never points at nothing.
    impl->manager = std::make_unique<Manager>(*impl->connection, control, supervisor);
    impl->connection->requestName(kBusName);
  } catch (const sdbus::Error& e) {
    log_line(LogLevel::warning, fmt::format("D-Bus: cannot serve {} on the {} ({}: {}), continuing without it",
                                            kBusName, bus, e.getName(), e.getMessage()));
    return nullptr;
  }
  Impl* raw = impl.get();
  try {
    impl->attached = std::make_unique<BusEvent>(loop, *impl->connection, [raw, bus](std::string why) {
      raw->lost = true;
      log_line(LogLevel::warning, fmt::format("D-Bus: lost the {} ({}); the D-Bus API is off", bus, why));
    });
  } catch (const sdbus::Error& e) {
    log_line(LogLevel::warning, fmt::format("D-Bus: {}, continuing without the D-Bus API", e.getMessage()));
    return nullptr;
  }
  supervisor.on_job_changed([raw](const std::string& label) {
    if (raw->lost) return;
    try {
      raw->manager->job_changed(label);
    } catch (const sdbus::Error& e) {
      log_line(LogLevel::warning, fmt::format("D-Bus: cannot emit JobChanged for '{}': {}", label, e.getMessage()));
    }
  });
  log_line(LogLevel::info, fmt::format("D-Bus: {} at {} on the {}", kBusName, kObjectPath, bus));
  return std::unique_ptr<ManagerApi>(new ManagerApi(std::move(impl)));
}

}  // namespace xpcd::dbus
