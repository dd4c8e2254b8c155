// SystemResolver: getpwnam_r, getgrnam_r and getgrouplist with buffers that
// grow on ERANGE (NSS entries have no fixed size bound).
#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <vector>

#include "launcher/credential_resolver.hpp"

namespace xpcd::launcher {
namespace {

// Largest buffer tried for one entry: a group with thousands of members is
// a few hundred KiB; past this the database is treated as unreadable.
constexpr size_t kMaxEntryBuffer = 16 * 1024 * 1024;

template <typename Entry, typename Lookup>
xpc::Result<bool, std::error_code> lookup(Entry& entry, std::vector<char>& buffer, Lookup fn) {
  for (size_t size = 4096; size <= kMaxEntryBuffer; size *= 4) {
    buffer.resize(size);
    Entry* found = nullptr;
    int rc = fn(&entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE) continue;
    // "Not found" is 0 with a null result; some NSS modules return ENOENT,
    // ESRCH, EBADF or EPERM for it too (getpwnam_r(3), NOTES).
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) return found != nullptr;
    return xpc::fail(std::error_code(rc, std::system_category()));
  }
  return xpc::fail(std::make_error_code(std::errc::value_too_large));
}

}  // namespace

xpc::Result<std::optional<UserEntry>, std::error_code> SystemResolver::user(std::string_view name) const {
  std::string key(name);
  passwd pw{};
  std::vector<char> buffer;
  auto found =
      lookup(pw, buffer, [&](passwd* e, char* b, size_t n, passwd** r) { return getpwnam_r(key.c_str(), e, b, n, r); });
  if (!found) return xpc::fail(found.error());
  if (!*found) return std::optional<UserEntry>();
  return std::optional<UserEntry>(UserEntry{pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir, pw.pw_shell});
}

xpc::Result<std::optional<GroupEntry>, std::error_code> SystemResolver::group(std::string_view name) const {
  std::string key(name);
  struct group gr {};
  std::vector<char> buffer;
  auto found = lookup(gr, buffer, [&](struct group* e, char* b, size_t n, struct group** r) {
    return getgrnam_r(key.c_str(), e, b, n, r);
  });
  if (!found) return xpc::fail(found.error());
  if (!*found) return std::optional<GroupEntry>();
  return std::optional<GroupEntry>(GroupEntry{gr.gr_name, gr.gr_gid});
}

xpc::Result<std::vector<gid_t>, std::error_code> SystemResolver::groups_of(const UserEntry& user, gid_t primary) const {
  std::vector<gid_t> groups(64);
  for (;;) {
    int count = static_cast<int>(groups.size());
    // -1 with count set to the number needed when the buffer is too small.
    if (getgrouplist(user.name.c_str(), primary, groups.data(), &count) >= 0) {
      groups.resize(static_cast<size_t>(count));
      return groups;
    }
    if (static_cast<size_t>(count) <= groups.size()) {
      return xpc::fail(std::make_error_code(std::errc::io_error));  // no progress: the database failed
    }
    groups.resize(static_cast<size_t>(count));
  }
}

}  // namespace xpcd::launcher
