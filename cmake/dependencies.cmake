# Every dependency is a Debian package; scripts/setup installs them.
find_package(PkgConfig REQUIRED)
find_package(doctest REQUIRED)
find_package(fmt REQUIRED)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(PLIST REQUIRED IMPORTED_TARGET libplist-2.0)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
find_package(Threads REQUIRED)

# Registers a doctest executable with CTest under the given label.
function(xpcd_add_test name label)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE xpcd_test_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS ${label} TIMEOUT 300)
endfunction()

# A libFuzzer target. Under the fuzz preset it is a real fuzzer; in every
# other build it is a replay driver that runs the corpus as a CTest test
# labelled fuzz-regression.
function(xpcd_add_fuzzer name source corpus_dir)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARGN})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  if(XPCD_FUZZ)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    target_link_libraries(${name} PRIVATE xpcd_fuzz_replay)
    add_test(NAME ${name}_corpus COMMAND ${name} ${corpus_dir})
    set_tests_properties(${name}_corpus PROPERTIES LABELS fuzz-regression TIMEOUT 300)
  endif()
endfunction()
