// org.xpcd.Manager1 (manager_api.hpp): each method builds the command
// core's request from its arguments, runs the verb with the caller's
// credentials from the bus, and turns the answer into D-Bus values or a
// D-Bus error.
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

namespace xpcd::dbus {

namespace protocol = xpc::protocol;
using xpc::Object;

namespace {

using JobRow = sdbus::Struct<std::string, std::int32_t, std::string, std::int32_t>;

// The longest a call xpcd makes to the bus (the sender's credentials, the
// name) may block the loop.
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
      : AdaptorInterfaces(connection, kObjectPath), control_(control), supervisor_(supervisor) {
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
  // Who calls, as the bus says (sd_bus_query_sender_creds: the bus
  // daemon's record of the sender's connection), never an argument.
  // Method handlers only: that is when sdbus-c++ has a current message.
  control::Caller caller() {
    const sdbus::Message* message = getObject().getCurrentlyProcessedMessage();
    if (message == nullptr) throw sdbus::Error("org.freedesktop.DBus.Error.AccessDenied", "no caller");
    return control::Caller{message->getCredsUid(), 0, message->getCredsPid()};
  }

  std::vector<JobRow> List() override { return rows(result_of(control_.list(caller(), Object::dictionary()))); }

  std::tuple<std::string, std::string> Print(const std::string& target) override {
    Object answer = control_.print(caller(), with_target(target));
    const Object& result = result_of(answer);
    return {answer[protocol::kOutput].string_or(""), xpcctl::json::format(result)};
  }

  std::tuple<bool, std::string, std::int32_t, std::string> Blame(const std::string& target) override {
    Object answer = control_.blame(caller(), with_target(target));
    const Object& r = result_of(answer);
    return {r["running"].bool_or(false), r["state"].string_or(""), to_i32(r["pid"]), r["started_because"].string_or("")};
  }

  void Kickstart(sdbus::Result<std::int32_t>&& result, std::string target, bool kill) override {
    Object request = with_target(target);
    request[protocol::kKill] = kill;
    // Answered now or when the instance has a pid; std::function wants a
    // copyable callable, the Result is move-only.
    auto shared = std::make_shared<sdbus::Result<std::int32_t>>(std::move(result));
    control_.kickstart(caller(), request, [shared](Object answer) {
      reply(*shared, answer, [&](const Object& r) { shared->returnResults(to_i32(r["pid"])); });
    });
  }

  std::int32_t Kill(const std::string& target, const std::int32_t& signal) override {
    Object request = with_target(target);
    request[protocol::kSignal] = static_cast<std::int64_t>(signal);
    return to_i32(result_of(control_.kill(caller(), request))["pid"]);
  }

  bool Enable(const std::string& target) override {
    return result_of(control_.enable(caller(), with_target(target), true))["loaded"].bool_or(false);
  }

  bool Disable(const std::string& target) override {
    return result_of(control_.enable(caller(), with_target(target), false))["loaded"].bool_or(false);
  }

  std::vector<std::string> Bootstrap(const std::vector<std::string>& paths) override {
    Object given = Object::array();
    for (const auto& path : paths) given.push_back(path);
    Object request{{protocol::kPaths, given}};
    return strings_of(result_of(control_.bootstrap(caller(), request))["loaded"], "label");
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
    auto shared = std::make_shared<sdbus::Result<std::vector<std::string>>>(std::move(result));
    control_.bootout(caller(), request, [shared](Object answer) {
      reply(*shared, answer, [&](const Object& r) { shared->returnResults(strings_of(r["removed"])); });
    });
  }

  std::uint32_t Reload() override {
    Object answer = control_.reload(caller(), Object::dictionary());
    const Object& r = result_of(answer);
    return static_cast<std::uint32_t>(r["jobs"].as_uint64().value_or(static_cast<std::uint64_t>(r["jobs"].int64_or(0))));
  }

  std::string Domain() override { return control::to_string(control_.served()); }

  // A property read has no current message in sdbus-c++ 1.2, so no
  // caller: reading is open to anyone the bus lets in (policy.hpp), and
  // the core is asked as xpcd itself.
  std::vector<JobRow> Jobs() override {
    control::Caller self{::getuid(), ::getgid(), ::getpid()};
    return rows(result_of(control_.list(self, Object::dictionary())));
  }

  // An asynchronous answer, sent: `ok` with the result, else the error.
  // Sending fails only when the bus is gone, which BusEvent reports.
  template <typename R, typename Ok>
  static void reply(const R& result, const Object& answer, Ok ok) noexcept {
    try {
      if (answer[protocol::kOk].bool_or(false)) {
        ok(answer[protocol::kResult]);
      } else {
        result.returnError(to_error(answer));
      }
    } catch (const std::exception& e) {
      log_line(LogLevel::warning, fmt::format("D-Bus: cannot send a reply: {}", e.what()));
    }
  }

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
    log_line(LogLevel::warning, fmt::format("D-Bus: cannot serve {} on the {} ({}: {}), continuing without it", kBusName,
                                            bus, e.getName(), e.getMessage()));
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
