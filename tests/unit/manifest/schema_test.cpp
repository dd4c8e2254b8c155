// The schemas: they parse, the builder knows exactly their keys, the
// examples beside them lint clean, and explain finds nested keys.
#include <algorithm>
#include <filesystem>
#include <set>

#include "helpers.hpp"
#include "manifest/validate.hpp"

namespace xpcd::manifest::test {

TEST_CASE("the decoder's known keys and the schema's keys agree both ways") {
  for (ManifestKind kind : {ManifestKind::launchd_job, ManifestKind::xpc_service}) {
    const Schema& s = schemas().of(kind);
    std::set<std::string> from_schema, from_builder;
    for (const SchemaKey& k : s.keys) from_schema.insert(k.path);
    for (const std::string& p : known_key_paths(kind)) CHECK_MESSAGE(from_builder.insert(p).second, "listed twice: " << p);
    for (const std::string& p : from_schema) CHECK_MESSAGE(from_builder.count(p), s.title << " key the builder does not know: " << p);
    for (const std::string& p : from_builder) CHECK_MESSAGE(from_schema.count(p), "builder key missing from " << s.title << ": " << p);
  }
}

TEST_CASE("every schema entry has a type, a doc line and a reason when unsupported") {
  for (const Schema* s : {&schemas().launchd, &schemas().xpcservice}) {
    CHECK(s->keys.size() > 10);
    for (const SchemaKey& k : s->keys) {
      CHECK_MESSAGE(!k.doc.empty(), k.path);
      CHECK_MESSAGE(!k.type.empty(), k.path);
      if (k.support != Support::yes) CHECK_MESSAGE(!k.note.empty(), k.path);
    }
  }
  CHECK(schemas().launchd.keys.size() == 111);
  CHECK(schemas().xpcservice.keys.size() == 19);
}

TEST_CASE("a broken schema is reported, not crashed on") {
  CHECK(parse_schema("kind = 'x'\n[[key]]\npath = 'A'\ntype = 'strin'\ndoc = 'd'\n", "s.toml").error() ==
        "s.toml:2: key 'A': unknown type 'strin'");
  CHECK(parse_schema("kind = 'x'\n[[key]]\npath = 'A'\ntype = 'bool'\ndoc = 'd'\nlinux = 'no'\n", "s.toml").error() ==
        "s.toml:2: key 'A': linux = partial/no needs a note saying why");
  CHECK(parse_schema("kind = ", "s.toml").error().starts_with("s.toml:1:8: "));
  auto t = parse_type("map<bool|array<dict>>");
  REQUIRE(t.ok());
  CHECK(describe(t.value()) == "dictionary of bool or array of dictionary");
}

TEST_CASE("explain finds keys by schema path or by concrete names") {
  const Schema& l = schemas().launchd;
  CHECK(lookup_for_explain(l, "KeepAlive.SuccessfulExit")->path == "KeepAlive.SuccessfulExit");
  CHECK(lookup_for_explain(l, "Sockets.*.SockType")->path == "Sockets.*.SockType");
  CHECK(lookup_for_explain(l, "Sockets.Listeners.SockType")->path == "Sockets.*.SockType");
  CHECK(lookup_for_explain(l, "MachServices.com.example.a.ResetAtClose")->path == "MachServices.*.ResetAtClose");
  CHECK(lookup_for_explain(l, "Nope") == nullptr);
  CHECK(lookup_for_explain(schemas().xpcservice, "XPCService.ServiceType")->allowed.size() == 3);
}

TEST_CASE("the example manifests beside the schemas lint without a diagnostic") {
  namespace fs = std::filesystem;
  std::vector<std::string> paths{XPCD_SCHEMA_DIR "/examples"};
  Diagnostics path_errors;
  std::vector<LoadedManifest> all = load_all(paths, schemas(), path_errors);
  CHECK(path_errors.empty());
  REQUIRE(all.size() == 4);
  for (const LoadedManifest& m : all) {
    CHECK_MESSAGE(lines(m).empty(), m.path);
    CHECK_MESSAGE(m.job, m.path);
  }
  const JobSpec& echo = *all[1].job;
  CHECK(echo.label == "com.example.echo");
  CHECK(echo.arguments == std::vector<std::string>{"/usr/libexec/echo-service", "--verbose"});
  CHECK(echo.mach_services.size() == 2);
  CHECK(echo.sockets.size() == 1);
  CHECK(echo.idle_timeout == 30.5);
  CHECK(echo.umask == 027u);
  CHECK(echo.keep_alive.crashed == true);
  const JobSpec& greeter = *all[2].job;
  CHECK(greeter.label == "com.example.greeter");
  CHECK(greeter.mach_services.size() == 2);
  const JobSpec& report = *all[3].job;
  CHECK(report.calendar.size() == 2);
  CHECK(report.process_type == ProcessType::background);
  CHECK(all[0].job->kind == ManifestKind::xpc_service);
  CHECK(all[0].job->idle_timeout == 10.0);
}

}  // namespace xpcd::manifest::test
