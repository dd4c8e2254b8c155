// The one way this project includes toml++: header-only, exceptions off, so
// parse errors come back as values carrying line and column (toml::parse_result).
// Debian's libtomlplusplus.so is built with exceptions (namespace
// toml::v3::ex) and cannot serve an exception-free build, so the package's
// pkg-config flags (TOML_HEADER_ONLY=0) are not used; the noex parser is
// compiled into xpcd_manifest. Every TU that includes toml++ must include it
// through this header so TOML_EXCEPTIONS is 0 everywhere.
#pragma once

#undef TOML_HEADER_ONLY
#undef TOML_SHARED_LIB
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
// toml++ 3.3 asserts in parse_key() a precondition that its own table-header
// parser breaks on malformed input such as `[a" = 1` (found by fuzz_toml);
// the code after the assert turns that case into a parse error, so the
// asserts are compiled out rather than aborting on user input. (Under clang
// with NDEBUG the same check becomes __builtin_assume; release builds use GCC,
// where it is a no-op.)
#define TOML_ASSERT(expr) static_assert(true)
#include <toml++/toml.h>
