// xpcd.toml to a DaemonConfig, key by key, every error with its position.
#include "config/config.hpp"

#include "manifest/toml_noexcept.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace xpcd::config {

namespace {

std::string where(std::string_view file, const toml::source_region& r) {
  return std::string(file) + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date or time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

class Reader {
 public:
  Reader(std::string_view file, Loaded& out) : file_(file), out_(out) {}

  xpc::Result<xpc::Ok, std::string> top(const toml::table& table) {
    for (const auto& [key, node] : table) {
      std::string_view k = key.str();
      xpc::Result<xpc::Ok, std::string> r = xpc::Ok{};
      if (k == "manifest_dirs") {
        r = manifest_dirs(node);
      } else if (k == "bootstrap") {
        r = bootstrap(node);
      } else if (k == "activation_timeout") {
        r = seconds(node, k, limits::kMaxActivationTimeoutSeconds, out_.config.activation_timeout);
      } else if (k == "idle_timeout") {
        r = seconds(node, k, limits::kMaxIdleTimeoutSeconds, out_.config.idle_timeout);
      } else if (k == "dbus") {
        const auto* b = node.as_boolean();
        if (b == nullptr) return wrong(node, "dbus", "true or false");
        out_.config.dbus = b->get();
      } else if (k == "limits") {
        if (!node.is_table()) return wrong(node, "limits", "a table");
        r = limits(*node.as_table());
      } else if (k == "pressure") {
        if (!node.is_table()) return wrong(node, "pressure", "a table");
        r = pressure(*node.as_table());
      } else {
        unknown(key, "");
      }
      if (!r) return r;
    }
    return xpc::Ok{};
  }

 private:
  xpc::Failure<std::string> error(const toml::node& node, std::string_view key, const std::string& text) {
    return xpc::fail(where(file_, node.source()) + ": '" + std::string(key) + "' " + text);
  }
  xpc::Failure<std::string> wrong(const toml::node& node, std::string_view key, std::string_view wanted) {
    return error(node, key, "must be " + std::string(wanted) + ", not " + type_name(node));
  }
  void unknown(const toml::key& key, std::string_view table) {
    std::string name = table.empty() ? std::string(key.str()) : std::string(table) + "." + std::string(key.str());
    out_.warnings.push_back(where(file_, key.source()) + ": unknown key '" + name + "' (ignored)");
  }

  xpc::Result<xpc::Ok, std::string> manifest_dirs(const toml::node& node) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return wrong(node, "manifest_dirs", "an array of directory paths");
    if (array->empty()) return error(node, "manifest_dirs", "must name at least one directory");
    std::vector<std::string> dirs;
    for (const toml::node& item : *array) {
      const auto* text = item.as_string();
      if (text == nullptr) return wrong(item, "manifest_dirs", "an array of directory paths");
      if (text->get().empty() || text->get().front() != '/') {
        return error(item, "manifest_dirs", "must hold absolute paths, not '" + text->get() + "'");
      }
      dirs.push_back(text->get());
    }
    out_.config.manifest_dirs = std::move(dirs);
    return xpc::Ok{};
  }

  xpc::Result<xpc::Ok, std::string> bootstrap(const toml::node& node) {
    const auto* text = node.as_string();
    if (text == nullptr) return wrong(node, "bootstrap", "a socket path (a string)");
    const std::string& path = text->get();
    if (path.empty() || path.front() != '/') return error(node, "bootstrap", "must be an absolute path");
    if (path.size() > kMaxBootstrapPathLength) {
      return error(node, "bootstrap",
                   "is " + std::to_string(path.size()) + " bytes long; a unix socket path holds at most " +
                       std::to_string(kMaxBootstrapPathLength));
    }
    out_.config.bootstrap = path;
    return xpc::Ok{};
  }

  // A duration in seconds, integer or float, more than 0 and at most `max`.
  xpc::Result<xpc::Ok, std::string> seconds(const toml::node& node, std::string_view key, double max,
                                            std::optional<std::chrono::nanoseconds>& out) {
    double value = 0;
    if (const auto* i = node.as_integer()) {
      value = static_cast<double>(i->get());
    } else if (const auto* f = node.as_floating_point()) {
      value = f->get();
    } else {
      return wrong(node, key, "a number of seconds");
    }
    if (!(value > 0 && value <= max)) {
      std::ostringstream text;
      text << "must be more than 0 and at most " << max << " seconds, not " << value;
      return error(node, key, text.str());
    }
    out = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(value));
    return xpc::Ok{};
  }

