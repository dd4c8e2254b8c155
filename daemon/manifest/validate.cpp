// Schema-driven validation of a Value tree.
#include "manifest/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace xpcd::manifest {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool fits(const TypeAlt& alt, Kind k) {
  switch (alt.base) {
    case TypeAlt::Base::boolean: return k == Kind::boolean;
    case TypeAlt::Base::integer: return k == Kind::integer;
    case TypeAlt::Base::real: return k == Kind::real || k == Kind::integer;
    case TypeAlt::Base::string: return k == Kind::string;
    case TypeAlt::Base::date: return k == Kind::date;
    case TypeAlt::Base::data: return k == Kind::data;
    case TypeAlt::Base::dict:
    case TypeAlt::Base::map: return k == Kind::dict;
    case TypeAlt::Base::array: return k == Kind::array;
  }
  return false;
}

std::string describe_alt(const TypeAlt& a) {
  switch (a.base) {
    case TypeAlt::Base::boolean: return "bool";
    case TypeAlt::Base::integer: return "integer";
    case TypeAlt::Base::real: return "number";
    case TypeAlt::Base::string: return "string";
    case TypeAlt::Base::date: return "date";
    case TypeAlt::Base::data: return "data";
    case TypeAlt::Base::dict: return "dictionary";
    case TypeAlt::Base::array: return fmt::format("array of {}", describe(a.element));
    case TypeAlt::Base::map: return fmt::format("dictionary of {}", describe(a.element));
  }
  return "value";
}

std::string number_text(double d) {
  if (std::abs(d) < 1e15 && d == std::floor(d)) return fmt::format("{}", static_cast<int64_t>(d));
  return fmt::format("{}", d);
}

std::string got_text(const Value& v) {
  switch (v.kind) {
    case Kind::string: return fmt::format("'{}'", printable(v.text, 60));
    case Kind::integer: return fmt::format("{}", v.integer);
    case Kind::real: return fmt::format("{}", v.real);
    case Kind::boolean: return v.boolean ? "true" : "false";
    case Kind::date:
    case Kind::data:
    case Kind::array:
    case Kind::dict: break;
  }
  return std::string(to_string(v.kind));
}

class Validator {
 public:
  Validator(const Schemas& all, std::string_view file) : all_(all), file_(file) {}
  void members(const Value& dict, const std::string& path, const std::string& spath,
               const Schema& schema, bool check_required);
  Diagnostics take() { return std::move(out_); }

 private:
  void value(const Value& v, const SchemaKey& key, const std::vector<TypeAlt>& type,
             const std::string& path, const std::string& spath, const Schema& schema);
  void member(const Value& v, std::string_view key, const std::string& path,
              const std::string& spath, const Schema& schema);
  void unknown(const Value& v, std::string_view key, const std::string& path,
               const std::string& spath, const Schema& schema);
  void scalar(const Value& v, const SchemaKey& key, const std::string& path);
  void text(const Value& v, std::string_view s, const std::string& path, std::string_view what,
            bool free_text = false);
  void report(Severity sev, Position pos, const std::string& path, std::string msg) {
    out_.push_back({sev, std::string(file_), pos, path, std::move(msg)});
  }

  const Schemas& all_;
  std::string_view file_;
  Diagnostics out_;
};

void Validator::members(const Value& dict, const std::string& path, const std::string& spath,
                        const Schema& schema, bool check_required) {
  for (size_t i = 0; i < dict.keys.size(); ++i) {
    member(dict.items[i], dict.keys[i], child_path(path, dict.keys[i]), child_path(spath, dict.keys[i]),
           schema);
  }
  if (!check_required) return;
  for (const SchemaKey* k : schema.children(spath)) {
    std::string_view name = std::string_view(k->path).substr(spath.empty() ? 0 : spath.size() + 1);
    if (k->required && !dict.find(name)) {
      report(Severity::error, dict.pos, child_path(path, name),
             fmt::format("missing required key (expected {})", describe(k->type)));
    }
  }
}

void Validator::member(const Value& v, std::string_view key, const std::string& path,
                       const std::string& spath, const Schema& schema) {
  text(v, key, path, "key");
  const SchemaKey* k = schema.find(spath);
  if (!k) return unknown(v, key, path, spath, schema);
  if (k->support == Support::no) {
    return report(Severity::warning, v.pos, path, fmt::format("not supported on Linux, ignored: {}", k->note));
  }
  value(v, *k, k->type, path, spath, schema);
}

void Validator::unknown(const Value& v, std::string_view key, const std::string& path,
                        const std::string& spath, const Schema& schema) {
  if (spath == key && schema.ignored(key)) return;
  std::string parent = spath.substr(0, spath.size() - key.size());
  for (const SchemaKey* k : schema.children(parent.empty() ? "" : parent.substr(0, parent.size() - 1))) {
    std::string_view name = std::string_view(k->path).substr(parent.size());
    if (iequals(name, key)) {
      return report(Severity::warning, v.pos, path,
                    fmt::format("unknown key, ignored (did you mean '{}'? keys are case-sensitive)", name));
    }
  }
  report(Severity::warning, v.pos, path, fmt::format("unknown key, ignored (not in {})", schema.title));
}

