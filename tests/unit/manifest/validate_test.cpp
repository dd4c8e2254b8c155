// Validation: wrong types and values are errors; unknown and macOS-only keys
// warnings; the messages are exact.
#include "helpers.hpp"
#include "manifest/validate.hpp"

namespace xpcd::manifest::test {

TEST_CASE("an unknown key is a warning and the job still loads") {
  LoadedManifest m = load_text(job_xml("<key>ThrottleInternval</key><integer>5</integer>\n"));
  CHECK(lines(m) == std::vector<std::string>{"t.plist:6:1: warning: ThrottleInternval: unknown key, ignored (not in launchd.plist(5))"});
  CHECK(m.job);
}

TEST_CASE("a key in the wrong case is a warning naming the right one") {
  LoadedManifest m = load_text(job_xml(
      "<key>MachServices</key><dict><key>a</key><dict><key>HideUntilCheckin</key><true/></dict></dict>\n"));
  CHECK(lines(m) == std::vector<std::string>{
      "t.plist:6:48: warning: MachServices.a.HideUntilCheckin: unknown key, ignored (did you mean 'HideUntilCheckIn'? keys are case-sensitive)"});
  CHECK(m.job);
}

TEST_CASE("a macOS-only key is a warning with the reason") {
  LoadedManifest m = load_text(job_xml("<key>LaunchEvents</key><dict/>\n"));
  CHECK(lines(m) == std::vector<std::string>{
      "t.plist:6:1: warning: LaunchEvents: not supported on Linux, ignored: XPC event streams (IOKit matching, notifyd, ...) have no Linux source"});
  CHECK(m.job);
}

TEST_CASE("values outside the allowed set or range are errors") {
  CHECK(lines(load_text(job_xml("<key>ProcessType</key><string>Fast</string>\n"))) == std::vector<std::string>{
      "t.plist:6:1: error: ProcessType: invalid value (expected one of Background, Standard, Adaptive, Interactive, got 'Fast')"});
  CHECK(lines(load_text(job_xml("<key>StartCalendarInterval</key><dict><key>Minute</key><integer>60</integer></dict>\n"))) ==
        std::vector<std::string>{"t.plist:6:39: error: StartCalendarInterval.Minute: out of range (expected 0 to 59, got 60)"});
  CHECK(lines(load_text(job_xml("<key>StartCalendarInterval</key><array><dict><key>Hour</key><integer>24</integer></dict></array>\n"))) ==
        std::vector<std::string>{"t.plist:6:46: error: StartCalendarInterval[0].Hour: out of range (expected 0 to 23, got 24)"});
  CHECK(lines(load_text(job_xml("<key>TimeOut</key><real>-1.5</real>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: TimeOut: out of range (expected at least 0, got -1.5)"});
}

TEST_CASE("socket types are checked ignoring case, as launchd does") {
  CHECK(lines(load_text(job_xml("<key>Sockets</key><dict><key>L</key><dict><key>SockType</key><string>Dgram</string>"
                                "<key>SockServiceName</key><integer>53</integer></dict></dict>\n"))).empty());
  CHECK(lines(load_text(job_xml("<key>Sockets</key><dict><key>L</key><dict><key>SockType</key><string>SOCK_STREAM</string>"
                                "<key>SockServiceName</key><string>53</string></dict></dict>\n"))) ==
        std::vector<std::string>{"t.plist:6:43: error: Sockets.L.SockType: invalid value (expected one of stream, dgram, seqpacket (any case), got 'SOCK_STREAM')"});
}

TEST_CASE("unexpanded template placeholders are errors, in arguments warnings") {
  CHECK(lines(load_text(job_xml("<key>UserName</key><string>@nrpe_user@</string>\n"))) == std::vector<std::string>{
      "t.plist:6:1: error: UserName: unexpanded template placeholder '@nrpe_user@' in value (expected a real value; this file is a build template)"});
  CHECK(lines(load_text(job_xml("<key>ProgramArguments</key><array><string>/bin/true</string><string>${HOME}</string></array>\n"))) ==
        std::vector<std::string>{"t.plist:6:61: warning: ProgramArguments[1]: '${HOME}' looks like an unexpanded template placeholder (passed on as written)"});
  CHECK(find_placeholder("$(EXECUTABLE_NAME)") == "$(EXECUTABLE_NAME)");
  CHECK(find_placeholder("{{ .Bin }}/x") == "{{ .Bin }}");
  CHECK(find_placeholder("__bindir__/startx") == std::nullopt);  // lower case: not a placeholder
  CHECK(find_placeholder("__BINDIR__/startx") == "__BINDIR__");
  CHECK(find_placeholder("user@example.com") == std::nullopt);
  CHECK(find_placeholder("/usr/bin/true") == std::nullopt);
}

TEST_CASE("missing required keys are errors") {
  LoadedManifest m = load_text("<plist><dict><key>Program</key><string>/bin/true</string></dict></plist>");
  CHECK(lines(m) == std::vector<std::string>{"t.plist:1:8: error: Label: missing required key (expected string)"});
  CHECK_FALSE(m.job);
}

TEST_CASE("diagnostics render as text and JSON") {
  Diagnostic d{Severity::error, "a \"b\".plist", {3, 4}, "Sockets.L", "bad\tvalue"};
  CHECK(format(d) == "a \"b\".plist:3:4: error: Sockets.L: bad\tvalue");
  CHECK(to_json(d) == R"({"file":"a \"b\".plist","line":3,"col":4,"severity":"error","key":"Sockets.L","message":"bad\u0009value"})");
  CHECK(json_quote("\xff") == "\"\\ufffd\"");
  CHECK(format(Diagnostic{Severity::warning, "f", {}, "", "m"}) == "f: warning: m");
}

}  // namespace xpcd::manifest::test
