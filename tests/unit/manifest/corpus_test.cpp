// The real-world corpus (../shared/corpus, see its SOURCES.md): every file
// is linted on its own. None may crash or hang; every valid launchd
// manifest must load without error; each file that is refused is listed
// below with the error expected and why refusing it is right.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string_view>

#include "manifest/loader.hpp"

namespace xpcd::manifest::test {
namespace {

struct Refusal {
  std::string_view file;    // folder/name under the corpus
  std::string_view error;   // start of "KeyPath: message" of the first error
  std::string_view reason;  // why refusing it is right
};

constexpr Refusal kRefused[] = {
    {"launchd/CharlesJS__CSAuthSample__Helper.plist",
     "Program: no program to run",
     "SMAppService plist: BundleProgram is relative to a macOS app bundle, so there is nothing to run on Linux"},
    {"launchd/CharlesJS__CSAuthSample__Launchd.plist",
     "MachServices: wrong type",
     "build-script stub: MachServices holds a string '(set by build script)' instead of a dictionary"},
    {"launchd/NagiosEnterprises__nrpe__mac-inetd.plist.in",
     "UserName: unexpanded template placeholder '@nrpe_user@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/NagiosEnterprises__nrpe__mac-init.plist.in",
     "UserName: unexpanded template placeholder '@nrpe_user@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/OpenSC__OpenSC__opensc-notify.plist.in",
     "ProgramArguments[0]: relative program path",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/OpenSC__OpenSC__org.opensc-project.mac.opensc-notify.plist.in",
     "Program: unexpanded template placeholder '@bindir@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/ProcursusTeam__Procursus__com.apple.telnetd.plist",
     "ProgramArguments[0]: relative program path",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/ProcursusTeam__Procursus__io.gitea.web.plist",
     "WorkingDirectory: unexpanded template placeholder '@MEMO_PREFIX@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/ProcursusTeam__Procursus__nginx.launchctl",
     "ProgramArguments[0]: relative program path",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/ProcursusTeam__Procursus__org.gnu.inetutils.syslogd.plist",
     "Program: unexpanded template placeholder '@MEMO_PREFIX@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/ProcursusTeam__Procursus__org.gnu.inetutils.talkd.plist",
     "Program: unexpanded template placeholder '@MEMO_PREFIX@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/ProcursusTeam__Procursus__org.gnu.inetutils.telnetd.plist",
     "Program: unexpanded template placeholder '@MEMO_PREFIX@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/ProcursusTeam__Procursus__org.gnu.inetutils.tftpd.plist",
     "Program: unexpanded template placeholder '@MEMO_PREFIX@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/XQuartz__xorg-server__org.x.X11.plist.in",
     "ProgramArguments[0]: relative program path",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/apple-oss-distributions__DiskArbitration__com.apple.diskarbitrationd.plist",
     "unexpected text '#if TARGET_OS_OSX' between elements",
     "C preprocessor template: #if/#include lines are not property-list syntax; cpp must run first"},
    {"launchd/apple-oss-distributions__Security__com.apple.security.CircleJoinRequested.plist",
     "Disabled: wrong type",
     "Apple feature-flag conditional (#IfFeatureFlagEnabled dictionary) resolved by Apple's build tooling, not a launchd value"},
    {"launchd/apple-oss-distributions__Security__com.apple.securityd.plist",
     "GroupName: wrong type",
     "Apple feature-flag conditional (#IfFeatureFlagEnabled dictionary) resolved by Apple's build tooling, not a launchd value"},
    {"launchd/apple-oss-distributions__Security__com.apple.securityd.system.plist",
     "Disabled: wrong type",
     "Apple feature-flag conditional (#IfFeatureFlagEnabled dictionary) resolved by Apple's build tooling, not a launchd value"},
    {"launchd/apple-oss-distributions__cups__org.cups.cups-lpd.plist.in",
     "UserName: unexpanded template placeholder '@CUPS_USER@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/apple-oss-distributions__cups__scheduler-org.cups.cups-lpd.plist.in",
     "UserName: unexpanded template placeholder '@CUPS_USER@'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/apple-oss-distributions__launchd__com.apple.launchdebugd.xml",
     "Sockets.Listeners[0].SockType: invalid value",
     "SockType must be stream, dgram or seqpacket; launchd silently falls back to stream for unknown values, xpcd refuses to guess"},
    {"launchd/apple-oss-distributions__launchd__mach_via_launchd.plist",
     "ProgramArguments[0]: relative program path",
     "relative program path: what runs would depend on the daemon's working directory"},
    {"launchd/apple-oss-distributions__xnu__com.apple.xnu.test.kevent_qos.plist",
     "Program: no program to run",
     "SMJobBless/embedded helper plist: the program is filled in at install time, so the file alone names nothing to run"},
    {"launchd/erikberglund__SwiftPrivilegedHelper__Helper-Launchd.plist",
     "Program: no program to run",
     "SMJobBless/embedded helper plist: the program is filled in at install time, so the file alone names nothing to run"},
    {"launchd/exelban__stats__eu.exelban.Stats.SMC.Helper.plist",
     "Program: no program to run",
     "SMAppService plist: BundleProgram is relative to a macOS app bundle, so there is nothing to run on Linux"},
    {"launchd/freedesktop__dbus__org.freedesktop.dbus-session.plist.in",
     "ProgramArguments[0]: relative program path",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/freedesktop__xorg-xinit__org.x.X11.plist.cpp",
     "ProgramArguments: unexpected text '#ifdef __APPLE__' between elements",
     "C preprocessor template: #if/#include lines are not property-list syntax; cpp must run first"},
    {"launchd/freedesktop__xorg-xinit__org.x.startx.plist.cpp",
     "ProgramArguments[0]: relative program path",
     "cpp template: __bindir__ is a macro cpp replaces; as written the program path is relative"},
    {"launchd/freedesktop__xorg-xinit__privileged_startx.plist.cpp",
     "unexpected text '#ifdef TIGER_LAUNCHD' between elements",
     "C preprocessor template: #if/#include lines are not property-list syntax; cpp must run first"},
    {"launchd/freedesktop__xorg-xinit__startx.plist.cpp",
     "ProgramArguments: unexpected text '#ifdef LAUNCHAGENT_XSERVER_PATH' between elements",
     "C preprocessor template: #if/#include lines are not property-list syntax; cpp must run first"},
    {"launchd/mhaeuser__Battery-Toolkit__launchd.plist",
     "Program: no program to run",
     "SMJobBless/embedded helper plist: the program is filled in at install time, so the file alone names nothing to run"},
    {"launchd/mhaeuser__Battery-Toolkit__me.mhaeuser.batterytoolkitd.plist",
     "Program: no program to run",
     "SMAppService plist: BundleProgram is relative to a macOS app bundle, so there is nothing to run on Linux"},
    {"launchd/netdata__netdata__netdata.plist.in",
     "ProgramArguments[0]: relative program path",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"launchd/objective-see__BlockBlock__Launchd.plist",
     "Program: no program to run",
     "SMJobBless/embedded helper plist: the program is filled in at install time, so the file alone names nothing to run"},
    {"binary/ProcursusTeam__Procursus__Info.plist",
     "Label: missing required key",
     "not a launchd job: a binary plist of another kind (no Label, no program)"},
    {"binary/apple-oss-distributions__Heimdal__heim-ordered-test-2.plist",
     "$objects[1].NS.keys[0]: unsupported property list value",
     "not a launchd job: an NSKeyedArchiver archive (UID values)"},
    {"binary/apple-oss-distributions__Security__TestCases.plist",
     "wrong type at the top level",
     "not a launchd job: the top level is an array"},
    {"binary/apple-oss-distributions__usertemplate__com.apple.scheduler.plist",
     "Label: missing required key",
     "not a launchd job: a binary plist of another kind (no Label, no program)"},
    {"binary/darlinghq__darling-libxpc__binary-sample.plist",
     "Label: missing required key",
     "not a launchd job: a binary plist of another kind (no Label, no program)"},
    {"binary/osquery__osquery__test_binary.plist",
     "Label: missing required key",
     "not a launchd job: a binary plist of another kind (no Label, no program)"},
    {"xpcservice/CharlesJS__CSAuthSample__Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/HandBrake__HandBrake__HandBrakeXPCService1.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/SAP__macOS-enterprise-privileges__Info.plist",
     "CFBundleIdentifier: missing required key",
     "Xcode injects CFBundleIdentifier at build time (generated Info.plist); without it the service has no name"},
    {"xpcservice/apple-oss-distributions__Heimdal__GSSCred-Info.plist",
     "unexpected text '#include' between elements",
     "C preprocessor template: #if/#include lines are not property-list syntax; cpp must run first"},
    {"xpcservice/apple-oss-distributions__IOKitUser__Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__IOKitUser__ioserviceauthorized-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__Security__CodeSigningHelper-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__Security__DeviceSimulator-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__Security__Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__Security__XPCTimeStampingService-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__Security__authd-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__Security__trustd-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__Info-OSX.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__Info-iOS.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__NetworkService-Info-OSX.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__NetworkService-Info-iOS.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__PluginService.32-64-10.9-10.10.Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__WebContentService-Info-OSX.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__WebKit2__WebContentService.Development-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__bootp__Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__mDNSResponder__BonjourPrefRemoteViewService-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/apple-oss-distributions__mDNSResponder__BonjourPrefTool-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/mhaeuser__Battery-Toolkit__Info.plist",
     "CFBundleIdentifier: missing required key",
     "Xcode injects CFBundleIdentifier at build time (generated Info.plist); without it the service has no name"},
    {"xpcservice/platinumsamples__EvenBetterAuthorizationSample__XPCService-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '${EXECUTABLE_NAME}'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/sbarex__SourceCodeSyntaxHighlight__SyntaxHighlightRenderXPC-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/sparkle-project__Sparkle__Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/sparkle-project__Sparkle__InstallerConnection-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/sparkle-project__Sparkle__InstallerLauncher-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/sparkle-project__Sparkle__TestAppHelper-Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
    {"xpcservice/utmapp__UTM__Info.plist",
     "CFBundleExecutable: unexpanded template placeholder '$(EXECUTABLE_NAME)'",
     "build template: an unexpanded placeholder stands where a real value belongs; the generator must run first"},
};

// Files in the corpus, and how many of them must load.
constexpr size_t kCorpusFiles = 250;
constexpr size_t kRefusedFiles = std::size(kRefused);

const Refusal* refusal_for(const std::string& rel) {
  for (const Refusal& r : kRefused) {
    if (r.file == rel) return &r;
  }
  return nullptr;
}

std::string first_error(const LoadedManifest& m) {
  for (const Diagnostic& d : m.diagnostics) {
    if (d.severity == Severity::error) return d.key_path.empty() ? d.message : d.key_path + ": " + d.message;
  }
  return "";
}

std::string all_lines(const LoadedManifest& m) {
  std::string out;
  for (const Diagnostic& d : m.diagnostics) out += format(d) + "\n";
  return out;
}

}  // namespace

TEST_CASE("every real-world manifest lints; valid ones load, refused ones fail for the stated reason") {
  namespace fs = std::filesystem;
  const fs::path root = XPCD_CORPUS_DIR;
  REQUIRE_MESSAGE(fs::is_directory(root), "corpus missing at " << root << " (clone shared/ beside the repo)");
  auto schemas = load_builtin_schemas();
  REQUIRE(schemas.ok());
  size_t files = 0, loaded = 0;
  std::set<std::string> refused_seen;
  for (const char* folder : {"launchd", "binary", "xpcservice"}) {
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(root / folder)) paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    for (const fs::path& p : paths) {
      std::string rel = std::string(folder) + "/" + p.filename().string();
      LoadedManifest m = load_manifest(p.string(), schemas.value());
      ++files;
      if (const Refusal* r = refusal_for(rel)) {
        refused_seen.insert(rel);
        CHECK_MESSAGE(!m.job, rel << " should be refused: " << r->reason);
        CHECK_MESSAGE(first_error(m).starts_with(r->error),
                      rel << ": expected '" << r->error << "' because " << r->reason << "\ngot:\n" << all_lines(m));
      } else {
        CHECK_MESSAGE(m.job, rel << " should load:\n" << all_lines(m));
        loaded += m.job.has_value();
      }
    }
  }
  MESSAGE("corpus: " << files << " files, " << loaded << " load, " << refused_seen.size() << " refused as expected");
  CHECK(files == kCorpusFiles);
  CHECK(refused_seen.size() == kRefusedFiles);
  CHECK(loaded == kCorpusFiles - kRefusedFiles);
}

}  // namespace xpcd::manifest::test
