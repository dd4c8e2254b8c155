// xpc::Object: the C++20 face of libxpc's object model. An Object is a value
// of one XPC type (null, bool, int64, uint64, double, date, data, string,
// uuid, array, dictionary, fd, shmem, endpoint, error). Copies are cheap and
// share storage; a mutation copies first when storage is shared (copy on
// write), so Objects behave as values. Not here: the wire format (codec.hpp)
// and connections.
//
// The C API (<xpc/xpc.h>) works on the same objects with libxpc's reference
// semantics. Object::retain/adopt wrap a C object; mutations made later
// through the C API on that object are visible through the Object too.
//
// Threading: distinct Objects may be used from different threads at once,
// even when they share storage; one Object must not be mutated from two
// threads at once (like std::shared_ptr).
#pragma once

#include <xpc/export.h>
#include <xpc/unique_fd.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" {
typedef void* xpc_object_t;  // NOLINT(modernize-use-using): shared with the C API
}

struct xpc_object_s;

namespace xpc {

enum class Type : std::uint8_t {
  Null,
  Bool,
  Int64,
  Uint64,
  Double,
  Date,
  Data,
  String,
  Uuid,
  Array,
  Dictionary,
  Fd,
  Shmem,
  Endpoint,
  Error,
  Connection,  // a connection handle (C API); never sent in a message
};

// The name libxpc uses for the type ("dictionary", "int64", ...).
XPC_EXPORT std::string_view to_string(Type type) noexcept;

using Uuid = std::array<std::uint8_t, 16>;
// Dates are nanoseconds since the Unix epoch, as xpc_date_create takes them.
using Date = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

class Object;
using Array = std::vector<Object>;
using Dictionary = std::map<std::string, Object, std::less<>>;

// Keys of the error objects, as in libxpc.
inline constexpr std::string_view kErrorKeyDescription = "XPCErrorDescription";
inline constexpr std::string_view kErrorKeyCode = "XPCErrorCode";

class XPC_EXPORT Object {
 public:
  // --- construction -------------------------------------------------------
  Object() noexcept;  // null
  Object(std::nullptr_t) noexcept : Object() {}  // NOLINT(google-explicit-constructor)
  Object(bool value) noexcept;                   // NOLINT(google-explicit-constructor)
  template <std::signed_integral I>
    requires(!std::same_as<I, bool>)
  Object(I value) : Object(int64(value)) {}  // NOLINT(google-explicit-constructor)
  template <std::unsigned_integral U>
    requires(!std::same_as<U, bool>)
  Object(U value) : Object(uint64(value)) {}                     // NOLINT(google-explicit-constructor)
  Object(double value) : Object(real(value)) {}                  // NOLINT(google-explicit-constructor)
  Object(const char* value) : Object(string(value)) {}           // NOLINT(google-explicit-constructor)
  Object(std::string_view value) : Object(string(value)) {}      // NOLINT(google-explicit-constructor)
  Object(const std::string& value) : Object(string(value)) {}    // NOLINT(google-explicit-constructor)
  Object(Array values);                                          // NOLINT(google-explicit-constructor)
  Object(Dictionary entries);                                    // NOLINT(google-explicit-constructor)
  // A dictionary from key/value pairs: Object{{"op", "echo"}, {"n", 3}}.
  Object(std::initializer_list<std::pair<const std::string, Object>> entries);

  static Object null() noexcept { return Object(); }
  static Object boolean(bool value) noexcept { return Object(value); }
  static Object int64(std::int64_t value);
  static Object uint64(std::uint64_t value);
  static Object real(double value);
  static Object date(Date value);
  static Object date_now();
  static Object data(std::span<const std::byte> bytes);
  static Object data(std::string_view bytes);
  static Object string(std::string_view value);
  static Object uuid(const Uuid& value);
  static Object array(Array values = {});
  static Object dictionary(Dictionary entries = {});
  // Takes ownership of fd. Invalid fds give a null object.
  static Object fd(UniqueFd fd);
  // A CLOEXEC duplicate of a borrowed fd (xpc_fd_create); null on failure.
  static Object fd_dup(int fd);
  // A shared-memory region: a memfd of at least `size` bytes.
  static Object shmem(UniqueFd memfd, std::size_t size);
  // Copies `bytes` into a new sealed memfd (xpc_shmem_create). Null on failure.
  static Object shmem_copy(std::span<const std::byte> bytes);
  static Object endpoint(UniqueFd channel);
  // An error object: a dictionary-like value with XPCErrorCode and
  // XPCErrorDescription, plus any other fields.
  static Object error(std::string_view code, std::string_view description, Dictionary fields = {});

