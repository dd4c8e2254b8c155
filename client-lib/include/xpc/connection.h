/* <xpc/connection.h>: connections in the C API, with libxpc's names.
 * Included by <xpc/xpc.h>. Where libxpc takes a block, these take a
 * function and a context (context first, as dispatch's _f functions do);
 * where it takes a dispatch queue, the argument is kept for source
 * compatibility and must be NULL: every handler of a connection runs on
 * libxpc's loop, never two at once (see <xpc/runtime.hpp>). */
#ifndef XPC_CONNECTION_H
#define XPC_CONNECTION_H

#ifndef XPC_XPC_H
#error "include <xpc/xpc.h>"
#endif

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _xpc_connection_s* xpc_connection_t;
typedef void (*xpc_handler_f)(void* context, xpc_object_t object);
typedef void (*xpc_connection_handler_f)(xpc_connection_t peer);

#define XPC_CONNECTION_MACH_SERVICE_LISTENER (1 << 0)
#define XPC_CONNECTION_MACH_SERVICE_PRIVILEGED (1 << 1)

/* Never fails; the name is looked up on first send. With
 * XPC_CONNECTION_MACH_SERVICE_LISTENER the connection is the service's
 * listener: it checks in with xpcd and its event handler receives each new
 * peer connection (an xpc_connection_t) as its event. */
XPC_EXPORT xpc_connection_t xpc_connection_create_mach_service(const char* name, void* targetq, uint64_t flags);
XPC_EXPORT void xpc_connection_set_event_handler(xpc_connection_t connection, void* context, xpc_handler_f handler);
XPC_EXPORT void xpc_connection_set_context(xpc_connection_t connection, void* context);
XPC_EXPORT void* xpc_connection_get_context(xpc_connection_t connection);
XPC_EXPORT void xpc_connection_resume(xpc_connection_t connection);
XPC_EXPORT void xpc_connection_activate(xpc_connection_t connection);
XPC_EXPORT void xpc_connection_suspend(xpc_connection_t connection);
XPC_EXPORT void xpc_connection_cancel(xpc_connection_t connection);
XPC_EXPORT void xpc_connection_send_message(xpc_connection_t connection, xpc_object_t message);
XPC_EXPORT void xpc_connection_send_message_with_reply(xpc_connection_t connection, xpc_object_t message,
                                                       void* replyq, void* context, xpc_handler_f handler);
/* Waits for the reply (30 s at most); returns it, or an error object. The
 * caller releases the result. */
XPC_EXPORT xpc_object_t xpc_connection_send_message_with_reply_sync(xpc_connection_t connection,
                                                                    xpc_object_t message);
/* The same with a timeout in milliseconds (an xpcd extension). */
XPC_EXPORT xpc_object_t xpc_connection_send_message_with_reply_sync_timeout(xpc_connection_t connection,
                                                                            xpc_object_t message,
                                                                            int64_t timeout_ms);
XPC_EXPORT void xpc_connection_send_barrier(xpc_connection_t connection, void* context, void (*barrier)(void*));
XPC_EXPORT const char* xpc_connection_get_name(xpc_connection_t connection);
XPC_EXPORT pid_t xpc_connection_get_pid(xpc_connection_t connection);
XPC_EXPORT uid_t xpc_connection_get_euid(xpc_connection_t connection);
XPC_EXPORT gid_t xpc_connection_get_egid(xpc_connection_t connection);
/* Why the connection is invalid, malloc'd (free it), or NULL. */
XPC_EXPORT char* xpc_connection_copy_invalidation_reason(xpc_connection_t connection);

/* A reply to `original` (NULL when it asked for none); send it on the
 * connection it came from. */
XPC_EXPORT xpc_object_t xpc_dictionary_create_reply(xpc_object_t original);
XPC_EXPORT xpc_connection_t xpc_dictionary_get_remote_connection(xpc_object_t xdict);

/* Checks in with xpcd and serves for ever: handler is called with each new
 * peer connection; it sets the peer's event handler and resumes it. */
XPC_EXPORT void xpc_main(xpc_connection_handler_f handler) __attribute__((noreturn));

/* Transactions (DESIGN 6): while one is open, xpcd does not ask the
 * service to exit for idleness. A received message that awaits a reply
 * holds one until the reply is sent or the message is released. */
XPC_EXPORT void xpc_transaction_begin(void);
XPC_EXPORT void xpc_transaction_end(void);

#ifdef __cplusplus
}
#endif

#endif /* XPC_CONNECTION_H */
