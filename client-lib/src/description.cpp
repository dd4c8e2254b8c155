// Object::description(): a readable rendering in the shape of libxpc's
// xpc_copy_description, without the pointer values (they make output
// impossible to compare and say nothing to a reader).
#include "node.hpp"

#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>

namespace xpc {

namespace {

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string fd_kind(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "closed";
  switch (st.st_mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "directory";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFIFO: return "pipe";
    case S_IFSOCK: return "socket";
    case S_IFLNK: return "symlink";
    default: return "other";
  }
}

void describe(const Object& obj, std::string& out, int indent);

void describe_entries(const Object& obj, std::string& out, int indent) {
  std::string pad(static_cast<std::size_t>(indent) + 1, '\t');
  if (const Array* array = obj.as_array()) {
    std::size_t i = 0;
    for (const Object& e : *array) {
      out += pad + std::to_string(i++) + ": ";
      describe(e, out, indent + 1);
      out += '\n';
    }
    return;
  }
  for (const auto& [key, value] : *obj.as_dictionary()) {
    out += pad;
    append_quoted(out, key);
    out += " => ";
    describe(value, out, indent + 1);
    out += '\n';
  }
}

void describe(const Object& obj, std::string& out, int indent) {
  char buf[96];
  out += '<';
  out += to_string(obj.type());
  out += '>';
  switch (obj.type()) {
    case Type::Null: return;
    case Type::Bool: out += *obj.as_bool() ? ": true" : ": false"; return;
    case Type::Int64: std::snprintf(buf, sizeof buf, ": %" PRId64, *obj.as_int64()); break;
    case Type::Uint64: std::snprintf(buf, sizeof buf, ": %" PRIu64, *obj.as_uint64()); break;
    case Type::Double: std::snprintf(buf, sizeof buf, ": %.17g", *obj.as_double()); break;
    case Type::Date: {
      auto ns = obj.as_date()->time_since_epoch().count();
      std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
      std::tm tm {};
      ::gmtime_r(&secs, &tm);
      char when[40];
      std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
      std::snprintf(buf, sizeof buf, ": %s.%09lld UTC", when, static_cast<long long>(((ns % 1'000'000'000) + 1'000'000'000) % 1'000'000'000));
      break;
    }
    case Type::Data: {
      auto bytes = *obj.as_data();
      std::snprintf(buf, sizeof buf, " { length = %zu, contents = ", bytes.size());
      out += buf;
      std::size_t shown = std::min<std::size_t>(bytes.size(), 32);
      for (std::size_t i = 0; i < shown; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(bytes[i]));
        out += buf;
      }
      out += shown < bytes.size() ? "... }" : " }";
      return;
    }
    case Type::String: {
      std::snprintf(buf, sizeof buf, " { length = %zu, contents = ", obj.as_string()->size());
      out += buf;
      append_quoted(out, *obj.as_string());
      out += " }";
      return;
    }
    case Type::Uuid: {
      auto u = *obj.as_uuid();
      std::snprintf(buf, sizeof buf,
                    ": %02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", u[0], u[1],
                    u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
      break;
    }
    case Type::Array:
    case Type::Dictionary:
    case Type::Error: {
      std::snprintf(buf, sizeof buf, " { count = %zu, contents =\n", obj.size());
      out += buf;
      describe_entries(obj, out, indent);
      out.append(static_cast<std::size_t>(indent), '\t');
      out += '}';
      return;
    }
    case Type::Fd:
    case Type::Endpoint:
      std::snprintf(buf, sizeof buf, " { fd = %d, type = %s }", obj.borrowed_fd(), fd_kind(obj.borrowed_fd()).c_str());
      break;
    case Type::Shmem:
      std::snprintf(buf, sizeof buf, " { fd = %d, size = %zu }", obj.borrowed_fd(), obj.shmem_size());
      break;
    case Type::Connection: return;
  }
  out += buf;
}

}  // namespace

std::string Object::description() const {
  std::string out;
  describe(*this, out, 0);
  return out;
}

}  // namespace xpc
