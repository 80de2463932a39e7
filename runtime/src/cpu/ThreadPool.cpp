//===- ThreadPool.cpp - Pinned workers that split a range of workgroups ---===//
#include "kiln/rt/cpu/ThreadPool.h"

#include <memory>
#include <pthread.h>
#include <sched.h>
#include <thread>
#include <utility>

namespace kiln::rt::cpu {
namespace {

/// Spins before a worker sleeps: long enough to cover the gap between two dispatches of a
/// forward pass, short enough not to burn a core while idle.
constexpr int kSpinIterations = 1 << 16;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void pinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

} // namespace

std::vector<int> ThreadPool::availableCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set))
        cpus.push_back(i);
  }
  if (cpus.empty())
    for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
      cpus.push_back(static_cast<int>(i));
  return cpus;
}

ThreadPool::ThreadPool(unsigned threads, bool pin) {
  std::vector<int> cpus = availableCpus();
  threads_ = threads ? threads : static_cast<unsigned>(cpus.size());
  if (pin && threads_ <= cpus.size()) {
    cpus_.assign(cpus.begin(), cpus.begin() + threads_);
    pinTo(cpus_[0]);
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kWorkerStackBytes);
  for (unsigned i = 1; i < threads_; ++i) {
    auto *start = new std::pair<ThreadPool *, unsigned>(this, i);
    pthread_t thread;
    if (pthread_create(
            &thread, &attr,
            [](void *arg) -> void * {
              std::unique_ptr<std::pair<ThreadPool *, unsigned>> p(
                  static_cast<std::pair<ThreadPool *, unsigned> *>(arg));
              p->first->workerLoop(p->second);
              return nullptr;
            },
            start) != 0) {
      // Fewer workers than asked: the pool still computes everything with the ones it has.
      delete start;
      threads_ = i;
      break;
    }
    workers_.push_back(thread);
  }
  pthread_attr_destroy(&attr);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (pthread_t t : workers_)
    pthread_join(t, nullptr);
}

void ThreadPool::work(unsigned worker, uint32_t job, Fn fn, void *context, uint32_t count,
                      uint32_t grain) {
  uint64_t v = next_.load(std::memory_order_acquire);
  for (;;) {
    if (uint32_t(v >> 32) != job)
      return; // A newer job: this snapshot is stale.
    uint32_t begin = uint32_t(v);
    if (begin >= count)
      return;
    uint32_t end = count - begin < grain ? count : begin + grain;
    if (!next_.compare_exchange_weak(v, (uint64_t(job) << 32) | end, std::memory_order_acq_rel))
      continue; // v was reloaded.
    fn(context, begin, end, worker);
    done_.fetch_add(end - begin, std::memory_order_acq_rel);
    v = next_.load(std::memory_order_acquire);
  }
}

void ThreadPool::workerLoop(unsigned index) {
  if (!cpus_.empty())
    pinTo(cpus_[index]);
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      cpuRelax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleeping_.fetch_sub(1);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load())
      return;
    // Snapshot the job; retry if run() is publishing a newer one meanwhile.
    uint64_t seq = sequence_.load(std::memory_order_acquire);
    if (seq & 1)
      continue;
    Fn fn = fn_.load(std::memory_order_relaxed);
    void *context = context_.load(std::memory_order_relaxed);
    uint32_t count = count_.load(std::memory_order_relaxed);
    uint32_t grain = grain_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (sequence_.load(std::memory_order_relaxed) != seq || !fn)
      continue;
    work(index, uint32_t(seq >> 1), fn, context, count, grain);
  }
}

void ThreadPool::run(uint32_t count, uint32_t grain, Fn fn, void *context) {
  if (count == 0)
    return;
  if (threads_ == 1 || count == 1) {
    fn(context, 0, count, 0);
    return;
  }
  // Default grain: about four chunks per thread, for balance without much contention.
  grain = grain ? grain : std::max<uint32_t>(1, count / (threads_ * 4));
  uint64_t seq = sequence_.load(std::memory_order_relaxed);
  sequence_.store(seq + 1, std::memory_order_relaxed); // odd: publishing
  std::atomic_thread_fence(std::memory_order_release);
  uint32_t job = uint32_t((seq + 2) >> 1);
  fn_.store(fn, std::memory_order_relaxed);
  context_.store(context, std::memory_order_relaxed);
  count_.store(count, std::memory_order_relaxed);
  grain_.store(grain, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  next_.store(uint64_t(job) << 32, std::memory_order_relaxed);
  sequence_.store(seq + 2, std::memory_order_release); // even: published
  generation_.fetch_add(1);
  if (sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  work(0, job, fn, context, count, grain);
  // Spin while the others finish their last chunks; yield when that takes long (another
  // process may have the core a worker needs).
  for (int spin = 0; done_.load(std::memory_order_acquire) != count; ++spin) {
    if (spin < kSpinIterations)
      cpuRelax();
    else
      sched_yield();
  }
}

} // namespace kiln::rt::cpu
