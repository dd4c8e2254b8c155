// The control plane's permission rules (policy.hpp).
#include "control/policy.hpp"

namespace xpcd::control {

std::optional<Refusal> check_access(std::string_view verb, Access access, const Domain& domain, uid_t caller) {
  if (access == Access::read || caller == 0) return std::nullopt;
  if (domain.system) {
    return Refusal{"system-domain-needs-root",
                   "refused by rule system-domain-needs-root: '" + std::string(verb) +
                       "' changes the system domain, which needs root (uid 0); the caller is uid " +
                       std::to_string(caller)};
  }
  if (domain.uid == caller) return std::nullopt;
  return Refusal{"user-domain-owner-or-root",
                 "refused by rule user-domain-owner-or-root: '" + std::string(verb) + "' changes " +
                     to_string(domain) + ", which needs uid " + std::to_string(domain.uid) +
                     " or root; the caller is uid " + std::to_string(caller)};
}

}  // namespace xpcd::control
