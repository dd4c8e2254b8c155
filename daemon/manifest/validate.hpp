// The schema-driven validator: walks a decoded Value tree against the schema
// of its manifest kind and reports wrong types and values (errors), unknown
// and macOS-only keys (warnings), missing required keys, invalid UTF-8 and
// unexpanded template placeholders. Knows nothing of JobSpec; the builder's
// semantic checks (missing program, relative paths, ...) are in job_builder.
#pragma once

#include <optional>
#include <string_view>

#include "manifest/diagnostic.hpp"
#include "manifest/schema.hpp"
#include "manifest/value.hpp"

namespace xpcd::manifest {

Diagnostics validate(const Value& root, const Schema& schema, const Schemas& all,
                     std::string_view file);

// The first build-template placeholder in text ("@prefix@", "$(VAR)",
// "${VAR}", "{{ var }}", "__VAR__"), if any.
std::optional<std::string_view> find_placeholder(std::string_view text);

// "expected" rendering of a type expression, e.g. "bool or dictionary".
std::string describe(const std::vector<TypeAlt>& type);

}  // namespace xpcd::manifest
