//===- TemporaryPool.h - Blocks for the temporaries of compiled code -------===//
//
// An entry point compiled whole (kilnc without --specialize) allocates its intermediate
// buffers when it runs, their sizes known only then, and frees them before it returns: some
// hundreds of blocks per call, up to megabytes each. Taken from malloc, the large ones went
// back to the system at every free (glibc trims the heap top and unmaps big chunks), so every
// call faulted its temporaries in again; that was a quarter of a GPT-2 prefill. The pool keeps
// freed blocks instead, on a free list per size class (four classes per power of two, so a
// block is at most 25% larger than asked), and hands them out again: after the first calls of
// a shape, a call takes nothing from the system. Blocks are 64-byte aligned; a 64-byte header
// in front of each holds its class and the free list's link. Thread-safe (one mutex).
//
// What a long prompt took is not kept for ever: the device reports the end of each call
// (endOfCall), and when, over a window of kTrimWindow calls, the pool held more than twice
// the most any of them had in use (plus kTrimSlack), its free blocks go back to the system,
// the largest first, until it holds at most twice that peak. A generation's decode steps
// thus give back the prefill's blocks after kTrimWindow tokens and keep their own; calls of
// one size never give back anything.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_CPU_TEMPORARYPOOL_H
#define KILN_RT_CPU_TEMPORARYPOOL_H

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace kiln::rt::cpu {

class TemporaryPool {
public:
  TemporaryPool() = default;
  /// Returns every block to the system; none may be in use.
  ~TemporaryPool();
  TemporaryPool(const TemporaryPool &) = delete;
  TemporaryPool &operator=(const TemporaryPool &) = delete;

  /// A block of at least `bytes` bytes (64-byte aligned), null when the system has no memory.
  void *allocate(uint64_t bytes);
  /// Keeps `block` (from allocate; null: nothing) for a later allocate of its class.
  void release(void *block);

  /// The end of one call of compiled code: may return the free blocks to the system (file
  /// comment). Returns the bytes given back.
  uint64_t endOfCall();

  /// Calls per window of endOfCall, and the bytes held beyond twice the window's peak use
  /// that are tolerated.
  static constexpr unsigned kTrimWindow = 64;
  static constexpr uint64_t kTrimSlack = uint64_t(16) << 20;

  /// Blocks taken from the system so far.
  uint64_t systemAllocations() const;
  /// Bytes of the blocks the pool holds, in use or free (headers included).
  uint64_t bytesHeld() const;

  /// The size of the blocks handed out for `bytes` (its class).
  static uint64_t blockBytes(uint64_t bytes);

private:
  static constexpr unsigned kClasses = 4 * 64;
  struct Header;
  mutable std::mutex mutex_;
  Header *free_[kClasses] = {};
  uint64_t systemAllocations_ = 0;
  uint64_t bytesHeld_ = 0;
  /// Bytes of blocks handed out and not released; the most of it since the last endOfCall,
  /// and over the current window.
  uint64_t inUse_ = 0, callPeak_ = 0, windowPeak_ = 0;
  unsigned callsInWindow_ = 0;
};

} // namespace kiln::rt::cpu

#endif // KILN_RT_CPU_TEMPORARYPOOL_H
