// The C API of the object model (<xpc/xpc.h>): thin functions over the
// nodes, with libxpc's reference semantics for collections.
#include "node.hpp"

#include <xpc/xpc.h>

#include <sys/mman.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace xpc;
using namespace xpc::detail;

struct _xpc_type_s {
  const char* name;
  Type type;
};

struct _xpc_bool_s : xpc_object_s {
  using xpc_object_s::xpc_object_s;
};
struct _xpc_error_s : xpc_object_s {
  using xpc_object_s::xpc_object_s;
};

namespace {

Dictionary error_fields(const char* code, const char* description) {
  return Dictionary{{std::string(kErrorKeyCode), Object::string(code)},
                    {std::string(kErrorKeyDescription), Object::string(description)}};
}

}  // namespace

extern "C" {

#define XPC_DEFINE_TYPE(name, t) const struct _xpc_type_s _xpc_type_##name = {#name, Type::t}
XPC_DEFINE_TYPE(null, Null);
XPC_DEFINE_TYPE(bool, Bool);
XPC_DEFINE_TYPE(int64, Int64);
XPC_DEFINE_TYPE(uint64, Uint64);
XPC_DEFINE_TYPE(double, Double);
XPC_DEFINE_TYPE(date, Date);
XPC_DEFINE_TYPE(data, Data);
XPC_DEFINE_TYPE(string, String);
XPC_DEFINE_TYPE(uuid, Uuid);
XPC_DEFINE_TYPE(array, Array);
XPC_DEFINE_TYPE(dictionary, Dictionary);
XPC_DEFINE_TYPE(fd, Fd);
XPC_DEFINE_TYPE(shmem, Shmem);
XPC_DEFINE_TYPE(endpoint, Endpoint);
XPC_DEFINE_TYPE(error, Error);
XPC_DEFINE_TYPE(connection, Connection);
#undef XPC_DEFINE_TYPE

XPC_EXPORT struct _xpc_bool_s _xpc_bool_true(Type::Bool, true, true);
XPC_EXPORT struct _xpc_bool_s _xpc_bool_false(Type::Bool, false, true);
XPC_EXPORT struct _xpc_error_s _xpc_error_connection_interrupted(
    Type::Error, error_fields("interrupted", "Connection interrupted"), true);
XPC_EXPORT struct _xpc_error_s _xpc_error_connection_invalid(
    Type::Error, error_fields("invalid", "Connection invalid"), true);
XPC_EXPORT struct _xpc_error_s _xpc_error_termination_imminent(
    Type::Error, error_fields("termination-imminent", "Termination imminent"), true);

}  // extern "C"

namespace xpc::detail {

xpc_object_s* null_node() noexcept {
  static xpc_object_s node(Type::Null, NullPayload{}, true);
  return &node;
}

xpc_object_s* bool_node(bool value) noexcept { return value ? &_xpc_bool_true : &_xpc_bool_false; }

}  // namespace xpc::detail

namespace {

xpc_type_t type_constant(Type type) noexcept {
  switch (type) {
    case Type::Null: return XPC_TYPE_NULL;
    case Type::Bool: return XPC_TYPE_BOOL;
    case Type::Int64: return XPC_TYPE_INT64;
    case Type::Uint64: return XPC_TYPE_UINT64;
    case Type::Double: return XPC_TYPE_DOUBLE;
    case Type::Date: return XPC_TYPE_DATE;
    case Type::Data: return XPC_TYPE_DATA;
    case Type::String: return XPC_TYPE_STRING;
    case Type::Uuid: return XPC_TYPE_UUID;
    case Type::Array: return XPC_TYPE_ARRAY;
    case Type::Dictionary: return XPC_TYPE_DICTIONARY;
    case Type::Fd: return XPC_TYPE_FD;
    case Type::Shmem: return XPC_TYPE_SHMEM;
    case Type::Endpoint: return XPC_TYPE_ENDPOINT;
    case Type::Error: return XPC_TYPE_ERROR;
    case Type::Connection: return XPC_TYPE_CONNECTION;
  }
  return nullptr;
}

// A C object seen through the C++ API (one extra reference while in use).
Object view(xpc_object_t object) noexcept { return Object::retain(object); }

// Hands a new Object to C: the caller gets its one reference.
xpc_object_t to_c(Object object) noexcept { return Object(std::move(object)).c_retain(); }

Array* array_of(xpc_object_t xarray) noexcept { return payload_if<Array>(node_of(xarray)); }

Dictionary* dictionary_of(xpc_object_t xdict) noexcept {
  return is_dictionary_like(node_of(xdict)) ? &std::get<Dictionary>(node_of(xdict)->payload) : nullptr;
}

[[noreturn]] void misuse(const char* function, const char* what) {
  std::fprintf(stderr, "libxpc: %s: %s\n", function, what);
  std::abort();
}

// Typed setters and getters go through the generic ones (declared in xpc.h).
void array_set(xpc_object_t xarray, size_t index, Object value) {
  xpc_array_set_value(xarray, index, value.c_object());
}
Object array_element(xpc_object_t xarray, size_t index) { return view(xpc_array_get_value(xarray, index)); }
void dict_set(xpc_object_t xdict, const char* key, Object value) {
  xpc_dictionary_set_value(xdict, key, value.c_object());
}
Object dict_entry(xpc_object_t xdict, const char* key) { return view(xpc_dictionary_get_value(xdict, key)); }

}  // namespace

