// Writes xpcd.manifest(5) in roff to stdout, from the manifest schemas
// compiled into xpcd_manifest (plist-schemas/*.schema.toml): the same data
// the validator, `xpcctl lint` and `xpcctl explain` use, so the page cannot
// drift from them. Run at build time (packaging/CMakeLists.txt).
//   xpcd-gen-manifest-man VERSION > xpcd.manifest.5
#include "manifest/schema.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

using xpcd::manifest::Schema;
using xpcd::manifest::SchemaKey;
using xpcd::manifest::Support;

// Text safe in roff: backslashes escaped, no line starting with a control
// character, hyphens as minus signs where they are options or paths.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

void print_key(const SchemaKey& key) {
  fmt::print(".TP\n.B {}\n({}{})", roff(key.path), roff(key.type_text), key.required ? ", required" : "");
  fmt::print(" {}\n", roff(key.doc));
  if (!key.allowed.empty()) {
    std::string values;
    for (const auto& v : key.allowed) values += (values.empty() ? "" : ", ") + v;
    fmt::print(".br\nValues: {}{}.\n", roff(values), key.case_insensitive ? " (any case)" : "");
  }
  if (key.min || key.max) {
    fmt::print(".br\nRange: {} to {}.\n", key.min ? fmt::format("{}", *key.min) : "any",
               key.max ? fmt::format("{}", *key.max) : "any");
  }
  if (!key.default_text.empty()) fmt::print(".br\nDefault: {}.\n", roff(key.default_text));
  if (key.support != Support::yes) {
    fmt::print(".br\nOn Linux: {}{}.\n", key.support == Support::no ? "not supported, a warning" : "partly",
               key.note.empty() ? "" : ": " + roff(key.note));
  }
}

void print_schema(const Schema& schema, std::string_view heading) {
  fmt::print(".SH {}\nKeys of {}, by path (\\fB*\\fR stands for a name the manifest chooses; "
             "array elements share the path of their array).\n",
             heading, roff(schema.title));
  if (!schema.ignore_prefixes.empty()) {
    std::string prefixes;
    for (const auto& p : schema.ignore_prefixes) prefixes += (prefixes.empty() ? "" : ", ") + p;
    fmt::print(".PP\nTop\\-level keys starting with {} are ignored: {}.\n", roff(prefixes),
               roff(schema.ignore_reason));
  }
  for (const SchemaKey& key : schema.keys) print_key(key);
}

}  // namespace

int main(int argc, char** argv) {
  auto schemas = xpcd::manifest::load_builtin_schemas();
  if (!schemas) {
    fmt::print(stderr, "xpcd-gen-manifest-man: {}\n", schemas.error());
    return 1;
  }
  std::string version = argc > 1 ? argv[1] : "";
  fmt::print(R"(.\" Generated from plist-schemas/*.schema.toml by packaging/man/gen_manifest_man.cpp; do not edit.
.TH XPCD.MANIFEST 5 "" "xpcd {}" "File Formats"
.SH NAME
xpcd.manifest \- job manifests of xpcd: launchd property lists, XPC service bundles and TOML
.SH SYNOPSIS
.nf
/etc/xpcd/daemons/*.plist, *.toml        (system domain)
/usr/lib/xpcd/daemons/*.plist, *.toml
~/.config/xpcd/agents/*                   (user domains)
/etc/xpcd/agents/*
/usr/lib/xpcd/agents/*
NAME.xpc/Contents/Info.plist              (XPC service bundles)
.fi
.SH DESCRIPTION
A manifest describes one job: what to run, the service names it provides,
and when to start it.
.BR xpcd (8)
reads XML and binary property lists and TOML files with the same keys.
A launchd\-style manifest (\fBLabel\fR, \fBProgramArguments\fR,
\fBMachServices\fR, ...) and the Info.plist of an XPC service bundle
(\fBCFBundleIdentifier\fR and an \fBXPCService\fR dictionary) both describe a job.
.PP
Problems are reported one per line as
\fIfile\fR: \fIKeyPath\fR: \fIwhat is wrong\fR (expected X, got Y), with line
numbers where the format gives them. Wrong types are errors; unknown keys and
keys that mean nothing on Linux are warnings. A bad manifest never stops the
others from loading. System\-domain manifests must be owned by root and not
writable by group or others.
.B xpcctl lint
checks files,
.B xpcctl explain KEY
prints what follows for one key.
)",
             roff(version));
  print_schema(schemas->launchd, "LAUNCHD KEYS");
  print_schema(schemas->xpcservice, "XPC SERVICE KEYS");
  fmt::print(R"(.SH EXAMPLE
.nf
# /usr/lib/xpcd/agents/com.example.echo.toml
Label = "com.example.echo"
Program = "/usr/libexec/xpcd/examples/echo\-service"

[MachServices]
"com.example.echo" = true
.fi
.SH SEE ALSO
.BR xpcd (8),
.BR xpcctl (1),
.BR launchd.plist (5)
on macOS
)");
  return 0;
}
