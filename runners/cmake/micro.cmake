# The Google Benchmark shim (gbshim), the microbenchmarks (mhmicro), the converter
# from Google Benchmark JSON to result records (mhmicro_convert), and their tests.
# Included from runners/CMakeLists.txt after driver.cmake (mhjson, mhdriver).

find_package(benchmark REQUIRED)
find_package(Threads REQUIRED)

set(MH_MICRO_DIR ${CMAKE_CURRENT_SOURCE_DIR})
set(MH_MICRO_TESTS ${MH_MICRO_DIR}/tests/micro)

# ---- gbshim: the C API over Google Benchmark (the project's only C++)
add_library(gbshim STATIC ${MH_MICRO_DIR}/gbshim.cc)
target_include_directories(gbshim PUBLIC ${MH_MICRO_DIR})
target_link_libraries(gbshim PUBLIC benchmark::benchmark Threads::Threads)
# Link-time optimisation lets gb_keep_running inline into the C loops like
# State::KeepRunning does in C++: the call would otherwise cost about 1 ns per iteration.
include(CheckIPOSupported)
check_ipo_supported(RESULT MH_MICRO_LTO LANGUAGES C CXX)
set_target_properties(gbshim PROPERTIES INTERPROCEDURAL_OPTIMIZATION ${MH_MICRO_LTO})

# ---- mhmicro: the microbenchmarks, one binary for every allocator
add_executable(mhmicro ${MH_MICRO_DIR}/micro.c)
# mhdriver: the driver's perf counters (driver.h) and preload verification
target_link_libraries(mhmicro PRIVATE gbshim mhdriver Threads::Threads)
# multiheap.h: MH_SMALL_MAX_BYTES, the small/large boundary the pair sizes straddle
target_include_directories(mhmicro PRIVATE ${CMAKE_SOURCE_DIR}/allocator/include)
set_target_properties(mhmicro PROPERTIES INTERPROCEDURAL_OPTIMIZATION ${MH_MICRO_LTO})
# The multiheap run preloads the library this tree builds.
if(TARGET multiheap)
  add_dependencies(mhmicro multiheap)
endif()

# ---- mhmicro_convert: Google Benchmark JSON -> JSONL result records
add_executable(mhmicro_convert ${MH_MICRO_DIR}/micro_convert.c)
# mhdriver: the environment (mh_env_write) and record validation (mh_record_validate)
target_link_libraries(mhmicro_convert PRIVATE mhdriver mhjson m)

# ---- tests (ctest -R '^micro\.'): all together well under 90 s on 2 cores
add_executable(test_micro_shim ${MH_MICRO_TESTS}/test_shim.c)
target_link_libraries(test_micro_shim PRIVATE gbshim mhjson)
add_test(NAME micro.shim COMMAND test_micro_shim)

add_test(NAME micro.convert_rejects
         COMMAND ${MH_MICRO_TESTS}/convert_rejects.sh $<TARGET_FILE:mhmicro_convert>
                 ${MH_MICRO_TESTS})
if(TARGET multiheap_static)
  add_executable(test_micro_boundary ${MH_MICRO_TESTS}/test_boundary.c)
  target_include_directories(test_micro_boundary PRIVATE ${CMAKE_SOURCE_DIR}/allocator/include)
  target_link_libraries(test_micro_boundary PRIVATE multiheap_static)
  add_test(NAME micro.boundary COMMAND test_micro_boundary $<TARGET_FILE:mhmicro>)
endif()

# The four Debian allocators are build requirements (./run.sh setup installs them).
set(MH_MICRO_TEST_ALLOCATORS glibc tcmalloc jemalloc mimalloc)
if(TARGET multiheap)
  list(APPEND MH_MICRO_TEST_ALLOCATORS multiheap)
endif()
add_test(NAME micro.allocators
         COMMAND ${MH_MICRO_TESTS}/allocators.sh ${MH_MICRO_DIR}/micro.sh
                 $<TARGET_FILE:mhmicro> $<TARGET_FILE:mhmicro_convert>
                 ${MH_MICRO_TEST_ALLOCATORS})
set_tests_properties(micro.allocators PROPERTIES TIMEOUT 80
  ENVIRONMENT MH_MHBENCH=$<TARGET_FILE:mhbench>)
