/* <xpc/xpc.h>: libxpc's C API, with Apple's names, types and reference
 * counting, so object-handling code written for macOS compiles unchanged.
 *
 * Objects are reference counted: a function whose name has `create` or
 * `copy` returns an object the caller owns and must xpc_release; `get`
 * functions return borrowed objects owned by their container. Collections
 * are mutable and shared by reference, as in libxpc. The C++ API is in
 * <xpc/object.hpp>; both work on the same objects.
 *
 * Where Apple's API takes a block, this one takes a function pointer and a
 * context (the `_f` variants); GCC has no blocks.
 *
 * Connections are in <xpc/connection.h>, included here. */
#ifndef XPC_XPC_H
#define XPC_XPC_H

#include <xpc/export.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void* xpc_object_t;
typedef const struct _xpc_type_s* xpc_type_t;

/* --- types ----------------------------------------------------------------- */

#define XPC_DECLARE_TYPE(name) XPC_EXPORT extern const struct _xpc_type_s _xpc_type_##name
XPC_DECLARE_TYPE(null);
XPC_DECLARE_TYPE(bool);
XPC_DECLARE_TYPE(int64);
XPC_DECLARE_TYPE(uint64);
XPC_DECLARE_TYPE(double);
XPC_DECLARE_TYPE(date);
XPC_DECLARE_TYPE(data);
XPC_DECLARE_TYPE(string);
XPC_DECLARE_TYPE(uuid);
XPC_DECLARE_TYPE(array);
XPC_DECLARE_TYPE(dictionary);
XPC_DECLARE_TYPE(fd);
XPC_DECLARE_TYPE(shmem);
XPC_DECLARE_TYPE(endpoint);
XPC_DECLARE_TYPE(error);
XPC_DECLARE_TYPE(connection);
#undef XPC_DECLARE_TYPE

#define XPC_TYPE_NULL (&_xpc_type_null)
#define XPC_TYPE_BOOL (&_xpc_type_bool)
#define XPC_TYPE_INT64 (&_xpc_type_int64)
#define XPC_TYPE_UINT64 (&_xpc_type_uint64)
#define XPC_TYPE_DOUBLE (&_xpc_type_double)
#define XPC_TYPE_DATE (&_xpc_type_date)
#define XPC_TYPE_DATA (&_xpc_type_data)
#define XPC_TYPE_STRING (&_xpc_type_string)
#define XPC_TYPE_UUID (&_xpc_type_uuid)
#define XPC_TYPE_ARRAY (&_xpc_type_array)
#define XPC_TYPE_DICTIONARY (&_xpc_type_dictionary)
#define XPC_TYPE_FD (&_xpc_type_fd)
#define XPC_TYPE_SHMEM (&_xpc_type_shmem)
#define XPC_TYPE_ENDPOINT (&_xpc_type_endpoint)
#define XPC_TYPE_ERROR (&_xpc_type_error)
#define XPC_TYPE_CONNECTION (&_xpc_type_connection)

/* --- well-known objects ------------------------------------------------------ */

struct _xpc_bool_s;
XPC_EXPORT extern struct _xpc_bool_s _xpc_bool_true;
XPC_EXPORT extern struct _xpc_bool_s _xpc_bool_false;
#define XPC_BOOL_TRUE ((xpc_object_t)&_xpc_bool_true)
#define XPC_BOOL_FALSE ((xpc_object_t)&_xpc_bool_false)

struct _xpc_error_s;
XPC_EXPORT extern struct _xpc_error_s _xpc_error_connection_interrupted;
XPC_EXPORT extern struct _xpc_error_s _xpc_error_connection_invalid;
XPC_EXPORT extern struct _xpc_error_s _xpc_error_termination_imminent;
#define XPC_ERROR_CONNECTION_INTERRUPTED ((xpc_object_t)&_xpc_error_connection_interrupted)
#define XPC_ERROR_CONNECTION_INVALID ((xpc_object_t)&_xpc_error_connection_invalid)
#define XPC_ERROR_TERMINATION_IMMINENT ((xpc_object_t)&_xpc_error_termination_imminent)

#define XPC_ERROR_KEY_DESCRIPTION "XPCErrorDescription"
#define XPC_EVENT_KEY_NAME "XPCEventName"
#define XPC_ARRAY_APPEND ((size_t)(-1))

/* --- every object ------------------------------------------------------------- */

XPC_EXPORT xpc_object_t xpc_retain(xpc_object_t object);
XPC_EXPORT void xpc_release(xpc_object_t object);
XPC_EXPORT xpc_type_t xpc_get_type(xpc_object_t object);
XPC_EXPORT const char* xpc_type_get_name(xpc_type_t type);
/* A deep copy (fds duplicated). */
XPC_EXPORT xpc_object_t xpc_copy(xpc_object_t object);
XPC_EXPORT bool xpc_equal(xpc_object_t object1, xpc_object_t object2);
XPC_EXPORT size_t xpc_hash(xpc_object_t object);
/* A malloc'd string the caller frees with free(). */
XPC_EXPORT char* xpc_copy_description(xpc_object_t object);

