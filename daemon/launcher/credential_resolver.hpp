// CredentialResolver: the user and group database, behind an interface so
// that make_spawn_plan stays pure and tests use a fake. SystemResolver is
// the real one (getpwnam_r, getgrnam_r, getgrouplist: NSS, may block on a
// network directory; call it from the daemon's thread, never in a child).
// Not a cache and not a policy: it answers what the database says.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <xpc/result.hpp>

namespace xpcd::launcher {

struct UserEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // primary group
  std::string home, shell;
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
};

class CredentialResolver {
 public:
  virtual ~CredentialResolver() = default;
  // nullopt: no such entry. An error: the database could not be read
  // (the errno of the lookup).
  virtual xpc::Result<std::optional<UserEntry>, std::error_code> user(std::string_view name) const = 0;
  virtual xpc::Result<std::optional<GroupEntry>, std::error_code> group(std::string_view name) const = 0;
  // The groups `user` belongs to in the group database, with `primary`
  // included (getgrouplist semantics), in the database's order.
  virtual xpc::Result<std::vector<gid_t>, std::error_code> groups_of(const UserEntry& user, gid_t primary) const = 0;
};

class SystemResolver final : public CredentialResolver {
 public:
  xpc::Result<std::optional<UserEntry>, std::error_code> user(std::string_view name) const override;
  xpc::Result<std::optional<GroupEntry>, std::error_code> group(std::string_view name) const override;
  xpc::Result<std::vector<gid_t>, std::error_code> groups_of(const UserEntry& user, gid_t primary) const override;
};

}  // namespace xpcd::launcher
