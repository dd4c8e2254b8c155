// libxpc driven by the application's own sd-event loop (xpc/runtime.hpp,
// xpc/sd_event.hpp): no library thread; a reply handler runs inside
// sd_event_run on the test's thread. Its own executable, since the loop
// mode is chosen once per process, before libxpc's first use.
#include "xpcd_fixture.hpp"

#include <xpc/connection.hpp>
#include <xpc/runtime.hpp>
#include <xpc/sd_event.hpp>

#include <chrono>
#include <memory>
#include <thread>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::XpcdFixture;

namespace {

struct EventDeleter {
  void operator()(sd_event* e) const { sd_event_unref(e); }
};

}  // namespace

TEST_CASE("an external sd-event loop runs the reply handler on its own thread, inside sd_event_run") {
  REQUIRE(runtime::use_external_loop());
  XpcdFixture xpcd;
  xpcd.add_service("com.test.external", "com.test.external");
  xpcd.start();

  sd_event* raw = nullptr;
  REQUIRE(sd_event_new(&raw) >= 0);
  std::unique_ptr<sd_event, EventDeleter> event(raw);
  sd_event_source* source = nullptr;
  REQUIRE(attach_sd_event(event.get(), &source) >= 0);

  struct State {
    bool in_run = false;
    bool called = false;
    bool called_in_run = false;
    std::thread::id thread;
    Object reply;
  };
  auto state = std::make_shared<State>();
  Connection c = Connection::mach_service("com.test.external");
  c.resume();
  c.send(Object{{"text", "over sd-event"}}, [state](const Object& reply) {
    state->called = true;
    state->called_in_run = state->in_run;
    state->thread = std::this_thread::get_id();
    state->reply = reply;
  });
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!state->called && std::chrono::steady_clock::now() < deadline) {
    state->in_run = true;
    int r = sd_event_run(event.get(), 100'000);
    state->in_run = false;
    REQUIRE(r >= 0);
  }
  REQUIRE_MESSAGE(state->called, xpcd.log());
  CHECK(state->called_in_run);
  CHECK(state->thread == std::this_thread::get_id());
  REQUIRE_MESSAGE(state->reply.is(Type::Dictionary), state->reply.description() << "\n" << xpcd.log());
  CHECK(state->reply["text"].as_string() == "over sd-event");
  CHECK(state->reply["peer-pid"].as_int64() == ::getpid());

  c.cancel();
  // The cancel's events are delivered by the loop too; run it until idle.
  for (int i = 0; i < 10 && sd_event_run(event.get(), 10'000) > 0; ++i) {
  }
  sd_event_source_unref(source);
}
