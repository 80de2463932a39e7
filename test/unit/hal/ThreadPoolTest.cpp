//===- ThreadPoolTest.cpp - Work splitting and pinning of the CPU pool ----===//
#include "kiln/rt/cpu/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <vector>

using kiln::rt::cpu::ThreadPool;

namespace {

struct Counts {
  std::vector<std::atomic<int>> hits;
  std::atomic<int> workersSeen{0};
  explicit Counts(size_t n) : hits(n) {}
};

void countItems(void *context, uint32_t begin, uint32_t end, unsigned worker) {
  auto *counts = static_cast<Counts *>(context);
  for (uint32_t i = begin; i < end; ++i)
    counts->hits[i].fetch_add(1);
  counts->workersSeen.fetch_or(1 << worker);
}

TEST(ThreadPool, EveryItemRunsExactlyOnce) {
  for (unsigned threads : {1u, 2u, 3u, 4u}) {
    ThreadPool pool(threads, /*pin=*/false);
    EXPECT_EQ(pool.threads(), threads);
    for (uint32_t count : {1u, 2u, 7u, 64u, 1000u, 4099u}) {
      for (uint32_t grain : {0u, 1u, 5u, 10000u}) {
        Counts counts(count);
        pool.run(count, grain, countItems, &counts);
        for (uint32_t i = 0; i < count; ++i)
          ASSERT_EQ(counts.hits[i].load(), 1)
              << "item " << i << " threads " << threads << " count " << count << " grain "
              << grain;
      }
    }
  }
}

TEST(ThreadPool, ZeroItemsRunsNothing) {
  ThreadPool pool(2, false);
  Counts counts(1);
  pool.run(0, 0, countItems, &counts);
  EXPECT_EQ(counts.hits[0].load(), 0);
}

TEST(ThreadPool, ManyRunsBackToBack) {
  // Exercises the spin / sleep hand-over between consecutive jobs.
  ThreadPool pool(2, false);
  Counts counts(16);
  for (int r = 0; r < 20000; ++r)
    pool.run(16, 1, countItems, &counts);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(counts.hits[i].load(), 20000);
}

TEST(ThreadPool, WorkersHelpWithLargeJobs) {
  ThreadPool pool(2, false);
  Counts counts(1 << 16);
  // Slow items give the second worker time to join in.
  auto slow = [](void *context, uint32_t begin, uint32_t end, unsigned worker) {
    volatile double x = 0;
    for (int k = 0; k < 2000; ++k)
      x = x + k;
    countItems(context, begin, end, worker);
  };
  pool.run(1 << 16, 64, slow, &counts);
  EXPECT_EQ(counts.workersSeen.load(), 3) << "both workers should have taken chunks";
}

TEST(ThreadPool, PinnedWorkersUseDistinctCpus) {
  std::vector<int> cpus = ThreadPool::availableCpus();
  ASSERT_FALSE(cpus.empty());
  ThreadPool pool(static_cast<unsigned>(cpus.size()), /*pin=*/true);
  std::set<int> distinct(pool.cpus().begin(), pool.cpus().end());
  EXPECT_EQ(pool.cpus().size(), cpus.size());
  EXPECT_EQ(distinct.size(), cpus.size());
}

TEST(ThreadPool, DefaultIsOneThreadPerCpu) {
  ThreadPool pool(0, false);
  EXPECT_EQ(pool.threads(), ThreadPool::availableCpus().size());
}

} // namespace

namespace {

/// Compiled dispatches keep scratch tiles on the stack; workers must have room for them.
void useLargeStack(void *context, uint32_t begin, uint32_t end, unsigned) {
  volatile char scratch[4 << 20];
  for (size_t i = 0; i < sizeof(scratch); i += 4096)
    scratch[i] = static_cast<char>(i);
  static_cast<std::atomic<int> *>(context)->fetch_add(static_cast<int>(end - begin));
}

TEST(ThreadPool, WorkersHaveLargeStacks) {
  ThreadPool pool(2, false);
  std::atomic<int> done{0};
  pool.run(64, 1, useLargeStack, &done);
  EXPECT_EQ(done.load(), 64);
}

} // namespace
