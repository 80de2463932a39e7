//===- ThreadPool.cpp - Pinned workers that split a range of workgroups ---===//
#include "kiln/rt/cpu/ThreadPool.h"

#include <climits>
#include <linux/futex.h>
#include <memory>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace kiln::rt::cpu {
namespace {

/// Spins before a worker sleeps: long enough to cover the gap between two dispatches of a
/// forward pass, short enough not to burn a core while idle.
constexpr int kSpinIterations = 1 << 16;

/// Spins before run()'s caller, out of work, sleeps until the last chunk is done (~60 us): a
/// worker's last chunk is short unless the worker lost its core, and then the caller should
/// give its core away until woken rather than sched_yield() in a loop (which under load hands
/// it to other processes for whole time slices, hundreds of times per token).
constexpr int kFinishSpinIterations = 1 << 11;

/// Guided chunks: each claim takes 1 / (kChunksPerWorker * threads) of what is left. Finer
/// chunks (8) hold back less of a job when a worker loses its core mid-chunk, but doubled the
/// cost of an empty 48-workgroup dispatch (kiln-dispatch-bench) and did not speed up decode on a
/// loaded machine (bench/README.md, "Profiling").
constexpr uint32_t kChunksPerWorker = 2;

long futex(std::atomic<uint32_t> *word, int op, uint32_t value) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  return syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), op | FUTEX_PRIVATE_FLAG, value,
                 nullptr, nullptr, 0);
}

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

cpu_set_t maskOf(const int *cpus, size_t count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (size_t i = 0; i < count; ++i)
    CPU_SET(cpus[i], &set);
  return set;
}

int currentThreadId() { return static_cast<int>(syscall(SYS_gettid)); }

/// The affinity a thread had before pools pinned it, kept while any pool it created lives:
/// a pool that pins its creator must neither narrow the CPUs later pools see (they would put
/// all their workers on one core) nor leave the thread pinned after it is gone.
struct CallerPin {
  unsigned pools = 0;
  cpu_set_t original;
};
thread_local CallerPin callerPin;

} // namespace

std::vector<int> ThreadPool::availableCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  bool known = true;
  if (callerPin.pools > 0)
    set = callerPin.original;
  else
    known = sched_getaffinity(0, sizeof(set), &set) == 0;
  if (known) {
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
  allowed_ = availableCpus();
  threads_ = threads ? threads : static_cast<unsigned>(allowed_.size());
  if (pin && threads_ <= allowed_.size()) {
    cpus_.assign(allowed_.begin(), allowed_.begin() + threads_);
    if (callerPin.pools++ == 0)
      sched_getaffinity(0, sizeof(callerPin.original), &callerPin.original);
    pinnedCaller_ = currentThreadId();
    cpu_set_t set = maskOf(&cpus_[0], 1);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kWorkerStackBytes);
  for (unsigned i = 1; i < threads_; ++i) {
    // Each worker is born on its own CPU (pinned) or free to use every CPU the process may
    // (unpinned). Inheriting the creator's mask instead would start it on the creator's CPU,
    // where it waits for the creator to be preempted before it can run at all: never, when
    // the creator spins at a real-time priority.
    cpu_set_t set = cpus_.empty() ? maskOf(allowed_.data(), allowed_.size())
                                  : maskOf(&cpus_[i], 1);
    pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
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
  if (!pinnedCaller_)
    return;
  if (pinnedCaller_ == currentThreadId()) {
    if (--callerPin.pools == 0)
      sched_setaffinity(0, sizeof(callerPin.original), &callerPin.original);
  } else {
    // Destroyed on another thread: give the creator every CPU the pool could use.
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : allowed_)
      CPU_SET(cpu, &set);
    sched_setaffinity(pinnedCaller_, sizeof(set), &set);
  }
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
    // Guided chunks (grain 0): a fraction of an even share of what is left, so chunks start
    // large (few claims) and end at one item (no worker finishes long after the others).
    uint32_t size =
        grain ? grain : std::max<uint32_t>(1, (count - begin) / (kChunksPerWorker * threads_));
    uint32_t end = count - begin < size ? count : begin + size;
    if (!next_.compare_exchange_weak(v, (uint64_t(job) << 32) | end, std::memory_order_acq_rel))
      continue; // v was reloaded.
    fn(context, begin, end, worker);
    // The chunk that completes the job wakes run()'s caller if it went to sleep. Both sides
    // are sequentially consistent: the caller sets callerWaiting_ before it re-reads done_.
    if (done_.fetch_add(end - begin) + (end - begin) == count && worker != 0 &&
        callerWaiting_.load())
      futex(&done_, FUTEX_WAKE, INT_MAX);
    v = next_.load(std::memory_order_acquire);
  }
}

void ThreadPool::workerLoop(unsigned index) {
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
  // Spin while the others finish their last chunks; sleep when that takes long (a worker
  // lost its core to another process) until the worker that completes the job wakes us.
  for (int spin = 0; spin < kFinishSpinIterations; ++spin) {
    if (done_.load(std::memory_order_acquire) == count)
      return;
    cpuRelax();
  }
  callerWaiting_.store(true);
  for (uint32_t seen = done_.load(); seen != count; seen = done_.load())
    futex(&done_, FUTEX_WAIT, seen); // returns at once if done_ moved past `seen`
  callerWaiting_.store(false);
}

} // namespace kiln::rt::cpu
