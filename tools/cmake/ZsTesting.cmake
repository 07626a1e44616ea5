# Test registration helpers. Every test is a CMocka executable registered with CTest and labelled,
# so `ctest -L unit` / `ctest -L conformance` select groups.
#
# zs_add_tests_from_dir(<prefix> <dir> LIBS <libs...>)
#   every <dir>/test_*.c  -> test "<prefix>.<name>"  label unit
#   every <dir>/conf_*.c  -> test "<prefix>.<name>"  label conformance
# Tests run with the source tree root as working directory and ZS_SOURCE_DIR / ZS_BINARY_DIR set.
function(zs_add_test name source label)
  cmake_parse_arguments(T "" "TIMEOUT" "LIBS" ${ARGN})
  string(REPLACE "." "_" target "t_${name}")
  add_executable(${target} ${source})
  target_link_libraries(${target} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  target_compile_definitions(${target} PRIVATE
    ZS_SOURCE_DIR="${PROJECT_SOURCE_DIR}" ZS_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${target} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${label}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "ZS_SOURCE_DIR=${PROJECT_SOURCE_DIR};ZS_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()

function(zs_add_tests_from_dir prefix dir)
  cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
  file(GLOB unit_sources CONFIGURE_DEPENDS ${dir}/test_*.c)
  file(GLOB conf_sources CONFIGURE_DEPENDS ${dir}/conf_*.c)
  foreach(src IN LISTS unit_sources)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "^test_" "" stem ${stem})
    zs_add_test(${prefix}.${stem} ${src} unit LIBS ${T_LIBS})
  endforeach()
  foreach(src IN LISTS conf_sources)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "^conf_" "" stem ${stem})
    zs_add_test(${prefix}.${stem} ${src} conformance LIBS ${T_LIBS} TIMEOUT 900)
  endforeach()
endfunction()

# CLI behaviour tests: run a command and check its exit status and that its output matches a regex.
# zs_add_cli_test(<name> STATUS <zero|nonzero> REGEX <extended regex> COMMAND <cmd...>)
function(zs_add_cli_test name)
  cmake_parse_arguments(T "" "STATUS;REGEX" "COMMAND" ${ARGN})
  add_test(NAME ${name}
    COMMAND sh ${PROJECT_SOURCE_DIR}/tools/tests/expect_cli.sh ${T_STATUS} "${T_REGEX}" ${T_COMMAND}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS "unit;cli" TIMEOUT 300)
endfunction()
