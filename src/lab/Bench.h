// The bench grid over a suite already in memory (the demo builds one from the
// synthetic suite; `shiftad bench` loads one from suites/).
#pragma once

#include <cstdint>

#include "config/Suite.h"
#include "shiftad/Lab.h"

namespace shiftad::lab {

/// runBench() on `suite` as given (options.suite is not read, and options.quick only
/// titles the report): options' root, variants, seeds and classes still override the
/// suite's.
BenchSummary runSuite(Suite suite, const BenchOptions& options);

/// How a sharded bench deals the grid's runs. kRotated (shard.json "dealing": 2): run k,
/// the variant k mod V of group k / V (a direction, class, seed and setting), goes to
/// shard (k mod V + k / V) mod N, so that every variant's runs, cheap frozen ones and
/// trained ones alike, spread over every shard even when V is a multiple of N. kModulo:
/// k mod N, how shard folders written before were dealt (resumed as they were).
enum class ShardDealing { kModulo, kRotated };
constexpr int kRotatedDealing = 2;

/// The 0-based shard of run k of a grid of `variants` variants dealt into `count` shards.
int shardOfRun(int64_t k, int64_t variants, int count, ShardDealing dealing = ShardDealing::kRotated);

/// A bench writes results.csv, reports, figures/ and runs/ into OUT: refuses a folder
/// that is neither new, empty, nor a bench's (it holds the user's files). A bench's
/// folder carries the marker markBenchFolder writes; one of an earlier version (no
/// marker) is taken only when it holds results.csv with a bench's header,
/// bench_config.yaml, and nothing else than a bench writes.
void checkBenchOut(const std::string& out_dir);

/// The demo's OUT (its data/ and a bench's files): checkBenchOut, or a folder holding only
/// a demo's data/ (a demo stopped before its bench), or the demo folder of a version
/// before the markers (an earlier bench's files, its bench_config.yaml's root OUT/data,
/// and data/ holding only the synthetic benchmark's domains), which is marked then.
void checkDemoOut(const std::string& out_dir);

/// The checks of `options` that need neither the suite nor the data: no variant, seed or
/// class given twice (the demo makes them before it writes its data).
void checkBenchOptions(const BenchOptions& options);

/// Mark OUT (which exists) as a bench's folder, once checkBenchOut accepted it.
void markBenchFolder(const std::string& out_dir);

}  // namespace shiftad::lab
