//===- ThreadPool.h - Pinned workers that split a range of workgroups -----===//
//
// The calling thread is worker 0; threads 1..N-1 are created once and, when pinning is on, each
// is bound to its own CPU from the process's affinity mask (the kernel may otherwise put two
// workers on one core). The thread that creates a pinned pool is pinned to the first of those
// CPUs while the pool lives; the pool gives it its previous affinity back when it is destroyed,
// and pools created meanwhile still see every CPU the process may use. run() splits
// [0, count) into (guided) chunks taken from a shared counter, so a slow worker does not hold the
// others back; it returns when every chunk is done. A job of one item runs on the caller alone
// (no worker is woken). Workers spin briefly between jobs, then sleep; the caller spins briefly
// for the last chunks, then sleeps on a futex until the worker finishing the job wakes it.
// run() allocates nothing.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_CPU_THREADPOOL_H
#define KILN_RT_CPU_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <pthread.h>
#include <vector>

namespace kiln::rt::cpu {

class ThreadPool {
public:
  /// A job: runs items [begin, end) on behalf of worker `worker`.
  using Fn = void (*)(void *context, uint32_t begin, uint32_t end, unsigned worker);

  /// Stack size of the worker threads: compiled dispatches keep scratch tiles (up to 2 MiB
  /// each) on the stack.
  static constexpr size_t kWorkerStackBytes = 16u << 20;

  /// `threads` = 0 means one per CPU in the affinity mask.
  explicit ThreadPool(unsigned threads = 0, bool pin = true);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned threads() const { return threads_; }
  /// CPUs the workers are pinned to (empty when unpinned); cpus()[0] is the caller's.
  const std::vector<int> &cpus() const { return cpus_; }

  /// Runs fn over [0, count) in chunks of `grain` items, or with grain 0 in guided chunks
  /// (each claim takes half of an even share of the items left: large chunks first, single
  /// items at the end); returns when all are done. Not reentrant: one run at a time per pool.
  void run(uint32_t count, uint32_t grain, Fn fn, void *context);

  /// CPUs the process may run on: the calling thread's affinity mask, or the mask it had
  /// before a live pool pinned it.
  static std::vector<int> availableCpus();

private:
  void workerLoop(unsigned index);
  /// Claims and runs chunks of job `job` (a snapshot) until none are left.
  void work(unsigned worker, uint32_t job, Fn fn, void *context, uint32_t count, uint32_t grain);

  unsigned threads_;
  std::vector<int> cpus_;
  /// Every CPU the process may use (unpinned workers get all of them).
  std::vector<int> allowed_;
  std::vector<pthread_t> workers_;
  /// The creating thread (Linux thread id) when this pool pinned it; 0 otherwise.
  int pinnedCaller_ = 0;

  // The current job, published seqlock-style: `sequence_` is odd while run() rewrites the
  // fields and even once they are valid; a worker takes a consistent snapshot or none.
  std::atomic<Fn> fn_{nullptr};
  std::atomic<void *> context_{nullptr};
  std::atomic<uint32_t> count_{0};
  std::atomic<uint32_t> grain_{0};
  alignas(64) std::atomic<uint64_t> sequence_{0};
  // (job id << 32) | next unclaimed item: a claim only succeeds for the job it was read for.
  alignas(64) std::atomic<uint64_t> next_{0};
  // Items finished in the current job; run() returns when it reaches the count, without
  // waiting for workers that never woke up. Also the futex run()'s caller sleeps on when the
  // last chunks take long (callerWaiting_ set).
  alignas(64) std::atomic<uint32_t> done_{0};
  std::atomic<bool> callerWaiting_{false};
  alignas(64) std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<unsigned> sleeping_{0};
  uint32_t jobId_ = 0;
};

} // namespace kiln::rt::cpu

#endif // KILN_RT_CPU_THREADPOOL_H
