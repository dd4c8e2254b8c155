// Bad input: every kind gives an error naming the file and key path, never a
// crash; every limit is tested at N and N+1.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "helpers.hpp"
#include "manifest/decoders.hpp"
#include "manifest/limits.hpp"

namespace xpcd::manifest::test {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "xpcd-manifest-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, std::string_view text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

// A plist with `depth` nested containers: the root dict and depth-1 arrays.
std::string nested_xml(size_t depth) {
  std::string open, close;
  for (size_t i = 1; i < depth; ++i) open += "<array>", close += "</array>";
  return job_xml("<key>X</key>" + open + close + "\n");
}

std::string nested_toml(size_t depth) {
  return job_toml("X = " + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "\n");
}

// A plist with exactly `values` values: root dict, 2 strings, 1 array, the rest bools.
std::string many_values_xml(size_t values) {
  std::string items;
  for (size_t i = 0; i < values - 4; ++i) items += "<true/>";
  return job_xml("<key>X</key><array>" + items + "</array>\n");
}

}  // namespace

TEST_CASE("malformed XML is an error with its position") {
  CHECK(lines(load_text("<plist><dict><key>Label</key><string>x</string>\n<key>A</key>\n")) ==
        std::vector<std::string>{"t.plist:3:1: error: unexpected end of file inside <dict> (expected </dict>)"});
  CHECK(lines(load_text("<plist><dict><key>Label</string></dict></plist>")) ==
        std::vector<std::string>{"t.plist:1:24: error: markup inside <key> (expected text and </key>)"});
  CHECK(lines(load_text("<plist><dict></array></plist>")) ==
        std::vector<std::string>{"t.plist:1:14: error: mismatched </array> (expected </dict>)"});
  CHECK(lines(load_text("")) == std::vector<std::string>{"t.plist:1:1: error: no property list in the file (expected <plist>)"});
  CHECK(lines(load_text("<plist><dict><foo/></dict></plist>")) ==
        std::vector<std::string>{"t.plist:1:14: error: unknown element <foo> (expected a plist element)"});
}

TEST_CASE("a truncated binary plist is an error at every length, never a crash") {
  std::string bin = to_binary(job_xml("<key>MachServices</key><dict><key>a.b</key><true/></dict>"));
  for (size_t n = 0; n < bin.size(); ++n) {
    LoadedManifest m = load_text(std::string_view(bin).substr(0, n));
    CHECK(has_errors(m.diagnostics));
    CHECK_FALSE(m.job);
  }
  CHECK(lines(load_text(bin.substr(0, 20))) ==
        std::vector<std::string>{"t.plist: error: truncated binary property list (no trailer)"});
}

TEST_CASE("a 100 MB file is refused before it is read") {
  TempDir dir;
  std::string path = (dir.path / "huge.plist").string();
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 100 * 1024 * 1024) == 0);
  ::close(fd);
  LoadedManifest m = load_manifest(path, schemas());
  CHECK(lines(m) == std::vector<std::string>{path + ": error: file too large (limit 1048576 bytes, got 104857600)"});
}

TEST_CASE("the file size limit holds at N and N+1") {
  TempDir dir;
  std::string base = job_xml("");
  std::string at_limit = base + "<!--" + std::string(limits::kMaxManifestBytes - base.size() - 7, 'x') + "-->";
  REQUIRE(at_limit.size() == limits::kMaxManifestBytes);
  CHECK(lines(load_manifest(dir.write("n.plist", at_limit), schemas())).empty());
  std::string over = at_limit + "\n";
  std::string p = dir.write("n1.plist", over);
  CHECK(lines(load_manifest(p, schemas())) ==
        std::vector<std::string>{p + ": error: file too large (limit 1048576 bytes, got 1048577)"});
  CHECK(lines(load_text(over)) ==
        std::vector<std::string>{"t.plist: error: file too large (limit 1048576 bytes, got 1048577)"});
  CHECK(lines(load_text(over, Format::toml)) ==
        std::vector<std::string>{"t.plist: error: file too large (limit 1048576 bytes, got 1048577)"});
}

TEST_CASE("the nesting limit holds at N and N+1 in every format") {
  const size_t n = limits::kMaxDepth;
  const std::string unknown_x = "warning: X: unknown key, ignored (not in launchd.plist(5))";
  const std::string too_deep = "error: X[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting too deep (limit 32 levels)";
  CHECK(lines(load_text(nested_xml(n))) == std::vector<std::string>{"t.plist:6:1: " + unknown_x});
  CHECK(lines(load_text(nested_xml(n + 1))) == std::vector<std::string>{"t.plist:6:230: " + too_deep});
  CHECK(lines(load_text(to_binary(nested_xml(n)))) == std::vector<std::string>{"t.plist: " + unknown_x});
  CHECK(lines(load_text(to_binary(nested_xml(n + 1)))) == std::vector<std::string>{"t.plist: " + too_deep});
  CHECK(lines(load_text(nested_toml(n), Format::toml)) == std::vector<std::string>{"t.plist:3:1: " + unknown_x});
  CHECK(lines(load_text(nested_toml(n + 1), Format::toml)) ==
        std::vector<std::string>{"t.plist:3:36: " + too_deep});
}