  // --- C interop ------------------------------------------------------------
  // Shares a C object, taking a new reference (the caller keeps its own).
  static Object retain(xpc_object_t object) noexcept;
  // Takes over the caller's reference to a C object.
  static Object adopt(xpc_object_t object) noexcept;
  // The C object, borrowed: valid while this Object is unchanged.
  xpc_object_t c_object() const noexcept;
  // A new reference to the C object; the caller must xpc_release it.
  xpc_object_t c_retain() const noexcept;

  Object(const Object& other) noexcept;
  Object(Object&& other) noexcept;
  Object& operator=(const Object& other) noexcept;
  Object& operator=(Object&& other) noexcept;
  ~Object();

  // --- inspection -------------------------------------------------------------
  Type type() const noexcept;
  bool is(Type t) const noexcept { return type() == t; }
  bool is_null() const noexcept { return is(Type::Null); }

  // Typed getters: nullopt (or nullptr, -1) when the type does not match.
  std::optional<bool> as_bool() const noexcept;
  std::optional<std::int64_t> as_int64() const noexcept;
  std::optional<std::uint64_t> as_uint64() const noexcept;
  std::optional<double> as_double() const noexcept;
  std::optional<Date> as_date() const noexcept;
  std::optional<std::span<const std::byte>> as_data() const noexcept;
  std::optional<std::string_view> as_string() const noexcept;
  const char* c_str() const noexcept;  // string contents, or nullptr
  std::optional<Uuid> as_uuid() const noexcept;
  const Array* as_array() const noexcept;
  const Dictionary* as_dictionary() const noexcept;  // dictionaries and errors
  // The fd of an fd, shmem or endpoint object, borrowed; -1 otherwise.
  int borrowed_fd() const noexcept;
  // A CLOEXEC duplicate of that fd (xpc_fd_dup); invalid otherwise.
  UniqueFd dup_fd() const noexcept;
  std::size_t shmem_size() const noexcept;

  // Conversion helpers with a fallback for a missing or mistyped value.
  std::int64_t int64_or(std::int64_t fallback) const noexcept { return as_int64().value_or(fallback); }
  std::uint64_t uint64_or(std::uint64_t fallback) const noexcept { return as_uint64().value_or(fallback); }
  double double_or(double fallback) const noexcept { return as_double().value_or(fallback); }
  bool bool_or(bool fallback) const noexcept { return as_bool().value_or(fallback); }
  std::string string_or(std::string_view fallback) const { return std::string(as_string().value_or(fallback)); }

  // Number of elements of an array or entries of a dictionary/error; 0 for
  // every other type.
  std::size_t size() const noexcept;

  // --- dictionaries -----------------------------------------------------------
  // The value under key, or a null object when absent or not a dictionary.
  const Object& operator[](std::string_view key) const noexcept;
  // The slot for key, created as null when absent. A null Object becomes an
  // empty dictionary first. Precondition: dictionary, error or null (aborts
  // otherwise: that is a programming error, not input).
  Object& operator[](std::string_view key);
  const Object* find(std::string_view key) const noexcept;
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  bool erase(std::string_view key);

  // --- arrays -------------------------------------------------------------------
  // The element at index, or a null object when out of range.
  const Object& operator[](std::size_t index) const noexcept;
  const Object& operator[](int index) const noexcept { return (*this)[static_cast<std::size_t>(index)]; }
  // Reading by index from a non-const Object (mutate through at()); these
  // keep an integer literal from meaning a null `const char*` key.
  const Object& operator[](std::size_t index) noexcept { return std::as_const(*this)[index]; }
  const Object& operator[](int index) noexcept { return std::as_const(*this)[index]; }
  // Precondition: array; index < size().
  Object& at(std::size_t index);
  // Appends; a null Object becomes an empty array first. Precondition: array or null.
  void push_back(Object value);

  // --- whole-object operations --------------------------------------------------
  // A readable description, like xpc_copy_description.
  std::string description() const;
  // Deep equality (xpc_equal). Fds compare equal when they refer to the same
  // file; shmem also needs equal sizes.
  bool operator==(const Object& other) const noexcept;
  std::size_t hash() const noexcept;
  // A deep copy that shares nothing (fds are duplicated).
  Object deep_copy() const;

 private:
  explicit Object(xpc_object_s* node) noexcept : node_(node) {}
  xpc_object_s* mutable_node();  // unshares before a mutation
  xpc_object_s* node_;
};

}  // namespace xpc