extern "C" {

// --- every object ---------------------------------------------------------------

xpc_object_t xpc_retain(xpc_object_t object) {
  if (object != nullptr) retain(node_of(object));
  return object;
}

void xpc_release(xpc_object_t object) {
  if (object != nullptr) release(node_of(object));
}

xpc_type_t xpc_get_type(xpc_object_t object) { return object == nullptr ? nullptr : type_constant(node_of(object)->type); }

const char* xpc_type_get_name(xpc_type_t type) { return type == nullptr ? "unknown" : type->name; }

xpc_object_t xpc_copy(xpc_object_t object) {
  if (object == nullptr) return nullptr;
  return to_c(view(object).deep_copy());
}

bool xpc_equal(xpc_object_t object1, xpc_object_t object2) {
  if (object1 == nullptr || object2 == nullptr) return object1 == object2;
  return view(object1) == view(object2);
}

size_t xpc_hash(xpc_object_t object) { return object == nullptr ? 0 : view(object).hash(); }

char* xpc_copy_description(xpc_object_t object) {
  std::string text = object == nullptr ? "<null pointer>" : view(object).description();
  return ::strdup(text.c_str());
}

// --- scalars ------------------------------------------------------------------------

xpc_object_t xpc_null_create(void) { return null_node(); }
xpc_object_t xpc_bool_create(bool value) { return bool_node(value); }
bool xpc_bool_get_value(xpc_object_t xbool) { return xbool != nullptr && view(xbool).bool_or(false); }
xpc_object_t xpc_int64_create(int64_t value) { return to_c(Object::int64(value)); }
int64_t xpc_int64_get_value(xpc_object_t xint) { return xint == nullptr ? 0 : view(xint).int64_or(0); }
xpc_object_t xpc_uint64_create(uint64_t value) { return to_c(Object::uint64(value)); }
uint64_t xpc_uint64_get_value(xpc_object_t xuint) { return xuint == nullptr ? 0 : view(xuint).uint64_or(0); }
xpc_object_t xpc_double_create(double value) { return to_c(Object::real(value)); }
double xpc_double_get_value(xpc_object_t xdouble) {
  return xdouble == nullptr ? NAN : view(xdouble).double_or(NAN);
}

xpc_object_t xpc_date_create(int64_t interval) { return to_c(Object::date(Date(std::chrono::nanoseconds(interval)))); }
xpc_object_t xpc_date_create_from_current(void) { return to_c(Object::date_now()); }
int64_t xpc_date_get_value(xpc_object_t xdate) {
  if (xdate == nullptr) return 0;
  auto date = view(xdate).as_date();
  return date ? date->time_since_epoch().count() : 0;
}

xpc_object_t xpc_data_create(const void* bytes, size_t length) {
  if (bytes == nullptr && length != 0) return nullptr;
  return to_c(Object::data(std::span(static_cast<const std::byte*>(bytes), length)));
}
size_t xpc_data_get_length(xpc_object_t xdata) {
  auto data = xdata == nullptr ? std::nullopt : view(xdata).as_data();
  return data ? data->size() : 0;
}
const void* xpc_data_get_bytes_ptr(xpc_object_t xdata) {
  auto data = xdata == nullptr ? std::nullopt : view(xdata).as_data();
  return data ? data->data() : nullptr;
}
size_t xpc_data_get_bytes(xpc_object_t xdata, void* buffer, size_t offset, size_t length) {
  auto data = xdata == nullptr ? std::nullopt : view(xdata).as_data();
  if (!data || offset >= data->size()) return 0;
  size_t n = std::min(length, data->size() - offset);
  std::memcpy(buffer, data->data() + offset, n);
  return n;
}

xpc_object_t xpc_string_create(const char* string) {
  if (string == nullptr) return nullptr;
  return to_c(Object::string(string));
}
xpc_object_t xpc_string_create_with_format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  xpc_object_t result = xpc_string_create_with_format_and_arguments(fmt, ap);
  va_end(ap);
  return result;
}
xpc_object_t xpc_string_create_with_format_and_arguments(const char* fmt, va_list ap) {
  char* text = nullptr;
  if (::vasprintf(&text, fmt, ap) < 0) return nullptr;
  xpc_object_t result = xpc_string_create(text);
  std::free(text);
  return result;
}
size_t xpc_string_get_length(xpc_object_t xstring) {
  auto s = xstring == nullptr ? std::nullopt : view(xstring).as_string();
  return s ? s->size() : 0;
}
const char* xpc_string_get_string_ptr(xpc_object_t xstring) {
  return xstring == nullptr ? nullptr : view(xstring).c_str();
}