TEST_CASE("very deep nesting is refused before libplist sees it") {
  std::string deep = "<plist>" + std::string() ;
  for (int i = 0; i < 100000; ++i) deep += "<array>";
  LoadedManifest m = load_text(deep);
  REQUIRE(m.diagnostics.size() == 1);
  CHECK(m.diagnostics[0].message == "nesting too deep (limit 32 levels)");
  // A binary array that contains itself: infinitely deep.
  std::string cycle("bplist00\xa1\x00\x08", 11);
  cycle += std::string(6, '\0') + "\x01\x01" + std::string(7, '\0') + "\x01" + std::string(8, '\0') +
           std::string(7, '\0') + "\x0a";
  REQUIRE(cycle.size() == 43);
  m = load_text(cycle);
  REQUIRE(m.diagnostics.size() == 1);
  CHECK(m.diagnostics[0].message == "nesting too deep (limit 32 levels)");
}

TEST_CASE("the value count limit holds at N and N+1") {
  const size_t n = limits::kMaxValues;
  CHECK(lines(load_text(many_values_xml(n))) ==
        std::vector<std::string>{"t.plist:6:1: warning: X: unknown key, ignored (not in launchd.plist(5))"});
  LoadedManifest over = load_text(many_values_xml(n + 1));
  REQUIRE(over.diagnostics.size() == 1);
  CHECK(over.diagnostics[0].key_path == "X[65532]");
  CHECK(over.diagnostics[0].message == "too many values (limit 65536)");
  CHECK(lines(load_text(to_binary(many_values_xml(n)))).size() == 1);
  CHECK(lines(load_text(to_binary(many_values_xml(n + 1)))) ==
        std::vector<std::string>{"t.plist: error: X[65532]: too many values once shared objects are expanded (limit 65536)"});
}

