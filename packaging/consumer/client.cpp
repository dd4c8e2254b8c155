// A C++ client of an installed libxpc: one message to com.example.echo
// (or the name given), the reply printed. Exit 0 when the text came back.
#include <xpc/connection.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  std::string name = argc > 1 ? argv[1] : "com.example.echo";
  auto conn = xpc::Connection::mach_service(name);
  conn.set_event_handler([](const xpc::Object&) {});
  conn.resume();
  xpc::Object reply = conn.send_sync(xpc::Object{{"text", "from the C++ consumer"}}, std::chrono::seconds(10));
  std::puts(reply.description().c_str());
  conn.cancel();
  return reply["text"].as_string() == "from the C++ consumer" ? 0 : 1;
}
