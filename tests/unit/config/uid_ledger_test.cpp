// The per-uid ledger: limits at N and N+1, charges given back however the
// held connection leaves, uids counted apart.
#include "supervisor/uid_ledger.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <vector>

using namespace xpcd;

TEST_CASE("pending lookups per uid: N admitted, N+1 refused naming the limit, one freed admits again") {
  UidLedger ledger({3, 100});
  std::vector<UidCharge> held;
  for (int i = 0; i < 3; ++i) {
    auto c = ledger.admit(1000, 2);
    REQUIRE(c.ok());
    held.push_back(std::move(*c));
  }
  auto refused = ledger.admit(1000, 2);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() == "xpcd: uid 1000 has 3 lookups waiting for a launch (limit 3)");
  CHECK(ledger.admit(1001, 2).ok());  // another uid is not affected
  held.pop_back();
  CHECK(ledger.counts(1000).pending == 2);
  CHECK(ledger.counts(1000).fds == 4);
  CHECK(ledger.admit(1000, 2).ok());
}

TEST_CASE("held fds per uid: N admitted, N+1 refused; a handed-over connection keeps its fds, not its pending slot") {
  UidLedger ledger({100, 4});
  auto a = ledger.admit(7, 2);
  auto b = ledger.admit(7, 2);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto refused = ledger.admit(7, 1);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() == "xpcd: uid 7 has 4 fds held for connections not yet taken by a service (limit 4)");
  a->set_pending(false);
  CHECK(ledger.counts(7).pending == 1);
  CHECK(ledger.counts(7).fds == 4);
  a->set_pending(true);
  CHECK(ledger.counts(7).pending == 2);
  UidCharge moved = std::move(*a);
  CHECK(ledger.counts(7).fds == 4);
  { UidCharge gone = std::move(moved); }
  CHECK(ledger.counts(7).pending == 1);
  CHECK(ledger.counts(7).fds == 2);
}

TEST_CASE("a charge may outlive its ledger") {
  std::optional<UidCharge> charge;
  {
    UidLedger ledger;
    auto admitted = ledger.admit(0, 2);
    REQUIRE(admitted.ok());
    charge.emplace(std::move(admitted).value());
  }
  charge.reset();
}
