// Names and messages of codec errors.
#include <xpc/codec.hpp>

#include <cstring>

namespace xpc::wire {

std::string_view to_string(CodecErrc code) noexcept {
  switch (code) {
    case CodecErrc::Truncated: return "truncated";
    case CodecErrc::BadMagic: return "bad magic";
    case CodecErrc::UnsupportedVersion: return "unsupported version";
    case CodecErrc::UnknownFlags: return "unknown flags";
    case CodecErrc::ReservedNotZero: return "reserved field not zero";
    case CodecErrc::BodyLengthMismatch: return "body length mismatch";
    case CodecErrc::BodyTooLarge: return "body too large";
    case CodecErrc::TooManyFds: return "too many fds";
    case CodecErrc::FdCountMismatch: return "fd count mismatch";
    case CodecErrc::BodyNotMemfd: return "out-of-line body is not a memfd";
    case CodecErrc::BodyNotSealed: return "out-of-line body is not sealed";
    case CodecErrc::BodyMapFailed: return "cannot map the out-of-line body";
    case CodecErrc::UnknownType: return "unknown type";
    case CodecErrc::BadBool: return "bad bool";
    case CodecErrc::NonZeroPadding: return "non-zero padding";
    case CodecErrc::StringNotTerminated: return "string not terminated";
    case CodecErrc::StringHasNul: return "string holds a NUL byte";
    case CodecErrc::KeyTooLong: return "key too long";
    case CodecErrc::DuplicateKey: return "duplicate key";
    case CodecErrc::TooDeep: return "too many nested collections";
    case CodecErrc::CountTooLarge: return "collection too large";
    case CodecErrc::FdIndexOutOfRange: return "fd index out of range";
    case CodecErrc::FdIndexReused: return "fd index used twice";
    case CodecErrc::FdNotReferenced: return "fd not referenced";
    case CodecErrc::ShmemNotMemfd: return "shmem fd is not a memfd";
    case CodecErrc::ShmemNotSealed: return "shmem memfd is not sealed against shrinking";
    case CodecErrc::ShmemTooLarge: return "shmem size larger than its memfd";
    case CodecErrc::EndpointNotSocket: return "endpoint fd is not a SOCK_SEQPACKET socket";
    case CodecErrc::TrailingBytes: return "trailing bytes";
    case CodecErrc::DatagramTruncated: return "datagram too large";
    case CodecErrc::ControlTruncated: return "too many fds in one datagram";
    case CodecErrc::UnexpectedControl: return "unexpected ancillary data";
    case CodecErrc::Closed: return "connection closed";
    case CodecErrc::System: return "system error";
  }
  return "unknown codec error";
}

std::string CodecError::message() const {
  std::string out(to_string(code));
  if (!detail.empty()) out += ": " + detail;
  if (sys_errno != 0) out += std::string(": ") + std::strerror(sys_errno);
  return out;
}

}  // namespace xpc::wire