void Validator::value(const Value& v, const SchemaKey& key, const std::vector<TypeAlt>& type,
                      const std::string& path, const std::string& spath, const Schema& schema) {
  auto alt = std::find_if(type.begin(), type.end(), [&](const TypeAlt& a) { return fits(a, v.kind); });
  if (alt == type.end()) {
    return report(Severity::error, v.pos, path,
                  fmt::format("wrong type (expected {}, got {})", describe(type), to_string(v.kind)));
  }
  switch (alt->base) {
    case TypeAlt::Base::dict:
      if (const Schema* nested = all_.by_name(key.nested_schema)) return members(v, path, "", *nested, false);
      return members(v, path, spath, schema, true);
    case TypeAlt::Base::map:
      for (size_t i = 0; i < v.items.size(); ++i) {
        text(v.items[i], v.keys[i], child_path(path, v.keys[i]), "key");
        value(v.items[i], key, alt->element, child_path(path, v.keys[i]), spath + ".*", schema);
      }
      return;
    case TypeAlt::Base::array:
      for (size_t i = 0; i < v.items.size(); ++i) {
        value(v.items[i], key, alt->element, index_path(path, i), spath, schema);
      }
      return;
    case TypeAlt::Base::boolean:
    case TypeAlt::Base::integer:
    case TypeAlt::Base::real:
    case TypeAlt::Base::string:
    case TypeAlt::Base::date:
    case TypeAlt::Base::data:
      return scalar(v, key, path);
  }
}

void Validator::scalar(const Value& v, const SchemaKey& key, const std::string& path) {
  if (v.kind == Kind::string) {
    text(v, v.text, path, "value", key.free_text);
    if (key.allowed.empty()) return;
    for (const std::string& a : key.allowed) {
      if (a == v.text || (key.case_insensitive && iequals(a, v.text))) return;
    }
    std::string list;
    for (const std::string& a : key.allowed) list += (list.empty() ? "" : ", ") + a;
    return report(Severity::error, v.pos, path,
                  fmt::format("invalid value (expected one of {}{}, got {})", list,
                              key.case_insensitive ? " (any case)" : "", got_text(v)));
  }
  if (!v.is_number()) return;
  double d = v.as_double();
  if ((key.min && d < *key.min) || (key.max && d > *key.max) || std::isnan(d)) {
    std::string range = key.min && key.max ? fmt::format("{} to {}", number_text(*key.min), number_text(*key.max))
                        : key.min          ? fmt::format("at least {}", number_text(*key.min))
                                           : fmt::format("at most {}", number_text(key.max.value_or(0)));
    report(Severity::error, v.pos, path, fmt::format("out of range (expected {}, got {})", range, got_text(v)));
  }
}

void Validator::text(const Value& v, std::string_view s, const std::string& path, std::string_view what,
                     bool free_text) {
  if (!is_valid_utf8(s)) {
    return report(Severity::error, v.pos, path,
                  fmt::format("{} is not valid UTF-8 (got '{}')", what, printable(s, 60)));
  }
  auto p = find_placeholder(s);
  if (p && free_text) {
    report(Severity::warning, v.pos, path,
           fmt::format("'{}' looks like an unexpanded template placeholder (passed on as written)", *p));
  } else if (p) {
    report(Severity::error, v.pos, path,
           fmt::format("unexpanded template placeholder '{}' in {} (expected a real value; this "
                       "file is a build template)", *p, what));
  }
}

}  // namespace

std::string describe(const std::vector<TypeAlt>& type) {
  std::string out;
  for (size_t i = 0; i < type.size(); ++i) {
    if (i > 0) out += i + 1 == type.size() ? " or " : ", ";
    out += describe_alt(type[i]);
  }
  return out;
}

std::optional<std::string_view> find_placeholder(std::string_view s) {
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    std::string_view open = s.substr(i, 2);
    std::string_view close = open == "$(" ? ")" : open == "${" ? "}" : open == "{{" ? "}}" : "";
    size_t body = i + 2;
    if (s[i] == '@') close = "@", body = i + 1;
    if (open == "__") close = "__";
    if (close.empty()) continue;
    size_t end = s.find(close, body);
    if (end == std::string_view::npos || end == body) continue;
    std::string_view inner = s.substr(body, end - body);
    bool ok = open == "{{" ? inner.find('\n') == std::string_view::npos
                           : std::all_of(inner.begin(), inner.end(), [&](char c) { return ident(c) || c == ':'; });
    if (open == "__") ok = ok && std::all_of(inner.begin(), inner.end(), [](char c) {
                           return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
                         }) && std::isupper(static_cast<unsigned char>(inner[0]));
    if (s[i] == '@') ok = ok && std::isalpha(static_cast<unsigned char>(inner[0]));
    if (ok) return s.substr(i, end + close.size() - i);
  }
  return std::nullopt;
}

Diagnostics validate(const Value& root, const Schema& schema, const Schemas& all, std::string_view file) {
  Validator v(all, file);
  if (root.kind != Kind::dict) {
    return {{Severity::error, std::string(file), root.pos, "",
             fmt::format("wrong type at the top level (expected dictionary, got {})", to_string(root.kind))}};
  }
  v.members(root, "", "", schema, true);
  return v.take();
}

}  // namespace xpcd::manifest
