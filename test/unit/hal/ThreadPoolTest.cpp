//===- ThreadPoolTest.cpp - Work splitting and pinning of the CPU pool ----===//
#include "kiln/rt/cpu/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <sched.h>
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

// A worker's chunk that outlasts the caller's spin: the caller sleeps on the futex and must be
// woken by the worker that finishes the job (a lost wake-up hangs here), and run() must not
// return before that chunk is done.
TEST(ThreadPool, CallerWaitsForASlowWorker) {
  ThreadPool pool(2, false);
  int slowChunks = 0;
  for (int r = 0; r < 20; ++r) {
    Counts counts(2);
    std::atomic<bool> slowDone{false};
    struct Context {
      Counts *counts;
      std::atomic<bool> *slowDone;
    } context{&counts, &slowDone};
    auto fn = [](void *ctx, uint32_t begin, uint32_t end, unsigned worker) {
      auto *c = static_cast<Context *>(ctx);
      // The caller's item leaves the worker time to wake and take the other one.
      std::this_thread::sleep_for(std::chrono::milliseconds(worker == 0 ? 2 : 5));
      if (worker != 0)
        c->slowDone->store(true);
      countItems(c->counts, begin, end, worker);
    };
    pool.run(2, 1, fn, &context);
    ASSERT_EQ(counts.hits[0].load(), 1);
    ASSERT_EQ(counts.hits[1].load(), 1);
    if (counts.workersSeen.load() & 2) {
      EXPECT_TRUE(slowDone.load()) << "run() returned before the worker's chunk was done";
      ++slowChunks;
    }
  }
  // The worker wakes while the caller sleeps in its item, so it takes one in most runs.
  EXPECT_GT(slowChunks, 0);
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

namespace {

std::vector<int> currentAffinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof(set), &set);
  std::vector<int> cpus;
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &set))
      cpus.push_back(i);
  return cpus;
}

/// The CPUs the process may use, read before any test (and any pool) runs.
const std::vector<int> kProcessCpus = currentAffinity();

/// Records the CPUs each worker may run on. Each item waits (up to 10 s) until both workers
/// have recorded theirs, so the second worker always takes part, however loaded the machine.
struct Affinities {
  std::vector<int> byWorker[2];
  std::atomic<int> seen{0};
  int timeoutSeconds = 10;
};

void recordAffinity(void *context, uint32_t, uint32_t, unsigned worker) {
  auto *a = static_cast<Affinities *>(context);
  if (worker < 2 && a->byWorker[worker].empty()) {
    a->byWorker[worker] = currentAffinity();
    a->seen.fetch_or(1 << worker);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a->timeoutSeconds);
  // Spin without yielding: a yield would let a worker stuck on this thread's CPU run.
  while (a->seen.load() != 3 && std::chrono::steady_clock::now() < deadline) {
  }
}

TEST(ThreadPool, CreatorGetsItsAffinityBack) {
  // Earlier tests created pinned pools on this thread too: it must have every CPU back.
  if (kProcessCpus.size() < 2)
    GTEST_SKIP() << "needs two CPUs";
  EXPECT_EQ(currentAffinity(), kProcessCpus);
  {
    ThreadPool pool(2, /*pin=*/true);
    EXPECT_EQ(currentAffinity(), std::vector<int>{pool.cpus()[0]});
  }
  EXPECT_EQ(currentAffinity(), kProcessCpus);
}

TEST(ThreadPool, LaterPoolsStillSeeEveryCpu) {
  // A pinned pool pins its creator; a pool created after it (or after it is gone) must still
  // spread its workers over every CPU, not stack them on the creator's one.
  const std::vector<int> &all = kProcessCpus;
  if (all.size() < 2)
    GTEST_SKIP() << "needs two CPUs";
  ThreadPool first(1, /*pin=*/true);
  EXPECT_EQ(ThreadPool::availableCpus(), all);
  ThreadPool second(2, /*pin=*/true);
  ASSERT_EQ(second.cpus().size(), 2u);
  EXPECT_NE(second.cpus()[0], second.cpus()[1]);

  Affinities a;
  second.run(2, 1, recordAffinity, &a);
  ASSERT_EQ(a.seen.load(), 3) << "both workers should have taken part";
  for (unsigned w = 0; w < 2; ++w)
    EXPECT_EQ(a.byWorker[w], std::vector<int>{second.cpus()[w]}) << "worker " << w;
}

TEST(ThreadPool, UnpinnedWorkersMayUseEveryCpu) {
  const std::vector<int> &all = kProcessCpus;
  if (all.size() < 2)
    GTEST_SKIP() << "needs two CPUs";
  ThreadPool pinned(1, /*pin=*/true); // pins this thread to one CPU
  ThreadPool pool(2, /*pin=*/false);
  Affinities a;
  pool.run(2, 1, recordAffinity, &a);
  ASSERT_EQ(a.seen.load(), 3) << "both workers should have taken part";
  EXPECT_EQ(a.byWorker[1], all);
}

TEST(ThreadPool, WorkersStartOnTheirOwnCpus) {
  // A worker inherits nothing from its creator's CPU: were it born there, a creator that never
  // blocks (here: a real-time thread spinning in the first job) would keep it from ever
  // running. Needs permission to use SCHED_FIFO; skipped without it.
  if (kProcessCpus.size() < 2)
    GTEST_SKIP() << "needs two CPUs";
  bool realtime = false;
  Affinities a;
  a.timeoutSeconds = 2;
  std::thread creator([&] {
    sched_param param{};
    param.sched_priority = 1;
    realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
    if (!realtime)
      return;
    ThreadPool pool(2, /*pin=*/true);
    pool.run(2, 1, recordAffinity, &a);
  });
  creator.join();
  if (!realtime)
    GTEST_SKIP() << "no permission for SCHED_FIFO";
  EXPECT_EQ(a.seen.load(), 3) << "the second worker never ran";
}

} // namespace
