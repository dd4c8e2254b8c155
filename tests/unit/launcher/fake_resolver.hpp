// A CredentialResolver over in-memory tables, for plan tests.
#pragma once

#include <map>
#include <string>

#include "launcher/credential_resolver.hpp"

namespace xpcd::launcher::test {

class FakeResolver final : public CredentialResolver {
 public:
  std::map<std::string, UserEntry> users;
  std::map<std::string, GroupEntry> groups;
  std::map<std::string, std::vector<gid_t>> memberships;  // user name -> groups besides the primary
  bool fail = false;                                      // every lookup fails with EIO
  mutable gid_t last_primary = 0;                         // what groups_of was asked with

  xpc::Result<std::optional<UserEntry>, std::error_code> user(std::string_view name) const override {
    if (fail) return xpc::fail(std::make_error_code(std::errc::io_error));
    auto it = users.find(std::string(name));
    return it == users.end() ? std::optional<UserEntry>() : std::optional<UserEntry>(it->second);
  }
  xpc::Result<std::optional<GroupEntry>, std::error_code> group(std::string_view name) const override {
    if (fail) return xpc::fail(std::make_error_code(std::errc::io_error));
    auto it = groups.find(std::string(name));
    return it == groups.end() ? std::optional<GroupEntry>() : std::optional<GroupEntry>(it->second);
  }
  xpc::Result<std::vector<gid_t>, std::error_code> groups_of(const UserEntry& u, gid_t primary) const override {
    last_primary = primary;
    std::vector<gid_t> out{primary};
    auto it = memberships.find(u.name);
    if (it != memberships.end()) out.insert(out.end(), it->second.begin(), it->second.end());
    return out;
  }
};

// nobody (65534) in nogroup (65534) and users (100); alice (1000) in alice (1000).
inline FakeResolver standard_resolver() {
  FakeResolver r;
  r.users["nobody"] = {"nobody", 65534, 65534, "/nonexistent", "/usr/sbin/nologin"};
  r.users["alice"] = {"alice", 1000, 1000, "/home/alice", ""};
  r.groups["nogroup"] = {"nogroup", 65534};
  r.groups["users"] = {"users", 100};
  r.groups["alice"] = {"alice", 1000};
  r.memberships["nobody"] = {100};
  return r;
}

}  // namespace xpcd::launcher::test
