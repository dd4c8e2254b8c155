// Messages over a SOCK_SEQPACKET socket: one message per datagram, fds by
// SCM_RIGHTS (received with MSG_CMSG_CLOEXEC). Not here: what the messages
// mean, connection state, event loops. Blocking or not follows the socket;
// a non-blocking socket with nothing to read gives CodecErrc::System with
// sys_errno EAGAIN.
#pragma once

#include <xpc/codec.hpp>

namespace xpc::wire {

// Sends one message (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
XPC_EXPORT Result<Ok, CodecError> send(int socket, const Message& message);
XPC_EXPORT Result<Ok, CodecError> send_encoded(int socket, const Encoded& encoded);

// Receives and decodes one message. A datagram too large for an inline
// body, or with more fds than limits::kMaxFds + 1, is refused whole and
// every fd that came with it closed.
// `flags` go to recvmsg (MSG_DONTWAIT, say).
XPC_EXPORT Result<Message, CodecError> receive(int socket, int flags = 0);

}  // namespace xpc::wire
