// A small side-by-side benchmark harness: each case runs a candidate and
// its baseline in alternating batches in the same process, so both see the
// same machine state, and reports medians and the ratio. Not a test: the
// figures move between runs; the ratios within one run are what to read.
#pragma once

#include <algorithm>
#include <chrono>
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

}  // namespace xpc::bench
