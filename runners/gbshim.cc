// gbshim: the C API of gbshim.h over Google Benchmark. The project's only C++.
//
// The opaque C handles are the library's own objects (gb_state is a
// benchmark::State, gb_bench a benchmark::internal::Benchmark), so no call
// allocates or copies anything beyond what Google Benchmark itself does.
#include "gbshim.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

benchmark::State &S(gb_state *st) { return *reinterpret_cast<benchmark::State *>(st); }
const benchmark::State &S(const gb_state *st) {
    return *reinterpret_cast<const benchmark::State *>(st);
}
benchmark::internal::Benchmark *B(gb_bench *b) {
    return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}
gb_bench *H(benchmark::internal::Benchmark *b) { return reinterpret_cast<gb_bench *>(b); }

static_assert(int(GB_COUNTER_RATE) == int(benchmark::Counter::kIsRate) &&
                  int(GB_COUNTER_AVG_THREADS) == int(benchmark::Counter::kAvgThreads) &&
                  int(GB_COUNTER_ITERATION_INVARIANT) ==
                      int(benchmark::Counter::kIsIterationInvariant) &&
                  int(GB_COUNTER_AVG_ITERATIONS) == int(benchmark::Counter::kAvgIterations),
              "gbshim.h counter flags must equal benchmark::Counter::Flags");

}  // namespace

extern "C" {

gb_bench *gb_register(const char *name, gb_fn *fn, void *arg) {
    return H(benchmark::RegisterBenchmark(
        name, [fn, arg](benchmark::State &st) { fn(reinterpret_cast<gb_state *>(&st), arg); }));
}

gb_bench *gb_arg(gb_bench *b, int64_t v) { return H(B(b)->Arg(v)); }

gb_bench *gb_args(gb_bench *b, const int64_t *v, size_t n) {
    for (size_t i = 0; i < n; i++) B(b)->Arg(v[i]);
    return b;
}

gb_bench *gb_args_pair(gb_bench *b, int64_t v0, int64_t v1) { return H(B(b)->Args({v0, v1})); }

gb_bench *gb_args_range(gb_bench *b, int64_t lo, int64_t hi, int mult) {
    return H(B(b)->RangeMultiplier(mult)->Range(lo, hi));
}

gb_bench *gb_arg_names(gb_bench *b, const char *comma_separated) {
    std::vector<std::string> names;
    std::string all(comma_separated);
    for (size_t start = 0, end;; start = end + 1) {
        end = all.find(',', start);
        names.push_back(all.substr(start, end - start));
        if (end == std::string::npos) break;
    }
    return H(B(b)->ArgNames(names));
}

gb_bench *gb_threads(gb_bench *b, int n) { return H(B(b)->Threads(n)); }
gb_bench *gb_thread_range(gb_bench *b, int lo, int hi) { return H(B(b)->ThreadRange(lo, hi)); }
gb_bench *gb_use_real_time(gb_bench *b) { return H(B(b)->UseRealTime()); }

bool gb_keep_running(gb_state *st) { return S(st).KeepRunning(); }
void gb_pause_timing(gb_state *st) { S(st).PauseTiming(); }
void gb_resume_timing(gb_state *st) { S(st).ResumeTiming(); }
void gb_skip_with_error(gb_state *st, const char *msg) { S(st).SkipWithError(msg); }
int64_t gb_range(const gb_state *st, size_t i) { return S(st).range(i); }
int64_t gb_iterations(const gb_state *st) { return S(st).iterations(); }
int gb_thread_index(const gb_state *st) { return S(st).thread_index(); }
int gb_thread_count(const gb_state *st) { return S(st).threads(); }
void gb_set_items_processed(gb_state *st, int64_t items) { S(st).SetItemsProcessed(items); }
void gb_set_bytes_processed(gb_state *st, int64_t bytes) { S(st).SetBytesProcessed(bytes); }
void gb_set_label(gb_state *st, const char *label) { S(st).SetLabel(label); }

void gb_counter(gb_state *st, const char *name, double value, int flags) {
    S(st).counters[name] =
        benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(flags));
}

void gb_add_context(const char *key, const char *value) { benchmark::AddCustomContext(key, value); }

int gb_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    // Initialize leaves behind what it did not recognise; ReportUnrecognizedArguments
    // would print them on stdout, where the JSON goes.
    if (argc > 1) {
        std::fprintf(stderr, "%s: unknown argument '%s'; see --help for the --benchmark_* flags\n",
                     argv[0], argv[1]);
        return 2;
    }
    size_t ran = benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return ran > 0 ? 0 : 2;     // the library has said which filter matched nothing
}

}  // extern "C"
