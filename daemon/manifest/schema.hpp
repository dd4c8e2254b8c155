// Schema: the manifest schemas of plist-schemas/ as data (one per manifest
// kind), parsed from the TOML text embedded at build time. The validator,
// `xpcctl lint` and `xpcctl explain` are driven by it.
// Not the validator (validate.hpp) and not the JobSpec builder.
//
// Key paths: "Label", "KeepAlive.SuccessfulExit"; "*" stands for a name the
// manifest chooses ("MachServices.*.ResetAtClose", "Sockets.*.SockType");
// array elements share the path of the array ("StartCalendarInterval.Hour").
// Types: bool, integer, real (accepts integers), string, date, data, dict (a
// closed dictionary: its keys are listed as PATH.KEY), array<T>, map<T> (a
// dictionary of chosen names to T, keys listed as PATH.*.KEY), and unions
// A|B. Example: "map<bool|dict>".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/job_spec.hpp"
#include "xpc/result.hpp"

namespace xpcd::manifest {

struct TypeAlt {
  enum class Base { boolean, integer, real, string, date, data, dict, array, map };
  Base base = Base::string;
  std::vector<TypeAlt> element;  // array<...> / map<...>: alternatives of the element
};

enum class Support { yes, partial, no };
std::string_view to_string(Support s);

struct SchemaKey {
  std::string path;
  std::string type_text;            // as written, for messages and explain
  std::vector<TypeAlt> type;        // parsed alternatives
  bool required = false;
  std::string default_text;         // human readable; empty: no default
  Support support = Support::yes;
  std::string note;                 // why partial / unsupported
  std::string doc;                  // one line
  std::vector<std::string> allowed; // allowed string values; empty: any
  bool case_insensitive = false;    // compare allowed values ignoring case
  std::optional<double> min, max;   // numeric range, inclusive
  bool free_text = false;           // arguments, environment: placeholders only warn
  std::string nested_schema;        // a dict validated as another kind's root ("launchd")
};

struct Schema {
  std::string kind;                 // "launchd" or "xpcservice"
  std::string title;
  std::vector<SchemaKey> keys;
  std::vector<std::string> ignore_prefixes;  // top-level keys ignored silently
  std::string ignore_reason;

  const SchemaKey* find(std::string_view path) const;
  std::vector<const SchemaKey*> children(std::string_view parent) const;
  bool ignored(std::string_view top_level_key) const;
};

struct Schemas {
  Schema launchd;
  Schema xpcservice;
  const Schema& of(ManifestKind k) const { return k == ManifestKind::xpc_service ? xpcservice : launchd; }
  const Schema* by_name(std::string_view kind) const;
};

// Parses one schema file; errors name the file, line and problem.
xpc::Result<Schema, std::string> parse_schema(std::string_view toml_text, std::string_view name);
// The schemas compiled into the binary from plist-schemas/*.schema.toml.
xpc::Result<Schemas, std::string> load_builtin_schemas();
// Parses a type expression such as "map<bool|dict>".
xpc::Result<std::vector<TypeAlt>, std::string> parse_type(std::string_view text);

// Finds the schema entry for a user-typed key path (xpcctl explain): exact
// schema paths, and concrete names in "*" positions
// ("MachServices.com.example.foo.ResetAtClose" matches "MachServices.*.ResetAtClose").
const SchemaKey* lookup_for_explain(const Schema& s, std::string_view path);

}  // namespace xpcd::manifest
