// xpc::Object: construction, inspection and copy-on-write mutation.
#include "node.hpp"
#include "shmem.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

namespace xpc {

using namespace detail;

namespace {

[[noreturn]] void precondition_failed(const char* what, Type actual) {
  std::fprintf(stderr, "libxpc: %s on a %s object\n", what, std::string(to_string(actual)).c_str());
  std::abort();
}

const Object& null_object() noexcept {
  static const Object null;
  return null;
}

}  // namespace

std::string_view to_string(Type type) noexcept {
  switch (type) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Int64: return "int64";
    case Type::Uint64: return "uint64";
    case Type::Double: return "double";
    case Type::Date: return "date";
    case Type::Data: return "data";
    case Type::String: return "string";
    case Type::Uuid: return "uuid";
    case Type::Array: return "array";
    case Type::Dictionary: return "dictionary";
    case Type::Fd: return "fd";
    case Type::Shmem: return "shmem";
    case Type::Endpoint: return "endpoint";
    case Type::Error: return "error";
    case Type::Connection: return "connection";
  }
  return "unknown";
}

// --- construction -------------------------------------------------------------

Object::Object() noexcept : node_(null_node()) {}
Object::Object(bool value) noexcept : node_(bool_node(value)) {}
Object::Object(Array values) : node_(make_node(Type::Array, std::move(values))) {}
Object::Object(Dictionary entries) : node_(make_node(Type::Dictionary, std::move(entries))) {}
Object::Object(std::initializer_list<std::pair<const std::string, Object>> entries)
    : Object(Dictionary(entries)) {}

Object Object::int64(std::int64_t value) { return Object(make_node(Type::Int64, value)); }
Object Object::uint64(std::uint64_t value) { return Object(make_node(Type::Uint64, value)); }
Object Object::real(double value) { return Object(make_node(Type::Double, value)); }
Object Object::date(Date value) {
  return Object(make_node(Type::Date, DatePayload{value.time_since_epoch().count()}));
}
Object Object::date_now() { return date(std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now())); }

Object Object::data(std::span<const std::byte> bytes) {
  auto copy = std::make_shared<std::vector<std::byte>>(bytes.begin(), bytes.end());
  DataPayload payload{copy, copy->data(), copy->size()};
  return Object(make_node(Type::Data, std::move(payload)));
}
Object Object::data(std::string_view bytes) { return data(std::as_bytes(std::span(bytes.data(), bytes.size()))); }
Object Object::string(std::string_view value) { return Object(make_node(Type::String, std::string(value))); }
Object Object::uuid(const Uuid& value) { return Object(make_node(Type::Uuid, UuidPayload{value})); }
Object Object::array(Array values) { return Object(std::move(values)); }
Object Object::dictionary(Dictionary entries) { return Object(std::move(entries)); }

Object Object::fd(UniqueFd fd) {
  if (!fd) return Object();
  return Object(make_node(Type::Fd, FdPayload{std::move(fd)}));
}
Object Object::fd_dup(int fd) {
  if (fd < 0) return Object();
  return Object::fd(UniqueFd::adopt(::fcntl(fd, F_DUPFD_CLOEXEC, 0)));
}
Object Object::shmem(UniqueFd memfd, std::size_t size) {
  if (!memfd) return Object();
  return Object(make_node(Type::Shmem, ShmemPayload{std::move(memfd), size}));
}
Object Object::shmem_copy(std::span<const std::byte> bytes) {
  UniqueFd memfd = sealed_memfd_with(bytes, "xpc-shmem");
  return shmem(std::move(memfd), bytes.size());
}
Object Object::endpoint(UniqueFd channel) {
  if (!channel) return Object();
  return Object(make_node(Type::Endpoint, EndpointPayload{std::move(channel)}));
}
Object Object::error(std::string_view code, std::string_view description, Dictionary fields) {
  fields.insert_or_assign(std::string(kErrorKeyCode), Object::string(code));
  fields.insert_or_assign(std::string(kErrorKeyDescription), Object::string(description));
  return Object(make_node(Type::Error, std::move(fields)));
}

// --- C interop ----------------------------------------------------------------

Object Object::retain(xpc_object_t object) noexcept {
  if (object == nullptr) return Object();
  return Object(detail::retain(node_of(object)));
}
Object Object::adopt(xpc_object_t object) noexcept {
  if (object == nullptr) return Object();
  return Object(node_of(object));
}
xpc_object_t Object::c_object() const noexcept { return node_; }
xpc_object_t Object::c_retain() const noexcept { return detail::retain(node_); }

// --- ownership ----------------------------------------------------------------

Object::Object(const Object& other) noexcept : node_(detail::retain(other.node_)) {}
Object::Object(Object&& other) noexcept : node_(std::exchange(other.node_, null_node())) {}
Object& Object::operator=(const Object& other) noexcept {
  xpc_object_s* old = std::exchange(node_, detail::retain(other.node_));
  detail::release(old);
  return *this;
}
Object& Object::operator=(Object&& other) noexcept {
  if (this != &other) {
    xpc_object_s* old = std::exchange(node_, std::exchange(other.node_, null_node()));
    detail::release(old);
  }
  return *this;
}
Object::~Object() { detail::release(node_); }

