// sd-event driving an sdbus-c++ 1.2 connection (bus_event.hpp).
#include "dbus/bus_event.hpp"

#include <sdbus-c++/Error.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>

namespace xpcd::dbus {

namespace {

// Messages handled per wake-up before the rest of xpcd gets a turn; sd-bus
// then asks for a timer at 0 (it has messages queued), so the rest follow
// in the next iteration.
constexpr int kMaxMessagesPerWakeup = 64;

}  // namespace

BusEvent::BusEvent(sd_event* loop, sdbus::IConnection& connection, std::function<void(std::string)> on_lost)
    : connection_(connection), on_lost_(std::move(on_lost)) {
  auto poll = connection_.getEventLoopPollData();
  sd_event_source* source = nullptr;
  if (sd_event_add_io(loop, &source, poll.fd, static_cast<uint32_t>(poll.events), on_io, this) >= 0) io_.reset(source);
  if (sd_event_add_time(loop, &source, CLOCK_MONOTONIC, UINT64_MAX, 0, on_time, this) >= 0) timer_.reset(source);
  // A post source runs after any iteration that dispatched another source:
  // a signal emitted by the supervisor's observer may wait in sd-bus's
  // write queue, and only a fresh look at the poll data asks for POLLOUT.
  if (sd_event_add_post(loop, &source, on_post, this) >= 0) post_.reset(source);
  if (!io_ || !timer_ || !post_) throw sdbus::Error("org.xpcd.Error.Failed", "cannot add the bus to the event loop");
  // Whatever the handshake left queued is handled on the first iteration.
  rearm();
}

BusEvent::~BusEvent() = default;

void BusEvent::process() noexcept {
  try {
    for (int i = 0; i < kMaxMessagesPerWakeup; ++i) {
      if (!connection_.processPendingRequest()) break;
    }
  } catch (const std::exception& e) {
    return lost(e.what());
  }
  rearm();
}

void BusEvent::rearm() noexcept {
  if (!io_) return;
  try {
    auto poll = connection_.getEventLoopPollData();
    sd_event_source_set_io_events(io_.get(), static_cast<uint32_t>(poll.events));
    if (poll.timeout_usec == UINT64_MAX) {
      sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
    } else {
      sd_event_source_set_time(timer_.get(), poll.timeout_usec);
      sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT);
    }
  } catch (const std::exception& e) {
    lost(e.what());
  }
}

void BusEvent::lost(std::string why) noexcept {
  io_.reset();
  timer_.reset();
  post_.reset();
  if (auto on_lost = std::move(on_lost_)) on_lost(std::move(why));  // may destroy this object
}

int BusEvent::on_io(sd_event_source*, int, uint32_t, void* userdata) noexcept {
  static_cast<BusEvent*>(userdata)->process();
  return 0;
}

int BusEvent::on_time(sd_event_source*, uint64_t, void* userdata) noexcept {
  static_cast<BusEvent*>(userdata)->process();
  return 0;
}

int BusEvent::on_post(sd_event_source*, void* userdata) noexcept {
  static_cast<BusEvent*>(userdata)->rearm();
  return 0;
}

}  // namespace xpcd::dbus
