# The driver mhbench and the libraries it shares with the other tools.
# Included from runners/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is runners/.

set(MH_RUNNERS_DIR ${CMAKE_CURRENT_SOURCE_DIR})
set(MH_DRIVER_TESTS ${MH_RUNNERS_DIR}/tests/driver)

# ---- mhjson: JSON writer and reader, used by every tool
add_library(mhjson STATIC ${MH_RUNNERS_DIR}/json.c)
target_include_directories(mhjson PUBLIC ${MH_RUNNERS_DIR})
target_link_libraries(mhjson PRIVATE m)

add_executable(test_driver_json ${MH_DRIVER_TESTS}/test_json.c)
target_link_libraries(test_driver_json PRIVATE mhjson m)
add_test(NAME driver.json COMMAND test_driver_json)

# ---- mhpreload: allocator names -> libraries, LD_PRELOAD re-exec, verification
add_library(mhpreload STATIC ${MH_RUNNERS_DIR}/preload.c)
target_include_directories(mhpreload PUBLIC ${MH_RUNNERS_DIR}
                                      PRIVATE ${CMAKE_SOURCE_DIR}/allocator/include)   # multiheap_env.h
target_compile_definitions(mhpreload PRIVATE MH_MULTIARCH="${CMAKE_LIBRARY_ARCHITECTURE}")
# allocator/ is added before runners/, so the library target is known here when it exists.
if(TARGET multiheap)
  target_compile_definitions(mhpreload PRIVATE MH_MULTIHEAP_LIB_PATH="$<TARGET_FILE:multiheap>")
endif()
target_link_libraries(mhpreload PUBLIC ${CMAKE_DL_LIBS})

# ---- mhdriver: everything of mhbench except main(), so tests can pair it with test workloads
find_package(PkgConfig REQUIRED)
pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc)
find_package(Threads REQUIRED)

add_library(mhdriver STATIC
  ${MH_RUNNERS_DIR}/harness.c
  ${MH_RUNNERS_DIR}/placement.c
  ${MH_RUNNERS_DIR}/perf.c
  ${MH_RUNNERS_DIR}/memory.c
  ${MH_RUNNERS_DIR}/latency.c
  ${MH_RUNNERS_DIR}/env.c
  ${MH_RUNNERS_DIR}/record.c
  ${MH_RUNNERS_DIR}/allocstats.c)
target_include_directories(mhdriver PUBLIC ${MH_RUNNERS_DIR} ${CMAKE_SOURCE_DIR}/workloads
                                    PRIVATE ${CMAKE_SOURCE_DIR}/allocator/include)
target_link_libraries(mhdriver PUBLIC mhjson mhpreload PkgConfig::HWLOC Threads::Threads m)

# mhworkloads is defined in workloads/, added after runners/; CMake resolves the name at generation.
add_executable(mhbench ${MH_RUNNERS_DIR}/mhbench.c)
target_link_libraries(mhbench PRIVATE mhdriver mhworkloads)

# ---- tests: driver.*
add_executable(test_driver_latency ${MH_DRIVER_TESTS}/test_latency.c)
target_link_libraries(test_driver_latency PRIVATE mhdriver)
add_test(NAME driver.latency COMMAND test_driver_latency)

add_executable(mhbench_test ${MH_RUNNERS_DIR}/mhbench.c ${MH_DRIVER_TESTS}/test_workloads.c)
target_link_libraries(mhbench_test PRIVATE mhdriver)

# Allocators that must be refused: one without malloc, one that scribbles on live blocks;
# and one that exports multiheap's statistics API with known values.
add_library(mh_test_nomalloc SHARED ${MH_DRIVER_TESTS}/nomalloc.c)
add_library(mh_test_scribble SHARED ${MH_DRIVER_TESTS}/scribble.c)
add_library(mh_test_fakestats SHARED ${MH_DRIVER_TESTS}/fakestats.c)
target_include_directories(mh_test_fakestats PRIVATE ${CMAKE_SOURCE_DIR}/allocator/include)

add_executable(test_driver_cli ${MH_DRIVER_TESTS}/test_cli.c)
target_link_libraries(test_driver_cli PRIVATE mhdriver)
add_test(NAME driver.cli COMMAND test_driver_cli $<TARGET_FILE:mhbench_test>
                                 $<TARGET_FILE:mh_test_nomalloc> $<TARGET_FILE:mh_test_scribble>
                                 $<TARGET_FILE:mh_test_fakestats>)

# Allocator variants: the spec parser, the variables reaching the run, mh_options() checked.
add_executable(test_driver_variants ${MH_DRIVER_TESTS}/test_variants.c)
target_link_libraries(test_driver_variants PRIVATE mhdriver)
target_include_directories(test_driver_variants PRIVATE ${CMAKE_SOURCE_DIR}/allocator/include)
add_test(NAME driver.variants COMMAND test_driver_variants $<TARGET_FILE:mhbench_test>
                                      $<TARGET_FILE:mh_test_fakestats> $<TARGET_FILE:mh_test_scribble>)

# Workers are named by index and role, for perf's reports.
add_test(NAME driver.thread_names COMMAND sh ${MH_DRIVER_TESTS}/thread_names.sh $<TARGET_FILE:mhbench>)
set_tests_properties(driver.thread_names PROPERTIES TIMEOUT 60 PASS_REGULAR_EXPRESSION "workers named")

# The real workloads through the real mhbench: one short checked run, validated.
set(MH_DRIVER_REAL_OUT ${CMAKE_CURRENT_BINARY_DIR}/driver-real-workload.jsonl)
add_test(NAME driver.real_workload
  COMMAND sh -c "rm -f '${MH_DRIVER_REAL_OUT}' && '$<TARGET_FILE:mhbench>' run thread-local-churn --threads 2 --check --ops=20000 --out '${MH_DRIVER_REAL_OUT}' && '$<TARGET_FILE:mhbench>' validate '${MH_DRIVER_REAL_OUT}'")

# mh_rss_kib from two threads at once, under ThreadSanitizer (memory.c compiled in, not
# the uninstrumented mhdriver).
add_executable(test_driver_rss_race ${MH_DRIVER_TESTS}/test_rss_race.c ${MH_RUNNERS_DIR}/memory.c)
target_include_directories(test_driver_rss_race PRIVATE ${MH_RUNNERS_DIR} ${CMAKE_SOURCE_DIR}/workloads)
target_compile_options(test_driver_rss_race PRIVATE -fsanitize=thread)
target_link_options(test_driver_rss_race PRIVATE -fsanitize=thread)
target_link_libraries(test_driver_rss_race PRIVATE mhjson Threads::Threads)
add_test(NAME driver.rss_race COMMAND test_driver_rss_race)
set_tests_properties(driver.rss_race PROPERTIES
  ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1:exitcode=66" TIMEOUT 60)
