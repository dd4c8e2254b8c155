// A small side-by-side benchmark harness: each case runs a candidate and
// its baselines interleaved in the same process, so all see the same
// machine state, and reports medians and the ratio. SideBySide times
// batches (operations too short to time one by one); PerOperation times
// each operation (medians and p99 of single operations). Not a test: the
// figures move between runs; the ratios within one run are what to read.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace xpc::bench {

struct Sample {
  double median_ns;
  double p99_ns;
};

class SideBySide {
 public:
  SideBySide(int batches, int per_batch) : batches_(batches), per_batch_(per_batch) {}

  // Runs `op` per_batch times per batch; returns ns per op for each batch.
  void run(const std::string& name, const std::function<void()>& candidate, const std::string& baseline_name,
           const std::function<void()>& baseline) {
    std::vector<double> c, b;
    for (int i = 0; i < per_batch_; ++i) { candidate(); baseline(); }  // warm up
    for (int batch = 0; batch < batches_; ++batch) {
      c.push_back(time_batch(candidate));
      b.push_back(time_batch(baseline));
    }
    Sample sc = summarise(c), sb = summarise(b);
    std::printf("%-44s %12.0f ops/s  median %9.2f us  p99(batch) %9.2f us\n", name.c_str(), 1e9 / sc.median_ns,
                sc.median_ns / 1e3, sc.p99_ns / 1e3);
    std::printf("  %-42s %12.0f ops/s  median %9.2f us  p99(batch) %9.2f us\n", ("baseline: " + baseline_name).c_str(),
                1e9 / sb.median_ns, sb.median_ns / 1e3, sb.p99_ns / 1e3);
    std::printf("  ratio (xpc / baseline, time per op): %.2fx\n\n", sc.median_ns / sb.median_ns);
  }

 private:
  double time_batch(const std::function<void()>& op) const {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < per_batch_; ++i) op();
    auto end = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(end - start).count() / per_batch_;
  }

  static Sample summarise(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
    return {at(0.5), at(0.99)};
  }

  int batches_;
  int per_batch_;
};

// Per-operation timing, for operations long enough (microseconds and up)
// that a clock read around each one costs little: each side's op times
// itself (so untimed setup and teardown stay outside) and returns ns. The
// sides take turns one operation at a time, the order rotating each round,
// so none always runs right after another's teardown. Reports the median
// and p99 of single operations, and the ratios candidate / baseline.
class PerOperation {
 public:
  struct Side {
    std::string name;
    std::function<double()> op;  // runs one operation; returns its own ns
  };

  PerOperation(int warmup, int iterations) : warmup_(warmup), iterations_(iterations) {}

  static double ns_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  }

  void run(const std::string& title, const std::vector<Side>& sides) const {
    std::vector<std::vector<double>> samples(sides.size());
    for (int round = 0; round < warmup_ + iterations_; ++round) {
      for (std::size_t k = 0; k < sides.size(); ++k) {
        std::size_t i = (k + static_cast<std::size_t>(round)) % sides.size();
        double ns = sides[i].op();
        if (round >= warmup_) samples[i].push_back(ns);
      }
    }
    std::printf("%s  (%d ops per side, one at a time, interleaved)\n", title.c_str(), iterations_);
    std::vector<Sample> s;
    for (auto& v : samples) s.push_back(summarise(std::move(v)));
    for (std::size_t i = 0; i < sides.size(); ++i) {
      std::printf("  %-52s median %9.2f us  p99 %9.2f us", sides[i].name.c_str(), s[i].median_ns / 1e3,
                  s[i].p99_ns / 1e3);
      if (i > 0) std::printf("  ratio %.2fx (p99 %.2fx)", s[0].median_ns / s[i].median_ns, s[0].p99_ns / s[i].p99_ns);
      std::printf("\n");
    }
    std::printf("\n");
    std::fflush(stdout);
  }

 private:
  static Sample summarise(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
    return {at(0.5), at(0.99)};
  }

  int warmup_;
  int iterations_;
};

}  // namespace xpc::bench