xpc_object_t xpc_uuid_create(const unsigned char* uuid) {
  if (uuid == nullptr) return nullptr;
  Uuid bytes;
  std::memcpy(bytes.data(), uuid, bytes.size());
  return to_c(Object::uuid(bytes));
}
const uint8_t* xpc_uuid_get_bytes(xpc_object_t xuuid) {
  auto* payload = xuuid == nullptr ? nullptr : payload_if<UuidPayload>(node_of(xuuid));
  return payload == nullptr ? nullptr : payload->bytes.data();
}

// --- fds and shared memory --------------------------------------------------------------

xpc_object_t xpc_fd_create(int fd) {
  Object obj = Object::fd_dup(fd);
  return obj.is_null() ? nullptr : to_c(std::move(obj));
}
int xpc_fd_dup(xpc_object_t xfd) {
  if (xfd == nullptr || node_of(xfd)->type != Type::Fd) return -1;
  return view(xfd).dup_fd().release();
}

xpc_object_t xpc_shmem_create(void* region, size_t length) {
  if (region == nullptr || length == 0) return nullptr;
  Object obj = Object::shmem_copy(std::span(static_cast<const std::byte*>(region), length));
  return obj.is_null() ? nullptr : to_c(std::move(obj));
}
size_t xpc_shmem_map(xpc_object_t xshmem, void** region) {
  if (xshmem == nullptr || region == nullptr || node_of(xshmem)->type != Type::Shmem) return 0;
  const Object& obj = view(xshmem);
  size_t size = obj.shmem_size();
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, obj.borrowed_fd(), 0);
  if (p == MAP_FAILED) return 0;
  *region = p;
  return size;
}

// --- arrays ---------------------------------------------------------------------------------

xpc_object_t xpc_array_create(const xpc_object_t* objects, size_t count) {
  Array values;
  values.reserve(count);
  for (size_t i = 0; i < count; ++i) values.push_back(Object::retain(objects[i]));
  return to_c(Object(std::move(values)));
}
xpc_object_t xpc_array_create_empty(void) { return to_c(Object::array()); }

void xpc_array_set_value(xpc_object_t xarray, size_t index, xpc_object_t value) {
  Array* array = array_of(xarray);
  if (array == nullptr) misuse("xpc_array_set_value", "not an array");
  if (value == nullptr) misuse("xpc_array_set_value", "NULL value");
  if (index == XPC_ARRAY_APPEND) {
    array->push_back(Object::retain(value));
  } else if (index < array->size()) {
    (*array)[index] = Object::retain(value);
  } else {
    misuse("xpc_array_set_value", "index past the end");
  }
}
void xpc_array_append_value(xpc_object_t xarray, xpc_object_t value) {
  xpc_array_set_value(xarray, XPC_ARRAY_APPEND, value);
}
size_t xpc_array_get_count(xpc_object_t xarray) {
  Array* array = array_of(xarray);
  return array == nullptr ? 0 : array->size();
}
xpc_object_t xpc_array_get_value(xpc_object_t xarray, size_t index) {
  Array* array = array_of(xarray);
  if (array == nullptr || index >= array->size()) return nullptr;
  return (*array)[index].c_object();
}
bool xpc_array_apply_f(xpc_object_t xarray, void* context, xpc_array_applier_f applier) {
  Array* array = array_of(xarray);
  if (array == nullptr) return true;
  // Indexing, not iterators: the applier may append to the array.
  for (size_t i = 0; i < array->size(); ++i) {
    if (!applier(context, i, (*array)[i].c_object())) return false;
  }
  return true;
}

