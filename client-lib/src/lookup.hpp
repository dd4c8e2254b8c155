// The client half of the bootstrap protocol: find xpcd's socket and look a
// service name up. Internal.
#pragma once

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace xpc::detail {

// Asks xpcd for a connection to `name`: the user domain, then the system
// domain (only the system domain with kLookupPrivileged; only
// $XPCD_BOOTSTRAP when set). Returns the client's end of a fresh socketpair,
// or why there is none, naming the service and each domain's answer.
Result<UniqueFd, std::string> lookup(std::string_view name, std::uint64_t flags, std::chrono::milliseconds timeout);

}  // namespace xpc::detail
