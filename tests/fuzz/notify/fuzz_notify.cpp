// libFuzzer target: any datagram a local process sends to NOTIFY_SOCKET
// (it is mode 0666) through parse_notify must give a NotifyMessage, never
// a crash or a hang, and what it keeps must hold the parser's promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "launcher/plan_builder.hpp"
#include "supervisor/notify_socket.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > xpcd::kMaxNotifyDatagram) return 0;  // the socket drops longer datagrams whole
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  xpcd::NotifyMessage message = xpcd::parse_notify(payload);
  // A name kept is one systemd would accept, and never with a bad one.
  if (message.fdname && (!xpcd::launcher::fd_name_ok(*message.fdname) || message.bad_fdname)) std::abort();
  if (message.status && message.status->size() > size) std::abort();
  if (message.extend_timeout && message.extend_timeout->count() < 0) std::abort();
  return 0;
}
