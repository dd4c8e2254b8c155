// The decoders: XML, binary and TOML give the same tree, with positions.
#include <plist/plist.h>

#include <cstdlib>

#include "helpers.hpp"
#include "manifest/decoders.hpp"

namespace xpcd::manifest::test {

// Serialises an XML plist to binary with libplist.
std::string to_binary(std::string_view xml) {
  plist_t p = nullptr;
  plist_from_xml(xml.data(), static_cast<uint32_t>(xml.size()), &p);
  REQUIRE(p != nullptr);
  char* bin = nullptr;
  uint32_t len = 0;
  plist_to_bin(p, &bin, &len);
  std::string out(bin, len);
  std::free(bin);  // NOLINT: libplist allocates with malloc
  plist_free(p);
  return out;
}

TEST_CASE("an XML launchd plist decodes with the position of every key") {
  Decoded d = decode_plist(job_xml("<key>Nice</key>\n<integer>-5</integer>\n"), "t.plist");
  REQUIRE(d.ok);
  CHECK(d.diagnostics.empty());
  REQUIRE(d.root.find("Nice"));
  CHECK(d.root.find("Nice")->integer == -5);
  CHECK(d.root.find("Nice")->pos.line == 6);
  CHECK(d.root.find("Nice")->pos.col == 1);
  CHECK(d.root.find("Label")->text == "com.example.t");
}

TEST_CASE("the same manifest as XML, binary and TOML gives the same JobSpec") {
  std::string xml = job_xml(
      "<key>TimeOut</key><real>0.25</real><key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>\n"
      "<key>Umask</key><integer>18</integer>\n");
  std::string toml = job_toml("TimeOut = 0.25\nUmask = 18\n[KeepAlive]\nSuccessfulExit = false\n");
  for (auto [text, f] : {std::pair{xml, Format::plist}, std::pair{to_binary(xml), Format::plist},
                         std::pair{toml, Format::toml}}) {
    LoadedManifest m = load_text(text, f);
    CHECK(lines(m).empty());
    REQUIRE(m.job);
    CHECK(m.job->label == "com.example.t");
    CHECK(m.job->program == "/bin/true");
    CHECK(m.job->arguments == std::vector<std::string>{"/bin/true"});
    CHECK(m.job->idle_timeout == 0.25);
    CHECK(m.job->umask == 022u);
    CHECK(m.job->keep_alive.successful_exit == false);
    CHECK_FALSE(m.job->keep_alive.always);
  }
}

TEST_CASE("TOML values carry line and column") {
  LoadedManifest m = load_text(job_toml("Nice = \"high\"\n"), Format::toml, "t.toml");
  CHECK(lines(m) == std::vector<std::string>{
                        "t.toml:3:1: error: Nice: wrong type (expected integer, got string)"});
}

TEST_CASE("binary plists decode, without positions") {
  LoadedManifest m = load_text(to_binary(job_xml("<key>Nice</key><string>x</string>")));
  CHECK(lines(m) == std::vector<std::string>{"t.plist: error: Nice: wrong type (expected integer, got string)"});
}

TEST_CASE("XML entities, CDATA and comments are read as text") {
  LoadedManifest m = load_text(job_xml(
      "<!-- note --><key>EnvironmentVariables</key><dict><key>A&amp;B</key><string><![CDATA[x<y]]>&#x41;</string></dict>"));
  CHECK(lines(m).empty());
  REQUIRE(m.job);
  CHECK(m.job->environment.at("A&B") == "x<yA");
}

}  // namespace xpcd::manifest::test
