/* The C API compiled as C11: object-handling code as it is written for
 * macOS (names, types, reference counting), checked value by value.
 * Exits non-zero with the failing line on the first wrong answer. */
#include <xpc/xpc.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      failures++;                                                 \
    }                                                             \
  } while (0)

static bool count_entries(void* context, const char* key, xpc_object_t value) {
  (void)key;
  (void)value;
  ++*(int*)context;
  return true;
}

static bool sum_until_negative(void* context, size_t index, xpc_object_t value) {
  (void)index;
  int64_t v = xpc_int64_get_value(value);
  if (v < 0) return false;
  *(int64_t*)context += v;
  return true;
}

static void test_dictionary(void) {
  xpc_object_t message = xpc_dictionary_create(NULL, NULL, 0);
  xpc_dictionary_set_string(message, "op", "echo");
  xpc_dictionary_set_int64(message, "count", -3);
  xpc_dictionary_set_uint64(message, "big", 18446744073709551615ULL);
  xpc_dictionary_set_bool(message, "flag", true);
  xpc_dictionary_set_double(message, "ratio", 0.5);
  xpc_dictionary_set_date(message, "when", 123456789);
  xpc_dictionary_set_data(message, "blob", "\x00\x01\x02", 3);
  unsigned char uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  xpc_dictionary_set_uuid(message, "id", uuid);

  CHECK(xpc_get_type(message) == XPC_TYPE_DICTIONARY);
  CHECK(strcmp(xpc_type_get_name(xpc_get_type(message)), "dictionary") == 0);
  CHECK(xpc_dictionary_get_count(message) == 8);
  CHECK(strcmp(xpc_dictionary_get_string(message, "op"), "echo") == 0);
  CHECK(xpc_dictionary_get_int64(message, "count") == -3);
  CHECK(xpc_dictionary_get_uint64(message, "big") == 18446744073709551615ULL);
  CHECK(xpc_dictionary_get_bool(message, "flag"));
  CHECK(xpc_dictionary_get_double(message, "ratio") == 0.5);
  CHECK(xpc_dictionary_get_date(message, "when") == 123456789);
  size_t length = 0;
  const void* blob = xpc_dictionary_get_data(message, "blob", &length);
  CHECK(length == 3 && memcmp(blob, "\x00\x01\x02", 3) == 0);
  CHECK(memcmp(xpc_dictionary_get_uuid(message, "id"), uuid, 16) == 0);

  /* Wrong types and missing keys give zero values, as in libxpc. */
  CHECK(xpc_dictionary_get_string(message, "count") == NULL);
  CHECK(xpc_dictionary_get_int64(message, "missing") == 0);
  CHECK(isnan(xpc_dictionary_get_double(message, "op")));
  CHECK(xpc_dictionary_get_value(message, "missing") == NULL);
  CHECK(xpc_dictionary_get_array(message, "op") == NULL);

  int entries = 0;
  CHECK(xpc_dictionary_apply_f(message, &entries, count_entries));
  CHECK(entries == 8);

  xpc_dictionary_set_value(message, "op", NULL); /* NULL removes */
  CHECK(xpc_dictionary_get_count(message) == 7);

  /* get returns a borrowed child; mutating it mutates the parent's. */
  xpc_object_t inner = xpc_dictionary_create_empty();
  xpc_dictionary_set_value(message, "inner", inner);
  xpc_release(inner);
  xpc_dictionary_set_int64(xpc_dictionary_get_dictionary(message, "inner"), "depth", 2);
  CHECK(xpc_dictionary_get_int64(xpc_dictionary_get_value(message, "inner"), "depth") == 2);

  xpc_object_t copy = xpc_copy(message);
  CHECK(xpc_equal(copy, message));
  CHECK(xpc_hash(copy) == xpc_hash(message));
  xpc_dictionary_set_int64(copy, "count", 4);
  CHECK(!xpc_equal(copy, message));
  xpc_release(copy);

  char* text = xpc_copy_description(message);
  CHECK(strstr(text, "\"count\" => <int64>: -3") != NULL);
  free(text);

  const char* keys[] = {"a", "b"};
  xpc_object_t values[] = {xpc_int64_create(1), xpc_string_create("two")};
  xpc_object_t made = xpc_dictionary_create(keys, values, 2);
  xpc_release(values[0]);
  xpc_release(values[1]);
  CHECK(xpc_dictionary_get_int64(made, "a") == 1);
  CHECK(strcmp(xpc_dictionary_get_string(made, "b"), "two") == 0);
  xpc_release(made);

  xpc_release(message);
}

