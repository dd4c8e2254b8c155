// libFuzzer target: any bytes through the TOML decoder, the validator and
// the JobSpec builder must give a JobSpec or diagnostics, never a crash,
// a hang or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "manifest/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace m = xpcd::manifest;
  static const auto schemas = m::load_builtin_schemas();  // immutable after first use
  if (!schemas) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  m::SourceInfo src{"fuzz.toml", "/fuzz", false};
  m::LoadedManifest lm = m::load_manifest_bytes(bytes, m::Format::toml, src, schemas.value());
  for (const m::Diagnostic& d : lm.diagnostics) (void)m::format(d).size();
  return 0;
}
