// xpcd-test-own-name ADDRESS NAME: connects to the bus at ADDRESS and asks
// to own NAME (RequestName, DO_NOT_QUEUE), as whoever runs it. No installed
// client (busctl, dbus-send) can request a name, and the system bus's
// policy on owning is what system_bus_test checks. Prints the reply code
// (1 primary owner, 3 exists: someone owns it) and exits 0, or prints the
// bus's error (name: message) on stderr and exits 1; 2 for a bad command
// line or no connection.
#include <systemd/sd-bus.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: xpcd-test-own-name ADDRESS NAME\n");
    return 2;
  }
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r >= 0) r = sd_bus_set_address(bus, argv[1]);
  if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0) r = sd_bus_start(bus);
  if (r < 0) {
    std::fprintf(stderr, "cannot connect to %s: errno %d\n", argv[1], -r);
    return 2;
  }
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
                         &error, &reply, "su", argv[2], 4U /* DBUS_NAME_FLAG_DO_NOT_QUEUE */);
  int exit_code = 1;
  if (r < 0) {
    std::fprintf(stderr, "%s: %s\n", error.name != nullptr ? error.name : "?",
                 error.message != nullptr ? error.message : "");
  } else {
    unsigned code = 0;
    if (sd_bus_message_read(reply, "u", &code) >= 0) {
      std::printf("%u\n", code);
      exit_code = 0;
    }
  }
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  sd_bus_flush_close_unref(bus);
  return exit_code;
}
