# The report tool mhreport (tidy CSV, statistics, plots, report.md/html,
# compare) and the matrix tests. Included from runners/CMakeLists.txt.

set(MH_REPORT_DIR ${CMAKE_CURRENT_SOURCE_DIR})

add_executable(mhreport
  ${MH_REPORT_DIR}/mhreport.c
  ${MH_REPORT_DIR}/report_stats.c
  ${MH_REPORT_DIR}/report_plots.c
  ${MH_REPORT_DIR}/report_write.c
  ${MH_REPORT_DIR}/report_targets.c
  ${MH_REPORT_DIR}/report_compare.c)
target_link_libraries(mhreport PRIVATE mhjson m)
# multiheap.h: MH_SMALL_MAX_BYTES, the small classes the pair-microbenchmark target covers
target_include_directories(mhreport PRIVATE ${CMAKE_SOURCE_DIR}/allocator/include)
target_compile_definitions(mhreport PRIVATE MH_PLOTS_DIR="${PROJECT_SOURCE_DIR}/plots")

include(${MH_REPORT_DIR}/tests/matrix/tests.cmake OPTIONAL)
