// Who may run which control verb (DESIGN 7, docs/control-plane.md), as
// launchctl decides: reading (list, print, blame) is open to anyone who can
// connect; a verb that changes state needs root for the system domain, and
// the domain's own uid or root for a user domain. Pure: the caller's uid
// comes from the transport (SO_PEERCRED), never from the request.
#pragma once

#include "control/target.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace xpcd::control {

enum class Access { read, change };

struct Refusal {
  std::string rule;  // the rule's name: "system-domain-needs-root", "user-domain-owner-or-root"
  std::string text;  // a sentence naming the rule, the caller and the domain
};

// Whether uid `caller` may run `verb` (for the message) with `access` on
// `domain`; nullopt when allowed.
std::optional<Refusal> check_access(std::string_view verb, Access access, const Domain& domain, uid_t caller);

}  // namespace xpcd::control