TEST_CASE("a dictionary where a string belongs is a type error naming the key path") {
  CHECK(lines(load_text(job_xml("<key>UserName</key><dict><key>a</key><true/></dict>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: UserName: wrong type (expected string, got dictionary)"});
  CHECK(lines(load_text(job_xml("<key>Sockets</key><dict><key>L</key><dict><key>SockType</key><dict/></dict></dict>\n"))) ==
        std::vector<std::string>{"t.plist:6:43: error: Sockets.L.SockType: wrong type (expected string, got dictionary)",
                                 "t.plist:6:25: error: Sockets.L: socket without an address (expected SockPathName, SockServiceName or SecureSocketWithKey)"});
}

TEST_CASE("non-UTF-8 keys are errors") {
  CHECK(lines(load_text(job_xml("<key>EnvironmentVariables</key><dict><key>A\xff</key><string>1</string></dict>\n"))) ==
        std::vector<std::string>{"t.plist:6:38: error: EnvironmentVariables.A\\xff: key is not valid UTF-8 (got 'A\\xff')"});
  CHECK(lines(load_text(job_xml("<key>\xc0\x80</key><string>1</string>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: \\xc0\\x80: key is not valid UTF-8 (got '\\xc0\\x80')",
                                 "t.plist:6:1: warning: \\xc0\\x80: unknown key, ignored (not in launchd.plist(5))"});
}

TEST_CASE("duplicate keys are errors in every format") {
  CHECK(lines(load_text(job_xml("<key>Label</key><string>other</string>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: Label: duplicate key (libplist would silently keep only the last value)"});
  std::string bin = to_binary(job_xml(""));
  // Rename the key "Program" to "Label" in place: same length needed, so use a crafted plist instead.
  std::string dup("bplist00\xd2\x01\x01\x02\x03\x51" "a\x09\x08", 17);
  dup += std::string("\x08\x0d\x0f\x10", 4) + std::string(6, '\0') + "\x01\x01" + std::string(7, '\0') + "\x04" +
         std::string(8, '\0') + std::string(7, '\0') + "\x11";
  CHECK(lines(load_text(dup))[0] == "t.plist: error: a: duplicate key (libplist would silently keep only the last value)");
  CHECK(lines(load_text(job_toml("Label = \"again\"\n"), Format::toml)) ==
        std::vector<std::string>{"t.plist:3:9: error: invalid TOML: Error while parsing key-value pair: cannot redefine existing string 'Label'"});
}

TEST_CASE("integers out of range are errors, not saturated or wrapped") {
  CHECK(lines(load_text(job_xml("<key>Nice</key><integer>99999999999999999999</integer>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: Nice: integer out of range (expected -2^63 to 2^63-1, got 99999999999999999999)"});
  CHECK(lines(load_text(job_xml("<key>Nice</key><integer>-9223372036854775809</integer>\n")))[0] ==
        "t.plist:6:1: error: Nice: integer out of range (expected -2^63 to 2^63-1, got -9223372036854775809)");
  CHECK(lines(load_text(job_xml("<key>Nice</key><integer>-9223372036854775808</integer>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: Nice: out of range (expected -20 to 19, got -9223372036854775808)"});
  CHECK(lines(load_text(job_xml("<key>Nice</key><integer>@NICE@</integer>\n"))) ==
        std::vector<std::string>{"t.plist:6:1: error: Nice: not an integer (expected decimal digits, got '@NICE@')"});
  std::string big("bplist00\xd1\x01\x02\x54Nice\x14", 17);
  big += std::string(15, '\0') + "\x05" + "\x08\x0b\x10" + std::string(6, '\0') + "\x01\x01" + std::string(7, '\0') +
         "\x03" + std::string(8, '\0') + std::string(7, '\0') + "\x21";
  CHECK(lines(load_text(big)) == std::vector<std::string>{
      "t.plist: error: Nice: integer out of range (expected -2^63 to 2^63-1, got a 128-bit integer)"});
  CHECK(lines(load_text(job_toml("Nice = 99999999999999999999\n"), Format::toml)) == std::vector<std::string>{
      "t.plist:3:28: error: invalid TOML: Error while parsing decimal integer: '99999999999999999999' is not representable in 64 bits"});
}

TEST_CASE("C preprocessor lines are errors, text after the plist a warning") {
  CHECK(lines(load_text(job_xml("#if TARGET_OS_OSX\n<key>RunAtLoad</key><true/>\n#endif\n"))) ==
        std::vector<std::string>{
            "t.plist:6:1: error: unexpected text '#if TARGET_OS_OSX' between elements (a C preprocessor line: this file is a cpp template)",
            "t.plist:8:1: error: unexpected text '#endif' between elements (a C preprocessor line: this file is a cpp template)"});
  LoadedManifest m = load_text(job_xml("") + "~\n~\n");
  CHECK(lines(m) == std::vector<std::string>{"t.plist:8:1: warning: text after the end of the property list is ignored (got '~\\x0a~')"});
  CHECK(m.job);
}

TEST_CASE("a top level that is not a dictionary is an error") {
  CHECK(lines(load_text("<plist><array/></plist>")) ==
        std::vector<std::string>{"t.plist:1:8: error: wrong type at the top level (expected dictionary, got array)"});
}

}  // namespace xpcd::manifest::test

namespace xpcd::manifest::test {

TEST_CASE("non-ASCII outside TOML strings is refused before toml++ sees it") {
  CHECK(lines(load_text("Label = \"é\" # é\nProgram = '/bin/é'\nX = \"\"\"\né\"\"\"\n", Format::toml)) ==
        std::vector<std::string>{"t.plist:3:1: warning: X: unknown key, ignored (not in launchd.plist(5))"});
  CHECK(lines(load_text("Label = \"x\"\n[XP\xc4\xac" "ervice]\n", Format::toml)) ==
        std::vector<std::string>{"t.plist:2:4: error: invalid TOML: non-ASCII character outside a string or comment, or right after a backslash in a string (expected a bare key of A-Z a-z 0-9 _ -, or quote it; after a line-ending backslash, start the next line with ASCII)"});
  CHECK(lines(load_text("Label = \"a\\\"\xc3\xa9\"\nProgram = \"/x\"\n\xc3\xa9", Format::toml)).at(0).starts_with("t.plist:3:1: error: invalid TOML: non-ASCII"));
  SUBCASE("and right after a backslash in a basic string, where toml++ 3.3 has the same bug (fuzz_toml)") {
    CHECK(lines(load_text("Label = \"\"\"\\\n  \xc3\xa9\"\"\"\n", Format::toml)).at(0).starts_with("t.plist:1:12: error: invalid TOML: non-ASCII"));
    CHECK(lines(load_text("Label = \"\\\xef\xbb\xad\"\n", Format::toml)).at(0).starts_with("t.plist:1:10: error: invalid TOML: non-ASCII"));
    CHECK(lines(load_text("Label = \"\"\"\\\n  x\xc3\xa9\"\"\"\nProgram = \"/x\"\n", Format::toml)).empty());
  }
}

}  // namespace xpcd::manifest::test
