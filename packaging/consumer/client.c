/* A C client of an installed libxpc, with Apple's names: one message to
 * com.example.echo (or the name given), the reply printed. Exit 0 when the
 * echo came back. */
#include <xpc/xpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_event(void *context, xpc_object_t event) {
  (void)context;
  (void)event;
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "com.example.echo";
  xpc_connection_t conn = xpc_connection_create_mach_service(name, NULL, 0);
  xpc_connection_set_event_handler(conn, NULL, on_event);
  xpc_connection_resume(conn);
  xpc_object_t msg = xpc_dictionary_create(NULL, NULL, 0);
  xpc_dictionary_set_string(msg, "text", "from the C consumer");
  xpc_object_t reply = xpc_connection_send_message_with_reply_sync(conn, msg);
  char *text = xpc_copy_description(reply);
  puts(text);
  const char *echo = xpc_dictionary_get_string(reply, "text");
  int ok = echo != NULL && strcmp(echo, "from the C consumer") == 0;
  free(text);
  xpc_release(reply);
  xpc_release(msg);
  xpc_connection_cancel(conn);
  xpc_release(conn);
  return ok ? 0 : 1;
}
