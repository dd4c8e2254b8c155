// echo-client [TEXT]: looks com.example.echo up, sends {"text": TEXT} and
// prints the reply. xpcd launches the service on this first message if it
// is not running. Exit 0 with a reply, 1 with an error.
#include <xpc/connection.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  std::string text = argc > 1 ? argv[1] : "hello";
  xpc::Connection echo = xpc::Connection::mach_service("com.example.echo");
  // Errors that matter here come back as send_sync's result; the handler
  // only notes a service that went away (the final `invalid` after cancel()
  // is expected and not worth a line).
  echo.set_event_handler([](const xpc::Object& event) {
    if (event[xpc::kErrorKeyCode].as_string() == "interrupted") std::fprintf(stderr, "echo-client: interrupted\n");
  });
  echo.resume();

  xpc::Object reply = echo.send_sync(xpc::Object{{"text", text}}, std::chrono::seconds(10));
  if (reply.is(xpc::Type::Error)) {
    std::fprintf(stderr, "echo-client: no reply: %s\n", reply[xpc::kErrorKeyDescription].string_or("?").c_str());
    echo.cancel();
    return 1;
  }
  std::printf("com.example.echo (pid %lld) answered \"%s\"; it sees me as pid %lld (I am %d)\n",
              static_cast<long long>(reply["pid"].int64_or(0)), reply["text"].string_or("").c_str(),
              static_cast<long long>(reply["peer-pid"].int64_or(0)), static_cast<int>(::getpid()));
  std::printf("%s\n", reply.description().c_str());
  echo.cancel();
  return 0;
}