/* --- scalars --------------------------------------------------------------------- */

XPC_EXPORT xpc_object_t xpc_null_create(void);
XPC_EXPORT xpc_object_t xpc_bool_create(bool value);
XPC_EXPORT bool xpc_bool_get_value(xpc_object_t xbool);
XPC_EXPORT xpc_object_t xpc_int64_create(int64_t value);
XPC_EXPORT int64_t xpc_int64_get_value(xpc_object_t xint);
XPC_EXPORT xpc_object_t xpc_uint64_create(uint64_t value);
XPC_EXPORT uint64_t xpc_uint64_get_value(xpc_object_t xuint);
XPC_EXPORT xpc_object_t xpc_double_create(double value);
XPC_EXPORT double xpc_double_get_value(xpc_object_t xdouble);
/* Dates are nanoseconds since the Unix epoch. */
XPC_EXPORT xpc_object_t xpc_date_create(int64_t interval);
XPC_EXPORT xpc_object_t xpc_date_create_from_current(void);
XPC_EXPORT int64_t xpc_date_get_value(xpc_object_t xdate);
XPC_EXPORT xpc_object_t xpc_data_create(const void* bytes, size_t length);
XPC_EXPORT size_t xpc_data_get_length(xpc_object_t xdata);
XPC_EXPORT const void* xpc_data_get_bytes_ptr(xpc_object_t xdata);
XPC_EXPORT size_t xpc_data_get_bytes(xpc_object_t xdata, void* buffer, size_t offset, size_t length);
XPC_EXPORT xpc_object_t xpc_string_create(const char* string);
XPC_EXPORT xpc_object_t xpc_string_create_with_format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
XPC_EXPORT xpc_object_t xpc_string_create_with_format_and_arguments(const char* fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
XPC_EXPORT size_t xpc_string_get_length(xpc_object_t xstring);
XPC_EXPORT const char* xpc_string_get_string_ptr(xpc_object_t xstring);
/* uuid is 16 bytes (a uuid_t). */
XPC_EXPORT xpc_object_t xpc_uuid_create(const unsigned char* uuid);
XPC_EXPORT const uint8_t* xpc_uuid_get_bytes(xpc_object_t xuuid);

/* --- file descriptors and shared memory -------------------------------------------- */

/* Duplicates fd (CLOEXEC); the caller keeps its own. NULL on failure. */
XPC_EXPORT xpc_object_t xpc_fd_create(int fd);
/* A new CLOEXEC duplicate the caller owns, or -1. */
XPC_EXPORT int xpc_fd_dup(xpc_object_t xfd);
/* Copies the region into a new memfd: on Linux an anonymous mapping cannot
 * be shared after the fact. Every mapping made from the object (by any
 * process it is sent to) shares that memfd. NULL on failure. */
XPC_EXPORT xpc_object_t xpc_shmem_create(void* region, size_t length);
/* Maps the region shared and read-write; the caller munmaps it. Returns the
 * mapped length, 0 on failure. */
XPC_EXPORT size_t xpc_shmem_map(xpc_object_t xshmem, void** region);

/* --- arrays ----------------------------------------------------------------------------- */

typedef bool (*xpc_array_applier_f)(void* context, size_t index, xpc_object_t value);

XPC_EXPORT xpc_object_t xpc_array_create(const xpc_object_t* objects, size_t count);
XPC_EXPORT xpc_object_t xpc_array_create_empty(void);
/* Replaces the value at index, or appends with XPC_ARRAY_APPEND. Aborts when
 * index is past the end, as libxpc does. */
XPC_EXPORT void xpc_array_set_value(xpc_object_t xarray, size_t index, xpc_object_t value);
XPC_EXPORT void xpc_array_append_value(xpc_object_t xarray, xpc_object_t value);
XPC_EXPORT size_t xpc_array_get_count(xpc_object_t xarray);
/* NULL when index is out of range. */
XPC_EXPORT xpc_object_t xpc_array_get_value(xpc_object_t xarray, size_t index);
/* Calls applier for each element in order until it returns false; returns
 * whether every call returned true. */
XPC_EXPORT bool xpc_array_apply_f(xpc_object_t xarray, void* context, xpc_array_applier_f applier);

XPC_EXPORT void xpc_array_set_bool(xpc_object_t xarray, size_t index, bool value);
XPC_EXPORT void xpc_array_set_int64(xpc_object_t xarray, size_t index, int64_t value);
XPC_EXPORT void xpc_array_set_uint64(xpc_object_t xarray, size_t index, uint64_t value);
XPC_EXPORT void xpc_array_set_double(xpc_object_t xarray, size_t index, double value);
XPC_EXPORT void xpc_array_set_date(xpc_object_t xarray, size_t index, int64_t value);
XPC_EXPORT void xpc_array_set_data(xpc_object_t xarray, size_t index, const void* bytes, size_t length);
XPC_EXPORT void xpc_array_set_string(xpc_object_t xarray, size_t index, const char* string);
XPC_EXPORT void xpc_array_set_uuid(xpc_object_t xarray, size_t index, const unsigned char* uuid);
XPC_EXPORT void xpc_array_set_fd(xpc_object_t xarray, size_t index, int fd);

XPC_EXPORT bool xpc_array_get_bool(xpc_object_t xarray, size_t index);
XPC_EXPORT int64_t xpc_array_get_int64(xpc_object_t xarray, size_t index);
XPC_EXPORT uint64_t xpc_array_get_uint64(xpc_object_t xarray, size_t index);
XPC_EXPORT double xpc_array_get_double(xpc_object_t xarray, size_t index);
XPC_EXPORT int64_t xpc_array_get_date(xpc_object_t xarray, size_t index);
XPC_EXPORT const void* xpc_array_get_data(xpc_object_t xarray, size_t index, size_t* length);
XPC_EXPORT const char* xpc_array_get_string(xpc_object_t xarray, size_t index);
XPC_EXPORT const uint8_t* xpc_array_get_uuid(xpc_object_t xarray, size_t index);
XPC_EXPORT int xpc_array_dup_fd(xpc_object_t xarray, size_t index);
XPC_EXPORT xpc_object_t xpc_array_get_array(xpc_object_t xarray, size_t index);
XPC_EXPORT xpc_object_t xpc_array_get_dictionary(xpc_object_t xarray, size_t index);

/* --- dictionaries (and, for reading, errors) ------------------------------------------------- */

typedef bool (*xpc_dictionary_applier_f)(void* context, const char* key, xpc_object_t value);

XPC_EXPORT xpc_object_t xpc_dictionary_create(const char* const* keys, const xpc_object_t* values, size_t count);
XPC_EXPORT xpc_object_t xpc_dictionary_create_empty(void);
/* Stores value under key (retaining it); a NULL value removes the key. */
XPC_EXPORT void xpc_dictionary_set_value(xpc_object_t xdict, const char* key, xpc_object_t value);
XPC_EXPORT xpc_object_t xpc_dictionary_get_value(xpc_object_t xdict, const char* key);
XPC_EXPORT size_t xpc_dictionary_get_count(xpc_object_t xdict);
/* Calls applier for each entry (in key order) until it returns false. */
XPC_EXPORT bool xpc_dictionary_apply_f(xpc_object_t xdict, void* context, xpc_dictionary_applier_f applier);

XPC_EXPORT void xpc_dictionary_set_bool(xpc_object_t xdict, const char* key, bool value);
XPC_EXPORT void xpc_dictionary_set_int64(xpc_object_t xdict, const char* key, int64_t value);
XPC_EXPORT void xpc_dictionary_set_uint64(xpc_object_t xdict, const char* key, uint64_t value);
XPC_EXPORT void xpc_dictionary_set_double(xpc_object_t xdict, const char* key, double value);
XPC_EXPORT void xpc_dictionary_set_date(xpc_object_t xdict, const char* key, int64_t value);
XPC_EXPORT void xpc_dictionary_set_data(xpc_object_t xdict, const char* key, const void* bytes, size_t length);
XPC_EXPORT void xpc_dictionary_set_string(xpc_object_t xdict, const char* key, const char* string);
XPC_EXPORT void xpc_dictionary_set_uuid(xpc_object_t xdict, const char* key, const unsigned char* uuid);
XPC_EXPORT void xpc_dictionary_set_fd(xpc_object_t xdict, const char* key, int fd);

XPC_EXPORT bool xpc_dictionary_get_bool(xpc_object_t xdict, const char* key);
XPC_EXPORT int64_t xpc_dictionary_get_int64(xpc_object_t xdict, const char* key);
XPC_EXPORT uint64_t xpc_dictionary_get_uint64(xpc_object_t xdict, const char* key);
XPC_EXPORT double xpc_dictionary_get_double(xpc_object_t xdict, const char* key);
XPC_EXPORT int64_t xpc_dictionary_get_date(xpc_object_t xdict, const char* key);
XPC_EXPORT const void* xpc_dictionary_get_data(xpc_object_t xdict, const char* key, size_t* length);
XPC_EXPORT const char* xpc_dictionary_get_string(xpc_object_t xdict, const char* key);
XPC_EXPORT const uint8_t* xpc_dictionary_get_uuid(xpc_object_t xdict, const char* key);
XPC_EXPORT int xpc_dictionary_dup_fd(xpc_object_t xdict, const char* key);
XPC_EXPORT xpc_object_t xpc_dictionary_get_array(xpc_object_t xdict, const char* key);
XPC_EXPORT xpc_object_t xpc_dictionary_get_dictionary(xpc_object_t xdict, const char* key);

#ifdef __cplusplus
}
#endif

#include <xpc/connection.h>

#endif /* XPC_XPC_H */
