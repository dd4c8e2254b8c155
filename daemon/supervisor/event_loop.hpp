// RAII for sd-event objects (STYLE 5: sd_event* and sd_event_source* get
// the same ownership as fds). Effects layer only: pure daemon libraries do
// not include this.
#pragma once

#include <systemd/sd-event.h>

#include <memory>

namespace xpcd {

struct EventUnref {
  void operator()(sd_event* e) const noexcept { sd_event_unref(e); }
};
struct SourceUnref {
  // Disables before unref: a source may still be referenced by the loop
  // while it dispatches, and must not fire again once we let it go.
  void operator()(sd_event_source* s) const noexcept { sd_event_source_disable_unref(s); }
};

using EventPtr = std::unique_ptr<sd_event, EventUnref>;
using SourcePtr = std::unique_ptr<sd_event_source, SourceUnref>;

}  // namespace xpcd
