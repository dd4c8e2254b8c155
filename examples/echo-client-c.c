/* echo-client-c [TEXT]: echo-client in C11 with the C API, written as it
 * would be on macOS (function-pointer handlers instead of blocks). */
#include <xpc/xpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void on_event(void* context, xpc_object_t event) {
  (void)context;
  if (event == XPC_ERROR_CONNECTION_INTERRUPTED) fprintf(stderr, "echo-client-c: interrupted\n");
}

int main(int argc, char** argv) {
  const char* text = argc > 1 ? argv[1] : "hello";
  xpc_connection_t echo = xpc_connection_create_mach_service("com.example.echo", NULL, 0);
  xpc_connection_set_event_handler(echo, NULL, on_event);
  xpc_connection_resume(echo);

  xpc_object_t message = xpc_dictionary_create(NULL, NULL, 0);
  xpc_dictionary_set_string(message, "text", text);
  xpc_object_t reply = xpc_connection_send_message_with_reply_sync_timeout(echo, message, 10000);
  int status = 0;
  if (xpc_get_type(reply) == XPC_TYPE_DICTIONARY) {
    const char* answer = xpc_dictionary_get_string(reply, "text");
    printf("com.example.echo (pid %lld) answered \"%s\"; it sees me as pid %lld (I am %d)\n",
           (long long)xpc_dictionary_get_int64(reply, "pid"), answer ? answer : "",
           (long long)xpc_dictionary_get_int64(reply, "peer-pid"), (int)getpid());
    char* description = xpc_copy_description(reply);
    printf("%s\n", description);
    free(description);
  } else {
    char* reason = xpc_connection_copy_invalidation_reason(echo);
    fprintf(stderr, "echo-client-c: no reply: %s\n",
            reason ? reason : xpc_dictionary_get_string(reply, XPC_ERROR_KEY_DESCRIPTION));
    free(reason);
    status = 1;
  }
  xpc_release(reply);
  xpc_release(message);
  xpc_connection_cancel(echo);
  xpc_release(echo);
  return status;
}
