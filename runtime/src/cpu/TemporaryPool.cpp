//===- TemporaryPool.cpp - Blocks for the temporaries of compiled code -----===//
#include "kiln/rt/cpu/TemporaryPool.h"

#include <algorithm>
#include <cstdlib>

namespace kiln::rt::cpu {
namespace {

constexpr uint64_t kAlign = 64;
constexpr uint64_t kSmallest = 64;

/// Class of `bytes`: 2^k < bytes <= 2^(k+1) falls in one of the four steps of 2^(k-2) above
/// 2^k; class = 4 (k - 5) + step - 1 (64 bytes, the smallest block, is class 3).
unsigned classOf(uint64_t bytes, uint64_t &classBytes) {
  if (bytes < kSmallest)
    bytes = kSmallest;
  unsigned k = 63 - __builtin_clzll(bytes - 1);
  uint64_t base = uint64_t(1) << k, quarter = base >> 2;
  uint64_t step = (bytes - base + quarter - 1) / quarter;
  classBytes = base + step * quarter;
  return 4 * (k - 5) + unsigned(step) - 1;
}

} // namespace

/// In front of every block, padded to the blocks' alignment.
struct alignas(kAlign) TemporaryPool::Header {
  Header *next;  // the free list of its class, while free
  unsigned cls;  // its class
  uint64_t size; // bytes from the system, the header included
};

uint64_t TemporaryPool::blockBytes(uint64_t bytes) {
  uint64_t classBytes;
  classOf(bytes, classBytes);
  return classBytes;
}

void *TemporaryPool::allocate(uint64_t bytes) {
  if (bytes > (uint64_t(1) << 62))
    return nullptr;
  uint64_t classBytes;
  unsigned cls = classOf(bytes, classBytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Header *h = free_[cls]) {
      free_[cls] = h->next;
      inUse_ += h->size;
      callPeak_ = std::max(callPeak_, inUse_);
      return h + 1;
    }
  }
  uint64_t size = sizeof(Header) + (classBytes + kAlign - 1) / kAlign * kAlign;
  auto *h = static_cast<Header *>(std::aligned_alloc(kAlign, size));
  if (!h)
    return nullptr;
  h->next = nullptr;
  h->cls = cls;
  h->size = size;
  std::lock_guard<std::mutex> lock(mutex_);
  ++systemAllocations_;
  bytesHeld_ += size;
  inUse_ += size;
  callPeak_ = std::max(callPeak_, inUse_);
  return h + 1;
}

void TemporaryPool::release(void *block) {
  if (!block)
    return;
  Header *h = static_cast<Header *>(block) - 1;
  std::lock_guard<std::mutex> lock(mutex_);
  h->next = free_[h->cls];
  free_[h->cls] = h;
  inUse_ -= h->size;
}

uint64_t TemporaryPool::endOfCall() {
  std::lock_guard<std::mutex> lock(mutex_);
  windowPeak_ = std::max(windowPeak_, callPeak_);
  callPeak_ = inUse_;
  if (++callsInWindow_ < kTrimWindow)
    return 0;
  // The largest free blocks first, down to twice the window's peak: the blocks the recent
  // calls take again (a decode step's) are the small ones, and stay.
  uint64_t given = 0;
  if (bytesHeld_ > 2 * windowPeak_ + kTrimSlack)
    for (unsigned cls = kClasses; cls-- > 0 && bytesHeld_ > 2 * windowPeak_;)
      while (Header *h = free_[cls]) {
        if (bytesHeld_ <= 2 * windowPeak_)
          break;
        free_[cls] = h->next;
        given += h->size;
        bytesHeld_ -= h->size;
        std::free(h);
      }
  callsInWindow_ = 0;
  windowPeak_ = 0;
  return given;
}

uint64_t TemporaryPool::systemAllocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return systemAllocations_;
}

uint64_t TemporaryPool::bytesHeld() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytesHeld_;
}

TemporaryPool::~TemporaryPool() {
  for (Header *&head : free_)
    while (Header *h = head) {
      head = h->next;
      std::free(h);
    }
}

} // namespace kiln::rt::cpu