  xpc::Result<xpc::Ok, std::string> count(const toml::node& node, std::string_view key, std::size_t min,
                                          std::size_t& out) {
    const auto* i = node.as_integer();
    if (i == nullptr) return wrong(node, key, "an integer");
    std::int64_t v = i->get();
    if (v < static_cast<std::int64_t>(min) || v > static_cast<std::int64_t>(limits::kMaxConfigurableLimit)) {
      return error(node, key,
                   "must be from " + std::to_string(min) + " to " + std::to_string(limits::kMaxConfigurableLimit) +
                       ", not " + std::to_string(v));
    }
    out = static_cast<std::size_t>(v);
    return xpc::Ok{};
  }

  xpc::Result<xpc::Ok, std::string> limits(const toml::table& table) {
    for (const auto& [key, node] : table) {
      std::string_view k = key.str();
      xpc::Result<xpc::Ok, std::string> r = xpc::Ok{};
      if (k == "pending_lookups_per_uid") {
        r = count(node, "limits.pending_lookups_per_uid", limits::kMinPendingLookupsPerUid,
                  out_.config.limits.pending_lookups);
      } else if (k == "held_fds_per_uid") {
        r = count(node, "limits.held_fds_per_uid", limits::kMinHeldFdsPerUid, out_.config.limits.held_fds);
      } else {
        unknown(key, "limits");
      }
      if (!r) return r;
    }
    return xpc::Ok{};
  }

  // [pressure]: the PSI trigger's bounds are the kernel's (a window of
  // 500 ms to 10 s, a stall shorter than the window).
  xpc::Result<xpc::Ok, std::string> pressure(const toml::table& table) {
    PressureConfig& out = out_.config.pressure;
    for (const auto& [key, node] : table) {
      std::string_view k = key.str();
      xpc::Result<xpc::Ok, std::string> r = xpc::Ok{};
      if (k == "memory") {
        const auto* b = node.as_boolean();
        if (b == nullptr) return wrong(node, "pressure.memory", "true or false");
        out.memory = b->get();
      } else if (k == "memory_stall_ms" || k == "memory_window_ms") {
        bool stall = k == "memory_stall_ms";
        const auto* i = node.as_integer();
        std::string name = "pressure." + std::string(k);
        if (i == nullptr) return wrong(node, name, "an integer (milliseconds)");
        std::int64_t min = stall ? 1 : kMinPressureWindowMs, max = kMaxPressureWindowMs;
        if (i->get() < min || i->get() > max) {
          return error(node, name, "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", not " +
                                       std::to_string(i->get()));
        }
        (stall ? out.stall : out.window) = std::chrono::milliseconds(i->get());
      } else {
        unknown(key, "pressure");
      }
      if (!r) return r;
    }
    if (out.stall >= out.window) {
      return error(table, "pressure.memory_stall_ms",
                   "must be shorter than pressure.memory_window_ms (" + std::to_string(out.stall.count()) +
                       " >= " + std::to_string(out.window.count()) + ")");
    }
    return xpc::Ok{};
  }

  std::string_view file_;
  Loaded& out_;
};

}  // namespace

xpc::Result<Loaded, std::string> parse(std::string_view text, std::string_view file) {
  toml::parse_result parsed = toml::parse(text, file);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return xpc::fail(where(file, e.source()) + ": " + std::string(e.description()));
  }
  Loaded loaded;
  Reader reader(file, loaded);
  if (auto r = reader.top(parsed.table()); !r) return xpc::fail(std::move(r).error());
  return loaded;
}

xpc::Result<Loaded, std::string> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return xpc::fail(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return xpc::fail(path + ": cannot read: " + std::strerror(errno));
  return parse(text.str(), path);
}

}  // namespace xpcd::config
