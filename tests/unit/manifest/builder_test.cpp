// The JobSpec builder: every key form, the checks across keys, XPC bundles,
// and loading several manifests where some are bad.
#include <filesystem>
#include <fstream>

#include "helpers.hpp"
#include "manifest/limits.hpp"
#include "manifest/schema.hpp"

namespace xpcd::manifest::test {

TEST_CASE("KeepAlive in bool and dictionary form, and the legacy OnDemand") {
  CHECK(load_text(job_xml("<key>KeepAlive</key><true/>")).job->keep_alive.always);
  CHECK(load_text(job_xml("<key>OnDemand</key><false/>")).job->keep_alive.always);
  LoadedManifest m = load_text(job_xml(
      "<key>KeepAlive</key><dict><key>PathState</key><dict><key>/run/a</key><true/></dict>"
      "<key>OtherJobEnabled</key><dict><key>com.x</key><false/></dict><key>Crashed</key><true/></dict>"));
  REQUIRE(m.job);
  const KeepAlive& k = m.job->keep_alive;
  CHECK_FALSE(k.always);
  CHECK(k.conditional());
  CHECK(k.path_state == std::vector<std::pair<std::string, bool>>{{"/run/a", true}});
  CHECK(k.other_job_enabled == std::vector<std::pair<std::string, bool>>{{"com.x", false}});
  CHECK(k.crashed == true);
  CHECK(lines(load_text(job_xml("<key>OnDemand</key><true/><key>KeepAlive</key><true/>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: warning: OnDemand: legacy OnDemand is ignored because KeepAlive is set (KeepAlive wins)"});
}

TEST_CASE("KeepAlive with EnablePressuredExit is a warning, as launchd ignores it") {
  CHECK(lines(load_text(job_xml("<key>KeepAlive</key><true/>\n<key>EnablePressuredExit</key><true/>\n"))) ==
        std::vector<std::string>{"t.plist:7:1: warning: EnablePressuredExit: ignored because KeepAlive is true (launchd ignores it too: a kept-alive job would be restarted at once)"});
}

TEST_CASE("Umask as a number or a string") {
  CHECK(load_text(job_xml("<key>Umask</key><integer>18</integer>")).job->umask == 022u);
  CHECK(load_text(job_xml("<key>Umask</key><string>022</string>")).job->umask == 022u);
  CHECK(load_text(job_xml("<key>Umask</key><string>0x12</string>")).job->umask == 022u);
  CHECK(load_text(job_xml("<key>Umask</key><string>18</string>")).job->umask == 18u);
  CHECK(lines(load_text(job_xml("<key>Umask</key><string>rwx</string>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: Umask: invalid umask (expected 0 to 0777, e.g. \"022\", got 'rwx')"});
  CHECK(lines(load_text(job_xml("<key>Umask</key><string>01000</string>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: Umask: invalid umask (expected 0 to 0777, e.g. \"022\", got '01000')"});
  CHECK(lines(load_text(job_xml("<key>Umask</key><integer>512</integer>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: Umask: out of range (expected 0 to 511, got 512)"});
}

TEST_CASE("TimeOut takes fractional seconds") {
  CHECK(load_text(job_xml("<key>TimeOut</key><real>1.5</real>")).job->idle_timeout == 1.5);
  CHECK(load_text(job_xml("<key>TimeOut</key><integer>30</integer>")).job->idle_timeout == 30.0);
}

TEST_CASE("missing and relative programs are errors, bare command names warnings") {
  const char* head = "<plist><dict><key>Label</key><string>x</string>\n";
  CHECK(lines(load_text(std::string(head) + "</dict></plist>")) ==
        std::vector<std::string>{"t.plist:1:8: error: Program: no program to run (expected Program or a non-empty ProgramArguments)"});
  CHECK(lines(load_text(std::string(head) + "<key>BundleProgram</key><string>Contents/MacOS/x</string></dict></plist>")) ==
        std::vector<std::string>{
            "t.plist:2:1: warning: BundleProgram: not supported on Linux, ignored: resolved by SMAppService relative to an app bundle; use Program with an absolute path",
            "t.plist:1:8: error: Program: no program to run (expected Program or a non-empty ProgramArguments); BundleProgram is macOS-only (SMAppService)"});
  CHECK(lines(load_text(std::string(head) + "<key>Program</key><string>bin/x</string></dict></plist>")) ==
        std::vector<std::string>{"t.plist:2:1: error: Program: relative program path (expected an absolute path, got 'bin/x')"});
  CHECK(lines(load_text(std::string(head) + "<key>ProgramArguments</key><array><string>./x</string></array></dict></plist>")) ==
        std::vector<std::string>{"t.plist:2:35: error: ProgramArguments[0]: relative program path (expected an absolute path or a bare command name, got './x')"});
  LoadedManifest bare = load_text(std::string(head) + "<key>ProgramArguments</key><array><string>sh</string></array></dict></plist>");
  CHECK(lines(bare) == std::vector<std::string>{"t.plist:2:35: warning: ProgramArguments[0]: program 'sh' is not an absolute path; it is looked up in PATH when the job starts"});
  REQUIRE(bare.job);
  CHECK(bare.job->program == "sh");
}

TEST_CASE("Sockets in dictionary and array form, with every key") {
  LoadedManifest m = load_text(job_xml(
      "<key>Sockets</key><dict>"
      "<key>A</key><array><dict><key>SockPathName</key><string>/run/a</string><key>SockPathMode</key><integer>49663</integer>"
      "<key>SockPathOwner</key><integer>0</integer><key>SockPathGroup</key><integer>5</integer><key>SockType</key><string>seqpacket</string></dict>"
      "<dict><key>SockServiceName</key><integer>80</integer><key>SockFamily</key><string>IPv6</string><key>SockProtocol</key><string>TCP</string>"
      "<key>SockNodeName</key><string>::1</string><key>SockPassive</key><false/></dict></array>"
      "<key>B</key><dict><key>SecureSocketWithKey</key><string>SSH_AUTH_SOCK</string></dict>"
      "<key>C</key><dict><key>SockType</key><string>dgram</string><key>SockServiceName</key><string>5353</string><key>MulticastGroup</key><string>224.0.0.251</string></dict>"
      "</dict><key>inetdCompatibility</key><dict><key>Wait</key><false/></dict>"));
  CHECK(lines(m).empty());
  REQUIRE(m.job);
  const auto& s = m.job->sockets;
  REQUIRE(s.size() == 4);
  CHECK(s[0].group == "A");
  CHECK(s[0].type == SockType::seqpacket);
  CHECK(s[0].path_mode == 0777u);
  CHECK(s[0].path_owner == 0u);
  CHECK(s[0].path_group == 5u);
  CHECK(s[1].service_name == "80");
  CHECK(s[1].family == SockFamily::ipv6);
  CHECK(s[1].protocol == SockProtocol::tcp);
  CHECK(s[1].node_name == "::1");
  CHECK_FALSE(s[1].passive);
  CHECK(s[2].secure_socket_key == "SSH_AUTH_SOCK");
  CHECK(s[3].type == SockType::dgram);
  CHECK(s[3].multicast_group == "224.0.0.251");
  CHECK(m.job->inetd_wait == false);
}

TEST_CASE("MachServices with flags, and false entries left out") {
  LoadedManifest m = load_text(job_xml(
      "<key>MachServices</key><dict><key>a</key><true/><key>b</key><false/><key>c</key><dict>"
      "<key>ResetAtClose</key><true/><key>HideUntilCheckIn</key><true/><key>DrainMessagesOnCrash</key><true/></dict></dict>"));
  REQUIRE(m.job);
  REQUIRE(m.job->mach_services.size() == 2);
  CHECK(m.job->mach_services[0].name == "a");
  CHECK_FALSE(m.job->mach_services[0].reset_at_close);
  CHECK(m.job->mach_services[1].name == "c");
  CHECK(m.job->mach_services[1].reset_at_close);
  CHECK(m.job->mach_services[1].hide_until_check_in);
  CHECK(m.job->mach_services[1].drain_messages_on_crash);
}

TEST_CASE("the rest of the launchd keys reach the JobSpec") {
  LoadedManifest m = load_text(job_toml(R"(
Disabled = true
UserName = "u"
GroupName = "g"
InitGroups = false
WorkingDirectory = "/w"
RootDirectory = "/r"
Nice = -3
StandardInPath = "/i"
StandardOutPath = "/o"
StandardErrorPath = "/e"
ProcessType = "Interactive"
LimitLoadToSessionType = "Background"
AbandonProcessGroup = true
ThrottleInterval = 3
ExitTimeOut = 4
StartInterval = 60
EnableTransactions = false
EnablePressuredExit = true
RunAtLoad = true
LaunchOnlyOnce = true
WatchPaths = ["/a"]
QueueDirectories = ["/q"]
_PeerRequirement = "uid == 0"
_AllowedLookups = ["com.a", "org.*"]
DrainMessagesOnCrash = true
[SoftResourceLimits]
Core = 1
CPU = 2
Data = 3
FileSize = 4
MemoryLock = 5
NumberOfFiles = 6
NumberOfProcesses = 7
ResidentSetSize = 8
Stack = 9
[HardResourceLimits]
NumberOfFiles = 60
[StartCalendarInterval]
Day = 1
Month = 2
Weekday = 0
)"), Format::toml);
  CHECK(lines(m).empty());
  REQUIRE(m.job);
  const JobSpec& j = *m.job;
  CHECK(j.disabled);
  CHECK(j.user_name == "u");
  CHECK(j.group_name == "g");
  CHECK_FALSE(j.init_groups);
  CHECK(j.working_directory == "/w");
  CHECK(j.root_directory == "/r");
  CHECK(j.nice == -3);
  CHECK(j.stdin_path == "/i");
  CHECK(j.stdout_path == "/o");
  CHECK(j.stderr_path == "/e");
  CHECK(j.process_type == ProcessType::interactive);
  CHECK(j.session_types == std::vector<std::string>{"Background"});
  CHECK(j.abandon_process_group);
  CHECK(j.throttle_interval == 3);
  CHECK(j.exit_timeout == 4);
  CHECK(j.start_interval == 60);
  CHECK(j.enable_transactions == false);
  CHECK(j.enable_pressured_exit);
  CHECK(j.run_at_load);
  CHECK(j.launch_only_once);
  CHECK(j.watch_paths == std::vector<std::string>{"/a"});
  CHECK(j.queue_directories == std::vector<std::string>{"/q"});
  CHECK(j.peer_requirement == "uid == 0");
  CHECK(j.allowed_lookups == std::vector<std::string>{"com.a", "org.*"});
  CHECK(j.drain_messages_on_crash);
  CHECK(j.soft_limits.core == 1);
  CHECK(j.soft_limits.cpu == 2);
  CHECK(j.soft_limits.data == 3);
  CHECK(j.soft_limits.file_size == 4);
  CHECK(j.soft_limits.memory_lock == 5);
  CHECK(j.soft_limits.number_of_files == 6);
  CHECK(j.soft_limits.number_of_processes == 7);
  CHECK(j.soft_limits.resident_set_size == 8);
  CHECK(j.soft_limits.stack == 9);
  CHECK(j.hard_limits.number_of_files == 60);
  REQUIRE(j.calendar.size() == 1);
  CHECK(j.calendar[0].day == 1);
  CHECK(j.calendar[0].month == 2);
  CHECK(j.calendar[0].weekday == 0);
  CHECK_FALSE(j.calendar[0].hour);
}

namespace {
namespace fs = std::filesystem;
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "xpcd-builder-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const fs::path& rel, std::string_view text) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << text;
  }
};
const char* kXpcInfo =
    "<plist><dict><key>CFBundleIdentifier</key><string>com.x.helper</string>"
    "<key>CFBundleExecutable</key><string>helper</string><key>XPCService</key><dict>"
    "<key>ServiceType</key><string>User</string><key>_MultipleInstances</key><true/>"
    "<key>RunLoopType</key><string>NSRunLoop</string><key>_AdditionalProperties</key>"
    "<dict><key>Nice</key><integer>2</integer></dict></dict></dict></plist>";
}  // namespace

TEST_CASE("an XPC service bundle resolves into a JobSpec, in both layouts") {
  TempDir dir;
  dir.write("A.xpc/Contents/Info.plist", kXpcInfo);
  dir.write("B.xpc/Info.plist", std::string(kXpcInfo).replace(std::string(kXpcInfo).find("com.x.helper"), 12, "com.x.flat"));
  LoadedManifest a = load_manifest((dir.path / "A.xpc").string(), schemas());
  CHECK(lines(a).empty());
  REQUIRE(a.job);
  CHECK(a.job->kind == ManifestKind::xpc_service);
  CHECK(a.job->label == "com.x.helper");
  CHECK(a.job->program == (dir.path / "A.xpc/Contents/MacOS/helper").string());
  REQUIRE(a.job->mach_services.size() == 1);
  CHECK(a.job->mach_services[0].name == "com.x.helper");
  CHECK(a.job->xpc_service->service_type == ServiceType::user);
  CHECK(a.job->xpc_service->multiple_instances);
  CHECK(a.job->xpc_service->run_loop_type == "NSRunLoop");
  CHECK(a.job->nice == 2);
  LoadedManifest b = load_manifest((dir.path / "B.xpc").string(), schemas());
  REQUIRE(b.job);
  CHECK(b.job->program == (dir.path / "B.xpc/helper").string());
  CHECK(lines(load_manifest((dir.path / "C.xpc").string(), schemas())).size() == 1);
}

TEST_CASE("FileDescriptorStoreMax: off by default, up to the limit in plist and TOML, refused past it") {
  CHECK(load_text(job_xml("")).job->file_descriptor_store_max == 0);
  const std::string max = std::to_string(limits::kMaxFileDescriptorStore);
  const std::string over = std::to_string(limits::kMaxFileDescriptorStore + 1);
  LoadedManifest plist = load_text(job_xml("<key>FileDescriptorStoreMax</key><integer>" + max + "</integer>\n"));
  REQUIRE(plist.job);
  CHECK(plist.job->file_descriptor_store_max == static_cast<int64_t>(limits::kMaxFileDescriptorStore));
  LoadedManifest toml = load_text(job_toml("FileDescriptorStoreMax = " + max + "\n"), Format::toml, "t.toml");
  REQUIRE(toml.job);
  CHECK(toml.job->file_descriptor_store_max == static_cast<int64_t>(limits::kMaxFileDescriptorStore));
  CHECK(lines(load_text(job_xml("<key>FileDescriptorStoreMax</key><integer>" + over + "</integer>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: FileDescriptorStoreMax: out of range (expected 0 to " + max +
                                 ", got " + over + ")"});
  CHECK(lines(load_text(job_toml("FileDescriptorStoreMax = -1\n"), Format::toml, "t.toml")) ==
        std::vector<std::string>{"t.toml:3:1: error: FileDescriptorStoreMax: out of range (expected 0 to " + max +
                                 ", got -1)"});
  CHECK_FALSE(load_text(job_toml("FileDescriptorStoreMax = \"4\"\n"), Format::toml, "t.toml").job);
}

TEST_CASE("the schema's bound on FileDescriptorStoreMax is the one in limits.hpp") {
  const SchemaKey* key = lookup_for_explain(schemas().launchd, "FileDescriptorStoreMax");
  REQUIRE(key != nullptr);
  CHECK(key->max == static_cast<double>(limits::kMaxFileDescriptorStore));
  CHECK(key->min == 0.0);
}

TEST_CASE("WatchdogSec: off by default, fractional seconds in plist and TOML, at most 24 h") {
  CHECK(load_text(job_xml("")).job->watchdog_sec == 0.0);
  CHECK(load_text(job_xml("<key>WatchdogSec</key><real>0.5</real>\n")).job->watchdog_sec == 0.5);
  CHECK(load_text(job_toml("WatchdogSec = 3\n"), Format::toml, "t.toml").job->watchdog_sec == 3.0);
  const std::string max = std::to_string(static_cast<long>(limits::kMaxWatchdogSec));
  const std::string over = std::to_string(static_cast<long>(limits::kMaxWatchdogSec) + 1);
  CHECK(load_text(job_xml("<key>WatchdogSec</key><integer>" + max + "</integer>\n")).job->watchdog_sec ==
        limits::kMaxWatchdogSec);
  CHECK(load_text(job_toml("WatchdogSec = " + max + "\n"), Format::toml, "t.toml").job->watchdog_sec ==
        limits::kMaxWatchdogSec);
  CHECK(lines(load_text(job_xml("<key>WatchdogSec</key><integer>" + over + "</integer>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: WatchdogSec: out of range (expected 0 to " + max + ", got " +
                                 over + ")"});
  CHECK(lines(load_text(job_toml("WatchdogSec = " + max + ".5\n"), Format::toml, "t.toml")) ==
        std::vector<std::string>{"t.toml:3:1: error: WatchdogSec: out of range (expected 0 to " + max + ", got " +
                                 max + ".5)"});
  CHECK(lines(load_text(job_toml("WatchdogSec = -0.5\n"), Format::toml, "t.toml")) ==
        std::vector<std::string>{"t.toml:3:1: error: WatchdogSec: out of range (expected 0 to " + max +
                                 ", got -0.5)"});
  CHECK_FALSE(load_text(job_toml("WatchdogSec = \"5s\"\n"), Format::toml, "t.toml").job);
}

TEST_CASE("the schema's bound on WatchdogSec is the one in limits.hpp") {
  const SchemaKey* key = lookup_for_explain(schemas().launchd, "WatchdogSec");
  REQUIRE(key != nullptr);
  CHECK(key->max == limits::kMaxWatchdogSec);
  CHECK(key->min == 0.0);
}

TEST_CASE("one bad manifest does not stop the others; duplicate names are refused") {
  TempDir dir;
  dir.write("a.plist", job_xml("<key>MachServices</key><dict><key>com.shared</key><true/></dict>"));
  dir.write("b.plist", "<plist><dict>");
  dir.write("c.toml", "Label = \"com.c\"\nProgram = \"/bin/c\"\nMachServices = { \"com.shared\" = true }\n");
  dir.write("d.toml", "Label = \"com.example.t\"\nProgram = \"/bin/d\"\n");
  dir.write("e.toml", "Label = \"com.e\"\nProgram = \"/bin/e\"\n");
  dir.write(".hidden.plist", "junk");
  Diagnostics path_errors;
  std::vector<std::string> paths{dir.path.string()};
  std::vector<LoadedManifest> all = load_all(paths, schemas(), path_errors);
  CHECK(path_errors.empty());
  REQUIRE(all.size() == 5);
  CHECK(all[0].job);
  CHECK_FALSE(all[1].job);
  CHECK_FALSE(all[2].job);
  CHECK(lines(all[2]) == std::vector<std::string>{(dir.path / "c.toml").string() +
      ": error: MachServices.com.shared: duplicate service name 'com.shared' (already provided by " + (dir.path / "a.plist").string() + ")"});
  CHECK_FALSE(all[3].job);
  CHECK(lines(all[3]) == std::vector<std::string>{(dir.path / "d.toml").string() +
      ": error: Label: duplicate label 'com.example.t' (already provided by " + (dir.path / "a.plist").string() + ")"});
  CHECK(all[4].job);
}

}  // namespace xpcd::manifest::test