// Only collections are ever mutated in place, so only they are unshared.
xpc_object_s* Object::mutable_node() {
  if (!node_->immortal && node_->refs.load(std::memory_order_acquire) == 1) return node_;
  xpc_object_s* copy = nullptr;
  if (auto* array = payload_if<Array>(node_)) {
    copy = make_node(node_->type, Array(*array));
  } else if (auto* dict = payload_if<Dictionary>(node_)) {
    copy = make_node(node_->type, Dictionary(*dict));
    copy->context = node_->context;  // a reply stays a reply
  } else {
    precondition_failed("mutation", node_->type);
  }
  detail::release(std::exchange(node_, copy));
  return node_;
}

// --- inspection ---------------------------------------------------------------

Type Object::type() const noexcept { return node_->type; }

std::optional<bool> Object::as_bool() const noexcept {
  if (auto* v = payload_if<bool>(node_)) return *v;
  return std::nullopt;
}
std::optional<std::int64_t> Object::as_int64() const noexcept {
  if (auto* v = payload_if<std::int64_t>(node_)) return *v;
  return std::nullopt;
}
std::optional<std::uint64_t> Object::as_uint64() const noexcept {
  if (auto* v = payload_if<std::uint64_t>(node_)) return *v;
  return std::nullopt;
}
std::optional<double> Object::as_double() const noexcept {
  if (auto* v = payload_if<double>(node_)) return *v;
  return std::nullopt;
}
std::optional<Date> Object::as_date() const noexcept {
  if (auto* v = payload_if<DatePayload>(node_)) return Date(std::chrono::nanoseconds(v->ns));
  return std::nullopt;
}
std::optional<std::span<const std::byte>> Object::as_data() const noexcept {
  if (auto* v = payload_if<DataPayload>(node_)) return std::span(v->bytes, v->length);
  return std::nullopt;
}
std::optional<std::string_view> Object::as_string() const noexcept {
  if (auto* v = payload_if<std::string>(node_)) return std::string_view(*v);
  return std::nullopt;
}
const char* Object::c_str() const noexcept {
  auto* v = payload_if<std::string>(node_);
  return v == nullptr ? nullptr : v->c_str();
}
std::optional<Uuid> Object::as_uuid() const noexcept {
  if (auto* v = payload_if<UuidPayload>(node_)) return v->bytes;
  return std::nullopt;
}
const Array* Object::as_array() const noexcept { return payload_if<Array>(node_); }
const Dictionary* Object::as_dictionary() const noexcept { return payload_if<Dictionary>(node_); }

