# Shared per-target settings: every library, executable and test of the project gets the same
# language level and warnings-as-errors without touching global flags.
function(harmony_target target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers)
  target_compile_definitions(${target} PRIVATE HARMONY_VERSION="${PROJECT_VERSION}")
endfunction()

function(harmony_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  harmony_target(${name})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

function(harmony_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  harmony_target(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# harmony_test(NAME LABEL unit|integration|e2e|chaos SOURCES ... DEPS ...)
function(harmony_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  harmony_target(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE HARMONY_DEFAULT_BINARY_DIR="${PROJECT_BINARY_DIR}"
                                            HARMONY_DEFAULT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "HARMONY_SOURCE_DIR=${PROJECT_SOURCE_DIR};HARMONY_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