void xpc_array_set_bool(xpc_object_t a, size_t i, bool v) { array_set(a, i, Object(v)); }
void xpc_array_set_int64(xpc_object_t a, size_t i, int64_t v) { array_set(a, i, Object::int64(v)); }
void xpc_array_set_uint64(xpc_object_t a, size_t i, uint64_t v) { array_set(a, i, Object::uint64(v)); }
void xpc_array_set_double(xpc_object_t a, size_t i, double v) { array_set(a, i, Object::real(v)); }
void xpc_array_set_date(xpc_object_t a, size_t i, int64_t v) {
  array_set(a, i, Object::date(Date(std::chrono::nanoseconds(v))));
}
void xpc_array_set_data(xpc_object_t a, size_t i, const void* bytes, size_t length) {
  array_set(a, i, Object::data(std::span(static_cast<const std::byte*>(bytes), length)));
}
void xpc_array_set_string(xpc_object_t a, size_t i, const char* s) {
  if (s == nullptr) misuse("xpc_array_set_string", "NULL string");
  array_set(a, i, Object::string(s));
}
void xpc_array_set_uuid(xpc_object_t a, size_t i, const unsigned char* uuid) {
  xpc_object_t value = xpc_uuid_create(uuid);
  if (value == nullptr) misuse("xpc_array_set_uuid", "NULL uuid");
  array_set(a, i, Object::adopt(value));
}
void xpc_array_set_fd(xpc_object_t a, size_t i, int fd) {
  Object value = Object::fd_dup(fd);
  if (!value.is_null()) array_set(a, i, std::move(value));
}

bool xpc_array_get_bool(xpc_object_t a, size_t i) { return array_element(a, i).bool_or(false); }
int64_t xpc_array_get_int64(xpc_object_t a, size_t i) { return array_element(a, i).int64_or(0); }
uint64_t xpc_array_get_uint64(xpc_object_t a, size_t i) { return array_element(a, i).uint64_or(0); }
double xpc_array_get_double(xpc_object_t a, size_t i) { return array_element(a, i).double_or(NAN); }
int64_t xpc_array_get_date(xpc_object_t a, size_t i) { return xpc_date_get_value(xpc_array_get_value(a, i)); }
const void* xpc_array_get_data(xpc_object_t a, size_t i, size_t* length) {
  auto data = array_element(a, i).as_data();
  if (length != nullptr) *length = data ? data->size() : 0;
  return data ? data->data() : nullptr;
}
const char* xpc_array_get_string(xpc_object_t a, size_t i) { return array_element(a, i).c_str(); }
const uint8_t* xpc_array_get_uuid(xpc_object_t a, size_t i) { return xpc_uuid_get_bytes(xpc_array_get_value(a, i)); }
int xpc_array_dup_fd(xpc_object_t a, size_t i) { return xpc_fd_dup(xpc_array_get_value(a, i)); }
xpc_object_t xpc_array_get_array(xpc_object_t a, size_t i) {
  xpc_object_t v = xpc_array_get_value(a, i);
  return v != nullptr && node_of(v)->type == Type::Array ? v : nullptr;
}
xpc_object_t xpc_array_get_dictionary(xpc_object_t a, size_t i) {
  xpc_object_t v = xpc_array_get_value(a, i);
  return v != nullptr && node_of(v)->type == Type::Dictionary ? v : nullptr;
}

// --- dictionaries -------------------------------------------------------------------------------

xpc_object_t xpc_dictionary_create(const char* const* keys, const xpc_object_t* values, size_t count) {
  Dictionary entries;
  for (size_t i = 0; i < count; ++i) {
    if (keys[i] != nullptr && values[i] != nullptr) entries.insert_or_assign(keys[i], Object::retain(values[i]));
  }
  return to_c(Object(std::move(entries)));
}
xpc_object_t xpc_dictionary_create_empty(void) { return to_c(Object::dictionary()); }

