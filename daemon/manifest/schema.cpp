// Schema parsing from the embedded TOML text.
#include "manifest/schema.hpp"

#include <fmt/format.h>

#include "manifest/toml_noexcept.hpp"

namespace xpcd::manifest {

// Generated at configure time from plist-schemas/*.schema.toml (see
// daemon/manifest/CMakeLists.txt).
extern const std::string_view kLaunchdSchemaToml;
extern const std::string_view kXpcServiceSchemaToml;

namespace {

using TypeResult = xpc::Result<std::vector<TypeAlt>, std::string>;

// Splits on '|' outside angle brackets.
std::vector<std::string_view> split_alternatives(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    depth += s[i] == '<' ? 1 : s[i] == '>' ? -1 : 0;
    if (s[i] == '|' && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

xpc::Result<TypeAlt, std::string> parse_alternative(std::string_view a) {
  static constexpr std::pair<std::string_view, TypeAlt::Base> scalars[] = {
      {"bool", TypeAlt::Base::boolean}, {"integer", TypeAlt::Base::integer},
      {"real", TypeAlt::Base::real},    {"string", TypeAlt::Base::string},
      {"date", TypeAlt::Base::date},    {"data", TypeAlt::Base::data},
      {"dict", TypeAlt::Base::dict}};
  for (auto [name, base] : scalars) {
    if (a == name) return TypeAlt{base, {}};
  }
  for (auto [prefix, base] : {std::pair{std::string_view("array<"), TypeAlt::Base::array},
                              std::pair{std::string_view("map<"), TypeAlt::Base::map}}) {
    if (a.starts_with(prefix) && a.ends_with(">")) {
      auto inner = parse_type(a.substr(prefix.size(), a.size() - prefix.size() - 1));
      if (!inner) return xpc::fail(inner.error());
      return TypeAlt{base, std::move(inner.value())};
    }
  }
  return xpc::fail(fmt::format("unknown type '{}'", a));
}

std::optional<Support> parse_support(std::string_view s) {
  if (s == "yes") return Support::yes;
  if (s == "partial") return Support::partial;
  if (s == "no") return Support::no;
  return std::nullopt;
}

std::vector<std::string> strings_of(const toml::node_view<const toml::node>& n) {
  std::vector<std::string> out;
  if (const toml::array* a = n.as_array()) {
    for (const toml::node& e : *a) {
      if (auto s = e.value<std::string>()) out.push_back(*s);
    }
  }
  return out;
}

xpc::Result<SchemaKey, std::string> parse_key(const toml::table& t) {
  SchemaKey k;
  k.path = t["path"].value_or(std::string());
  k.type_text = t["type"].value_or(std::string());
  k.doc = t["doc"].value_or(std::string());
  auto support = parse_support(t["linux"].value_or(std::string("yes")));
  if (k.path.empty() || k.type_text.empty() || k.doc.empty() || !support) {
    return xpc::fail(fmt::format("key '{}': needs path, type, doc and linux = yes|partial|no", k.path));
  }
  auto type = parse_type(k.type_text);
  if (!type) return xpc::fail(fmt::format("key '{}': {}", k.path, type.error()));
  k.type = std::move(type.value());
  k.support = *support;
  k.required = t["required"].value_or(false);
  k.default_text = t["default"].value_or(std::string());
  k.note = t["note"].value_or(std::string());
  k.allowed = strings_of(t["allowed"]);
  k.case_insensitive = t["case_insensitive"].value_or(false);
  if (auto v = t["min"].value<double>()) k.min = *v;
  if (auto v = t["max"].value<double>()) k.max = *v;
  k.nested_schema = t["schema"].value_or(std::string());
  k.free_text = t["free_text"].value_or(false);
  if (k.support != Support::yes && k.note.empty()) {
    return xpc::fail(fmt::format("key '{}': linux = partial/no needs a note saying why", k.path));
  }
  return k;
}

}  // namespace

std::string_view to_string(Support s) {
  switch (s) {
    case Support::yes: return "yes";
    case Support::partial: return "partial";
    case Support::no: return "no";
  }
  return "no";
}

xpc::Result<std::vector<TypeAlt>, std::string> parse_type(std::string_view text) {
  std::vector<TypeAlt> out;
  for (std::string_view a : split_alternatives(text)) {
    auto alt = parse_alternative(a);
    if (!alt) return xpc::fail(alt.error());
    out.push_back(std::move(alt.value()));
  }
  return out;
}

xpc::Result<Schema, std::string> parse_schema(std::string_view toml_text, std::string_view name) {
  toml::parse_result parsed = toml::parse(toml_text, std::string(name));
  if (!parsed) {
    const auto& e = parsed.error();
    return xpc::fail(fmt::format("{}:{}:{}: {}", name, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  const toml::table& root = parsed.table();
  Schema s;
  s.kind = root["kind"].value_or(std::string());
  s.title = root["title"].value_or(std::string());
  s.ignore_prefixes = strings_of(root["ignore_prefixes"]);
  s.ignore_reason = root["ignore_reason"].value_or(std::string());
  const toml::array* keys = root["key"].as_array();
  if (s.kind.empty() || !keys) return xpc::fail(fmt::format("{}: needs kind and [[key]] entries", name));
  for (const toml::node& n : *keys) {
    const toml::table* t = n.as_table();
    if (!t) return xpc::fail(fmt::format("{}: every [[key]] must be a table", name));
    auto k = parse_key(*t);
    if (!k) return xpc::fail(fmt::format("{}:{}: {}", name, t->source().begin.line, k.error()));
    if (s.find(k->path)) return xpc::fail(fmt::format("{}: key '{}' listed twice", name, k->path));
    s.keys.push_back(std::move(k.value()));
  }
  return s;
}

const SchemaKey* Schema::find(std::string_view path) const {
  for (const SchemaKey& k : keys) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

std::vector<const SchemaKey*> Schema::children(std::string_view parent) const {
  std::vector<const SchemaKey*> out;
  for (const SchemaKey& k : keys) {
    std::string_view p = k.path;
    if (parent.empty()) {
      if (p.find('.') == std::string_view::npos) out.push_back(&k);
    } else if (p.size() > parent.size() + 1 && p.starts_with(parent) && p[parent.size()] == '.' &&
               p.substr(parent.size() + 1).find('.') == std::string_view::npos) {
      out.push_back(&k);
    }
  }
  return out;
}

bool Schema::ignored(std::string_view top_level_key) const {
  for (const std::string& p : ignore_prefixes) {
    if (top_level_key.starts_with(p)) return true;
  }
  return false;
}

const Schema* Schemas::by_name(std::string_view kind) const {
  if (kind == launchd.kind) return &launchd;
  if (kind == xpcservice.kind) return &xpcservice;
  return nullptr;
}

xpc::Result<Schemas, std::string> load_builtin_schemas() {
  auto launchd = parse_schema(kLaunchdSchemaToml, "launchd.schema.toml");
  if (!launchd) return xpc::fail(launchd.error());
  auto xpc = parse_schema(kXpcServiceSchemaToml, "xpcservice.schema.toml");
  if (!xpc) return xpc::fail(xpc.error());
  return Schemas{std::move(launchd.value()), std::move(xpc.value())};
}

namespace {

// Matches a concrete dotted path against a schema path, segment by segment,
// where "*" in the schema may swallow one or more concrete segments (names
// with dots, like "com.example.foo").
bool matches(std::string_view schema, std::string_view concrete) {
  if (schema.empty()) return concrete.empty();
  size_t sdot = schema.find('.');
  std::string_view head = schema.substr(0, sdot);
  std::string_view rest = sdot == std::string_view::npos ? "" : schema.substr(sdot + 1);
  if (head != "*") {
    if (!concrete.starts_with(head)) return false;
    std::string_view after = concrete.substr(head.size());
    if (after.empty()) return rest.empty();
    return after[0] == '.' && !rest.empty() && matches(rest, after.substr(1));
  }
  for (size_t i = 1; i <= concrete.size(); ++i) {
    if (i == concrete.size()) return rest.empty();
    if (concrete[i] == '.' && !rest.empty() && matches(rest, concrete.substr(i + 1))) return true;
  }
  return false;
}

}  // namespace

const SchemaKey* lookup_for_explain(const Schema& s, std::string_view path) {
  if (const SchemaKey* exact = s.find(path)) return exact;
  for (const SchemaKey& k : s.keys) {
    if (matches(k.path, path)) return &k;
  }
  return nullptr;
}

}  // namespace xpcd::manifest