int Object::borrowed_fd() const noexcept {
  if (auto* v = payload_if<FdPayload>(node_)) return v->fd.get();
  if (auto* v = payload_if<ShmemPayload>(node_)) return v->fd.get();
  if (auto* v = payload_if<EndpointPayload>(node_)) return v->fd.get();
  return -1;
}
UniqueFd Object::dup_fd() const noexcept {
  int fd = borrowed_fd();
  if (fd < 0) return {};
  return UniqueFd::adopt(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
}
std::size_t Object::shmem_size() const noexcept {
  auto* v = payload_if<ShmemPayload>(node_);
  return v == nullptr ? 0 : v->size;
}

std::size_t Object::size() const noexcept {
  if (auto* a = as_array()) return a->size();
  if (auto* d = as_dictionary()) return d->size();
  return 0;
}

// --- dictionaries ---------------------------------------------------------------

const Object* Object::find(std::string_view key) const noexcept {
  const Dictionary* dict = as_dictionary();
  if (dict == nullptr) return nullptr;
  auto it = dict->find(key);
  return it == dict->end() ? nullptr : &it->second;
}

const Object& Object::operator[](std::string_view key) const noexcept {
  const Object* found = find(key);
  return found == nullptr ? null_object() : *found;
}

Object& Object::operator[](std::string_view key) {
  if (is_null()) *this = dictionary();
  if (!is_dictionary_like(node_)) precondition_failed("operator[](key)", node_->type);
  auto& dict = std::get<Dictionary>(mutable_node()->payload);
  auto it = dict.find(key);
  if (it == dict.end()) it = dict.emplace(std::string(key), Object()).first;
  return it->second;
}

bool Object::erase(std::string_view key) {
  if (!contains(key)) return false;
  auto& dict = std::get<Dictionary>(mutable_node()->payload);
  dict.erase(dict.find(key));
  return true;
}

// --- arrays -----------------------------------------------------------------------

const Object& Object::operator[](std::size_t index) const noexcept {
  const Array* array = as_array();
  if (array == nullptr || index >= array->size()) return null_object();
  return (*array)[index];
}

Object& Object::at(std::size_t index) {
  if (as_array() == nullptr) precondition_failed("at(index)", node_->type);
  auto& array = std::get<Array>(mutable_node()->payload);
  if (index >= array.size()) {
    std::fprintf(stderr, "libxpc: at(%zu) past the end of an array of %zu\n", index, array.size());
    std::abort();
  }
  return array[index];
}

void Object::push_back(Object value) {
  if (is_null()) *this = array();
  if (as_array() == nullptr) precondition_failed("push_back", node_->type);
  std::get<Array>(mutable_node()->payload).push_back(std::move(value));
}

// --- equality, hashing, copying ------------------------------------------------------

namespace {

bool same_file(int a, int b) noexcept {
  struct stat sa {}, sb {};
  if (::fstat(a, &sa) != 0 || ::fstat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

bool Object::operator==(const Object& other) const noexcept {
  if (node_ == other.node_) return true;
  if (type() != other.type()) return false;
  switch (type()) {
    case Type::Null: return true;
    case Type::Bool: return as_bool() == other.as_bool();
    case Type::Int64: return as_int64() == other.as_int64();
    case Type::Uint64: return as_uint64() == other.as_uint64();
    case Type::Double: {
      // Bitwise, so that a NaN equals itself after a round trip.
      double a = *as_double(), b = *other.as_double();
      return std::memcmp(&a, &b, sizeof a) == 0;
    }
    case Type::Date: return as_date() == other.as_date();
    case Type::Data: {
      auto a = *as_data(), b = *other.as_data();
      return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
    }
    case Type::String: return as_string() == other.as_string();
    case Type::Uuid: return as_uuid() == other.as_uuid();
    case Type::Array: return *as_array() == *other.as_array();
    case Type::Dictionary:
    case Type::Error: return *as_dictionary() == *other.as_dictionary();
    case Type::Shmem:
      if (shmem_size() != other.shmem_size()) return false;
      [[fallthrough]];
    case Type::Fd:
    case Type::Endpoint: return same_file(borrowed_fd(), other.borrowed_fd());
    case Type::Connection: return false;  // identity only, checked above
  }
  return false;
}

std::size_t Object::hash() const noexcept {
  auto mix = [](std::size_t seed, std::size_t v) { return seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2)); };
  std::size_t h = static_cast<std::size_t>(type());
  switch (type()) {
    case Type::Null: return h;
    case Type::Bool: return mix(h, *as_bool());
    case Type::Int64: return mix(h, std::hash<std::int64_t>{}(*as_int64()));
    case Type::Uint64: return mix(h, std::hash<std::uint64_t>{}(*as_uint64()));
    case Type::Double: {
      double d = *as_double();
      std::uint64_t bits = 0;
      std::memcpy(&bits, &d, sizeof bits);
      return mix(h, bits);
    }
    case Type::Date: return mix(h, std::hash<std::int64_t>{}(as_date()->time_since_epoch().count()));
    case Type::Data: {
      auto bytes = *as_data();
      return mix(h, std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
    }
    case Type::String: return mix(h, std::hash<std::string_view>{}(*as_string()));
    case Type::Uuid: {
      auto u = *as_uuid();
      return mix(h, std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(u.data()), u.size())));
    }
    case Type::Array:
      for (const Object& e : *as_array()) h = mix(h, e.hash());
      return h;
    case Type::Dictionary:
    case Type::Error:
      for (const auto& [k, v] : *as_dictionary()) h = mix(mix(h, std::hash<std::string>{}(k)), v.hash());
      return h;
    case Type::Fd:
    case Type::Shmem:
    case Type::Endpoint: {
      struct stat st {};
      if (::fstat(borrowed_fd(), &st) == 0) h = mix(mix(h, st.st_dev), st.st_ino);
      return h;
    }
    case Type::Connection: return mix(h, std::hash<const void*>{}(node_));
  }
  return h;
}

Object Object::deep_copy() const {
  switch (type()) {
    case Type::Array: {
      Array copy;
      copy.reserve(size());
      for (const Object& e : *as_array()) copy.push_back(e.deep_copy());
      return Object(std::move(copy));
    }
    case Type::Dictionary:
    case Type::Error: {
      Dictionary copy;
      for (const auto& [k, v] : *as_dictionary()) copy.emplace(k, v.deep_copy());
      return Object(make_node(type(), std::move(copy)));
    }
    case Type::Fd: return Object::fd(dup_fd());
    case Type::Shmem: return Object::shmem(dup_fd(), shmem_size());
    case Type::Endpoint: return Object::endpoint(dup_fd());
    case Type::Data: {
      auto bytes = *as_data();
      return Object::data(bytes);
    }
    case Type::Null:
    case Type::Bool:
    case Type::Int64:
    case Type::Uint64:
    case Type::Double:
    case Type::Date:
    case Type::String:
    case Type::Uuid:
    case Type::Connection: return *this;  // immutable or an identity: sharing is a copy
  }
  return *this;
}

}  // namespace xpc
