// The vocabulary of xpcd's two channels (DESIGN 5.2, 5.3): message keys,
// request and event names, lookup flags, and where the bootstrap socket is.
// Both libxpc and xpcd use these; the messages themselves are ordinary
// dictionaries in the wire format of codec.hpp.
//
// Bootstrap socket (client -> xpcd), each request a message awaiting a reply:
//   {request: "lookup", name: S, flags: U}  ->  {fd: FD}  or an error object
// A launch that fails later reaches the client through its connection: xpcd
// writes one message with id 0 and an error-object body into the service end
// it holds, then closes it.
//
// Checkin channel (XPCD_CHECKIN_FD in the service's environment):
//   xpcd -> service  {event: "connection", fd: FD, service: S, peer: {...}}
//                    {event: "exit-if-idle", reason: S} (DESIGN 6: answer
//                    busy, or park every connection, say exiting, exit 0)
//                    {event: "termination-imminent"} (a stop that cannot
//                    wait: SIGTERM follows; peers get termination-imminent)
//   service -> xpcd  {event: "ready"} (checked in: deliver what is held)
//                    {event: "accepted", id: U} (took the connection of the
//                    connection event with message id U; until then xpcd
//                    keeps a copy, and hands it to the next instance if
//                    this one dies first)
//                    {event: "clean"} / {event: "dirty"} (transaction count
//                    crossed zero), {event: "busy"},
//                    {event: "park", connections: [{fd: FD, service: S,
//                    peer: {...}}, ...]} (in batches under the fd limit),
//                    {event: "exiting"}
// Peer record: {pid: I, pidfd: FD, uid: U, gid: U, exe: S, label: S}.
//
// Control verbs (DESIGN 8, docs/control-plane.md), on the bootstrap socket:
//   {request: "command", verb: S, target: S, domain: S, paths: [S],
//    kill: B, signal: I}  (the keys the verb takes; targets as
//    system/LABEL, user/UID/LABEL, LABEL, domains as system, user/UID)
//   -> {ok: B, exit: I (0 ok, 1 failed, 2 bad request), output: S (for
//      people), result: {...} (for programs: xpcctl --json), error: S,
//      rule: S (the permission rule that refused, if one did)}
// The caller is who SO_PEERCRED says; the answer may come later than
// answers to requests sent after it (bootout, kickstart -k -p wait).
#pragma once

#include <xpc/export.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xpc::protocol {

// Keys.
inline constexpr const char* kRequest = "request";
inline constexpr const char* kName = "name";
inline constexpr const char* kFlags = "flags";
inline constexpr const char* kFd = "fd";
inline constexpr const char* kEvent = "event";
inline constexpr const char* kService = "service";
inline constexpr const char* kPeer = "peer";
inline constexpr const char* kReason = "reason";
inline constexpr const char* kPid = "pid";
inline constexpr const char* kPidfd = "pidfd";
inline constexpr const char* kUid = "uid";
inline constexpr const char* kGid = "gid";
inline constexpr const char* kExe = "exe";
inline constexpr const char* kLabel = "label";

// Bootstrap requests.
inline constexpr std::string_view kLookup = "lookup";

// Control requests (xpcctl; the keys above the #pragma).
inline constexpr std::string_view kCommand = "command";
inline constexpr const char* kVerb = "verb";
inline constexpr const char* kTarget = "target";
inline constexpr const char* kDomain = "domain";
inline constexpr const char* kPaths = "paths";
inline constexpr const char* kKill = "kill";
inline constexpr const char* kSignal = "signal";
inline constexpr const char* kOk = "ok";
inline constexpr const char* kExit = "exit";
inline constexpr const char* kOutput = "output";
inline constexpr const char* kResult = "result";
inline constexpr const char* kError = "error";
inline constexpr const char* kRule = "rule";

// Checkin-channel events.
inline constexpr std::string_view kConnection = "connection";
inline constexpr std::string_view kExitIfIdle = "exit-if-idle";
inline constexpr std::string_view kReady = "ready";
inline constexpr std::string_view kAccepted = "accepted";
inline constexpr const char* kId = "id";
inline constexpr std::string_view kClean = "clean";
inline constexpr std::string_view kDirty = "dirty";
inline constexpr std::string_view kBusy = "busy";
inline constexpr std::string_view kPark = "park";
inline constexpr std::string_view kExiting = "exiting";
inline constexpr std::string_view kTerminationImminent = "termination-imminent";
inline constexpr const char* kConnections = "connections";
// Connections per park message: each carries its fd and its client's
// pidfd, and a message holds at most limits::kMaxFds (252) fds.
inline constexpr std::size_t kParkBatch = 100;
// Connections one instance may park at an idle exit. xpcd holds 2 fds for
// each (the socket and the client's pidfd): 256 of them are 512 fds, as a
// uid's held-fds limit, leaving xpcd's default RLIMIT_NOFILE of 1024 room
// for everyone else. A service with more connections open answers busy and
// stays running; xpcd closes any beyond this a service parks anyway.
inline constexpr std::size_t kMaxParkedConnections = 256;

// Lookup flags.
inline constexpr std::uint64_t kLookupPrivileged = 1u << 0;  // system domain only

// Environment of a launched service.
inline constexpr const char* kCheckinFdEnv = "XPCD_CHECKIN_FD";
inline constexpr const char* kBootstrapEnv = "XPCD_BOOTSTRAP";

// Error codes (XPCErrorCode) xpcd and libxpc use.
inline constexpr std::string_view kErrorInvalid = "invalid";
inline constexpr std::string_view kErrorNotFound = "not-found";  // lookup: no such name here
inline constexpr std::string_view kErrorInterrupted = "interrupted";
inline constexpr std::string_view kErrorTimeout = "timeout";
inline constexpr std::string_view kErrorSendFailed = "send-failed";  // the message itself could not be sent
inline constexpr std::string_view kErrorPeerRequirement = "peer-requirement";
inline constexpr std::string_view kErrorTerminationImminent = "termination-imminent";

inline constexpr const char* kSystemBootstrapPath = "/run/xpcd/bootstrap";

enum class Domain { User, System };

// Where a domain's bootstrap socket is (DESIGN 2): XPCD_BOOTSTRAP when set
// overrides both; the user domain is $XDG_RUNTIME_DIR/xpcd/bootstrap (none
// without XDG_RUNTIME_DIR), the system domain /run/xpcd/bootstrap.
XPC_EXPORT std::optional<std::string> bootstrap_path(Domain domain);

// The bootstrap sockets a lookup with `flags` asks, in order: only
// $XPCD_BOOTSTRAP when it is set and not empty; else the user domain's
// (unless kLookupPrivileged) and then the system domain's.
XPC_EXPORT std::vector<std::string> lookup_paths(std::uint64_t flags);

}  // namespace xpc::protocol
