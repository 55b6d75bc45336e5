# matrix.* tests: the statistics, and the matrix + report + compare end to end
# on real mhbench runs (so only where the driver target exists).
set(MH_MATRIX_TESTS ${CMAKE_CURRENT_LIST_DIR})

add_executable(test_matrix_stats ${MH_MATRIX_TESTS}/test_stats.c ${MH_REPORT_DIR}/report_stats.c)
target_include_directories(test_matrix_stats PRIVATE ${MH_REPORT_DIR})
target_link_libraries(test_matrix_stats PRIVATE mhjson m)
add_test(NAME matrix.stats COMMAND test_matrix_stats)

if(TARGET mhbench)
  add_library(mh_matrix_crash SHARED ${MH_MATRIX_TESTS}/crash.c)
  add_library(mh_matrix_crash_at_exit SHARED ${MH_MATRIX_TESTS}/crash.c)
  target_compile_definitions(mh_matrix_crash_at_exit PRIVATE CRASH_AT_EXIT)
  set(MH_MATRIX_ENV
    MH_MHBENCH=$<TARGET_FILE:mhbench>
    MH_MHREPORT=$<TARGET_FILE:mhreport>
    MH_BUILD_DIR=${CMAKE_BINARY_DIR}
    MH_TEST_WORK=${CMAKE_CURRENT_BINARY_DIR}/matrix-tests
    MH_CRASH_LIB=$<TARGET_FILE:mh_matrix_crash>
    MH_CRASH_AT_EXIT_LIB=$<TARGET_FILE:mh_matrix_crash_at_exit>)
  foreach(t tiny report resume failing compare bad_input shard bundle soak)
    set(name matrix.${t})
    if(t STREQUAL "failing")
      set(name matrix.failing_cell)
    endif()
    add_test(NAME ${name} COMMAND bash ${MH_MATRIX_TESTS}/${t}.sh)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${MH_MATRIX_ENV}" TIMEOUT 120)
  endforeach()
  if(TARGET mhmicro_convert AND TARGET mhmicro)
    add_test(NAME matrix.micro_report COMMAND bash ${MH_MATRIX_TESTS}/micro_report.sh)
    set_tests_properties(matrix.micro_report PROPERTIES TIMEOUT 60
      ENVIRONMENT "${MH_MATRIX_ENV};MH_MICRO_CONVERT=$<TARGET_FILE:mhmicro_convert>")
  endif()
  # tiny.sh makes the result set the report, compare and bad-input tests read
  set_tests_properties(matrix.tiny PROPERTIES FIXTURES_SETUP matrix_tiny)
  set_tests_properties(matrix.report matrix.compare matrix.bad_input PROPERTIES FIXTURES_REQUIRED matrix_tiny)
  # runs one after another: they time real runs on a shared machine
  set_tests_properties(matrix.tiny matrix.resume matrix.failing_cell matrix.shard matrix.bundle
    PROPERTIES RESOURCE_LOCK matrix_runs)
  # issue 6's report sections from a synthetic result set, and variant specs in configs
  add_test(NAME matrix.targets_report COMMAND bash ${MH_MATRIX_TESTS}/targets_report.sh)
  set_tests_properties(matrix.targets_report PROPERTIES ENVIRONMENT "${MH_MATRIX_ENV}" TIMEOUT 60)
endif()