static void test_array(void) {
  xpc_object_t array = xpc_array_create_empty();
  xpc_array_set_int64(array, XPC_ARRAY_APPEND, 1);
  xpc_array_set_int64(array, XPC_ARRAY_APPEND, 2);
  xpc_array_append_value(array, XPC_BOOL_TRUE);
  xpc_array_set_string(array, XPC_ARRAY_APPEND, "s");
  xpc_array_set_int64(array, 1, 20); /* replace */
  CHECK(xpc_array_get_count(array) == 4);
  CHECK(xpc_array_get_int64(array, 1) == 20);
  CHECK(xpc_array_get_value(array, 2) == XPC_BOOL_TRUE);
  CHECK(xpc_array_get_bool(array, 2));
  CHECK(strcmp(xpc_array_get_string(array, 3), "s") == 0);
  CHECK(xpc_array_get_value(array, 99) == NULL);

  xpc_object_t numbers = xpc_array_create(NULL, 0);
  xpc_array_set_int64(numbers, XPC_ARRAY_APPEND, 5);
  xpc_array_set_int64(numbers, XPC_ARRAY_APPEND, 6);
  xpc_array_set_int64(numbers, XPC_ARRAY_APPEND, -1);
  xpc_array_set_int64(numbers, XPC_ARRAY_APPEND, 100);
  int64_t sum = 0;
  CHECK(!xpc_array_apply_f(numbers, &sum, sum_until_negative));
  CHECK(sum == 11);
  xpc_release(numbers);
  xpc_release(array);
}

static void test_scalars_and_refcounts(void) {
  xpc_object_t s = xpc_string_create_with_format("%s-%d", "job", 7);
  CHECK(strcmp(xpc_string_get_string_ptr(s), "job-7") == 0);
  CHECK(xpc_string_get_length(s) == 5);
  xpc_object_t again = xpc_retain(s);
  CHECK(again == s);
  xpc_release(again);
  CHECK(strcmp(xpc_string_get_string_ptr(s), "job-7") == 0); /* still alive */
  xpc_release(s);

  CHECK(xpc_bool_create(true) == XPC_BOOL_TRUE);
  CHECK(xpc_bool_create(false) == XPC_BOOL_FALSE);
  CHECK(xpc_get_type(xpc_null_create()) == XPC_TYPE_NULL);
  xpc_release(XPC_BOOL_TRUE); /* immortal: releasing does nothing */
  CHECK(xpc_bool_get_value(XPC_BOOL_TRUE));

  CHECK(xpc_get_type(XPC_ERROR_CONNECTION_INTERRUPTED) == XPC_TYPE_ERROR);
  CHECK(strcmp(xpc_dictionary_get_string(XPC_ERROR_CONNECTION_INVALID, XPC_ERROR_KEY_DESCRIPTION),
               "Connection invalid") == 0);

  xpc_object_t date = xpc_date_create_from_current();
  CHECK(xpc_date_get_value(date) > 1600000000LL * 1000000000LL);
  xpc_release(date);

  char buffer[4] = {0};
  xpc_object_t data = xpc_data_create("abcdef", 6);
  CHECK(xpc_data_get_bytes(data, buffer, 2, 4) == 4 && memcmp(buffer, "cdef", 4) == 0);
  CHECK(xpc_data_get_bytes(data, buffer, 6, 4) == 0);
  xpc_release(data);
}

static void test_fds(void) {
  int p[2];
  CHECK(pipe(p) == 0);
  xpc_object_t fd = xpc_fd_create(p[1]);
  CHECK(xpc_get_type(fd) == XPC_TYPE_FD);
  close(p[1]);
  int dup = xpc_fd_dup(fd);
  CHECK(dup >= 0 && (fcntl(dup, F_GETFD) & FD_CLOEXEC));
  CHECK(write(dup, "z", 1) == 1);
  char c = 0;
  CHECK(read(p[0], &c, 1) == 1 && c == 'z');
  close(dup);
  close(p[0]);
  CHECK(xpc_fd_create(-1) == NULL);
  xpc_release(fd);
}

int main(void) {
  test_dictionary();
  test_array();
  test_scalars_and_refcounts();
  test_fds();
  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