void xpc_dictionary_set_value(xpc_object_t xdict, const char* key, xpc_object_t value) {
  Dictionary* dict = dictionary_of(xdict);
  if (dict == nullptr || node_of(xdict)->immortal) misuse("xpc_dictionary_set_value", "not a mutable dictionary");
  if (key == nullptr) misuse("xpc_dictionary_set_value", "NULL key");
  if (value == nullptr) {
    auto it = dict->find(std::string_view(key));
    if (it != dict->end()) dict->erase(it);
  } else {
    dict->insert_or_assign(key, Object::retain(value));
  }
}
xpc_object_t xpc_dictionary_get_value(xpc_object_t xdict, const char* key) {
  Dictionary* dict = dictionary_of(xdict);
  if (dict == nullptr || key == nullptr) return nullptr;
  auto it = dict->find(std::string_view(key));
  return it == dict->end() ? nullptr : it->second.c_object();
}
size_t xpc_dictionary_get_count(xpc_object_t xdict) {
  Dictionary* dict = dictionary_of(xdict);
  return dict == nullptr ? 0 : dict->size();
}
bool xpc_dictionary_apply_f(xpc_object_t xdict, void* context, xpc_dictionary_applier_f applier) {
  Dictionary* dict = dictionary_of(xdict);
  if (dict == nullptr) return true;
  // A snapshot: the applier may change the dictionary.
  Dictionary snapshot = *dict;
  for (const auto& [key, value] : snapshot) {
    if (!applier(context, key.c_str(), value.c_object())) return false;
  }
  return true;
}

void xpc_dictionary_set_bool(xpc_object_t d, const char* k, bool v) { dict_set(d, k, Object(v)); }
void xpc_dictionary_set_int64(xpc_object_t d, const char* k, int64_t v) { dict_set(d, k, Object::int64(v)); }
void xpc_dictionary_set_uint64(xpc_object_t d, const char* k, uint64_t v) { dict_set(d, k, Object::uint64(v)); }
void xpc_dictionary_set_double(xpc_object_t d, const char* k, double v) { dict_set(d, k, Object::real(v)); }
void xpc_dictionary_set_date(xpc_object_t d, const char* k, int64_t v) {
  dict_set(d, k, Object::date(Date(std::chrono::nanoseconds(v))));
}
void xpc_dictionary_set_data(xpc_object_t d, const char* k, const void* bytes, size_t length) {
  dict_set(d, k, Object::data(std::span(static_cast<const std::byte*>(bytes), length)));
}
void xpc_dictionary_set_string(xpc_object_t d, const char* k, const char* s) {
  if (s == nullptr) {
    xpc_dictionary_set_value(d, k, nullptr);
    return;
  }
  dict_set(d, k, Object::string(s));
}
void xpc_dictionary_set_uuid(xpc_object_t d, const char* k, const unsigned char* uuid) {
  xpc_object_t value = xpc_uuid_create(uuid);
  if (value == nullptr) misuse("xpc_dictionary_set_uuid", "NULL uuid");
  dict_set(d, k, Object::adopt(value));
}
void xpc_dictionary_set_fd(xpc_object_t d, const char* k, int fd) {
  Object value = Object::fd_dup(fd);
  if (!value.is_null()) dict_set(d, k, std::move(value));
}

bool xpc_dictionary_get_bool(xpc_object_t d, const char* k) { return dict_entry(d, k).bool_or(false); }
int64_t xpc_dictionary_get_int64(xpc_object_t d, const char* k) { return dict_entry(d, k).int64_or(0); }
uint64_t xpc_dictionary_get_uint64(xpc_object_t d, const char* k) { return dict_entry(d, k).uint64_or(0); }
double xpc_dictionary_get_double(xpc_object_t d, const char* k) { return dict_entry(d, k).double_or(NAN); }
int64_t xpc_dictionary_get_date(xpc_object_t d, const char* k) {
  return xpc_date_get_value(xpc_dictionary_get_value(d, k));
}
const void* xpc_dictionary_get_data(xpc_object_t d, const char* k, size_t* length) {
  auto data = dict_entry(d, k).as_data();
  if (length != nullptr) *length = data ? data->size() : 0;
  return data ? data->data() : nullptr;
}
const char* xpc_dictionary_get_string(xpc_object_t d, const char* k) { return dict_entry(d, k).c_str(); }
const uint8_t* xpc_dictionary_get_uuid(xpc_object_t d, const char* k) {
  return xpc_uuid_get_bytes(xpc_dictionary_get_value(d, k));
}
int xpc_dictionary_dup_fd(xpc_object_t d, const char* k) { return xpc_fd_dup(xpc_dictionary_get_value(d, k)); }
xpc_object_t xpc_dictionary_get_array(xpc_object_t d, const char* k) {
  xpc_object_t v = xpc_dictionary_get_value(d, k);
  return v != nullptr && node_of(v)->type == Type::Array ? v : nullptr;
}
xpc_object_t xpc_dictionary_get_dictionary(xpc_object_t d, const char* k) {
  xpc_object_t v = xpc_dictionary_get_value(d, k);
  return v != nullptr && node_of(v)->type == Type::Dictionary ? v : nullptr;
}

}  // extern "C"
