//===- TemporaryPoolTest.cpp - The pool of the compiled code's temporaries ===//
#include "kiln/rt/cpu/TemporaryPool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

using kiln::rt::cpu::TemporaryPool;

namespace {

// Four classes per power of two: a block is at least what was asked and at most 25% more.
TEST(TemporaryPoolTest, BlocksAreTheClassAboveTheSizeAsked) {
  EXPECT_EQ(TemporaryPool::blockBytes(0), 64u);
  EXPECT_EQ(TemporaryPool::blockBytes(1), 64u);
  EXPECT_EQ(TemporaryPool::blockBytes(64), 64u);
  EXPECT_EQ(TemporaryPool::blockBytes(65), 80u);
  EXPECT_EQ(TemporaryPool::blockBytes(80), 80u);
  EXPECT_EQ(TemporaryPool::blockBytes(81), 96u);
  EXPECT_EQ(TemporaryPool::blockBytes(1u << 20), 1u << 20);
  EXPECT_EQ(TemporaryPool::blockBytes((1u << 20) + 1), (1u << 20) + (1u << 18));
  EXPECT_EQ(TemporaryPool::blockBytes(3 << 19), 3u << 19);
  for (uint64_t bytes = 1; bytes < (1u << 22); bytes = bytes * 9 / 8 + 1) {
    uint64_t block = TemporaryPool::blockBytes(bytes);
    EXPECT_GE(block, bytes);
    EXPECT_LE(block, std::max<uint64_t>(64, bytes + bytes / 4)) << bytes;
  }
}

// Blocks in use are distinct and writable; a freed block comes back for its class and the
// pool takes nothing more from the system.
TEST(TemporaryPoolTest, FreedBlocksAreHandedOutAgain) {
  TemporaryPool pool;
  std::vector<void *> blocks;
  for (uint64_t bytes : {100u, 100u, 5000u, 1u << 20, 3u << 20}) {
    void *b = pool.allocate(bytes);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
    std::memset(b, int(blocks.size()), bytes);
    blocks.push_back(b);
  }
  EXPECT_NE(blocks[0], blocks[1]);
  EXPECT_EQ(static_cast<unsigned char *>(blocks[0])[99], 0);
  EXPECT_EQ(static_cast<unsigned char *>(blocks[1])[0], 1);
  EXPECT_EQ(pool.systemAllocations(), 5u);
  uint64_t held = pool.bytesHeld();
  EXPECT_GE(held, 100u + 100 + 5000 + (1u << 20) + (3u << 20));

  for (void *b : blocks)
    pool.release(b);
  pool.release(nullptr);
  // Same classes again (97 bytes shares 100's class; 4 MiB + 1 does not share 3 MiB's).
  void *small = pool.allocate(97);
  void *large = pool.allocate(1u << 20);
  EXPECT_TRUE(small == blocks[0] || small == blocks[1]);
  EXPECT_EQ(large, blocks[3]);
  EXPECT_EQ(pool.systemAllocations(), 5u);
  void *larger = pool.allocate((4u << 20) + 1);
  EXPECT_EQ(pool.systemAllocations(), 6u);
  EXPECT_GT(pool.bytesHeld(), held);
  pool.release(small);
  pool.release(large);
  pool.release(larger);
}

// A long call's blocks are given back once a window of calls has needed much less, the
// largest first; calls of one size keep theirs (no system allocation in the steady state),
// as do blocks in use.
TEST(TemporaryPoolTest, GivesBackWhatRecentCallsDidNotNeed) {
  const uint64_t big = 64u << 20, small = 1u << 20;
  TemporaryPool pool;
  // The long call: 64 MiB in use at once, then freed.
  void *b = pool.allocate(big);
  ASSERT_NE(b, nullptr);
  pool.release(b);
  EXPECT_EQ(pool.endOfCall(), 0u);
  uint64_t held = pool.bytesHeld();
  EXPECT_GT(held, big);
  // Short calls: 1 MiB each. The window that saw the long call keeps everything.
  uint64_t given = 0;
  void *kept = nullptr;
  for (unsigned call = 1; call < TemporaryPool::kTrimWindow; ++call) {
    void *s = pool.allocate(small);
    pool.release(s);
    given += pool.endOfCall();
  }
  EXPECT_EQ(given, 0u);
  EXPECT_EQ(pool.bytesHeld(), held + TemporaryPool::blockBytes(small) + 64);
  // A whole window of short calls: the free blocks (the long call's too) go back; a block
  // still in use at the end of a call stays.
  for (unsigned call = 0; call < TemporaryPool::kTrimWindow; ++call) {
    void *s = pool.allocate(small);
    if (call + 1 == TemporaryPool::kTrimWindow)
      kept = s;
    else
      pool.release(s);
    given += pool.endOfCall();
  }
  EXPECT_GE(given, big);
  EXPECT_EQ(pool.bytesHeld(), held + TemporaryPool::blockBytes(small) + 64 - given);
  EXPECT_GT(pool.bytesHeld(), small);
  EXPECT_LE(pool.bytesHeld(), 2 * (TemporaryPool::blockBytes(small) + 64));
  std::memset(kept, 1, small);
  pool.release(kept);
  uint64_t allocations = pool.systemAllocations();
  // Calls of one size: nothing given back, nothing more taken.
  for (unsigned call = 0; call < 3 * TemporaryPool::kTrimWindow; ++call) {
    void *s = pool.allocate(small);
    pool.release(s);
    EXPECT_EQ(pool.endOfCall(), 0u);
  }
  EXPECT_EQ(pool.systemAllocations(), allocations);
}

// The blocks the recent calls use are kept when the pool gives back a long call's.
TEST(TemporaryPoolTest, KeepsTheBlocksRecentCallsUse) {
  TemporaryPool pool;
  void *b = pool.allocate(64u << 20);
  pool.release(b);
  pool.endOfCall();
  uint64_t given = 0;
  for (unsigned call = 1; call < 2 * TemporaryPool::kTrimWindow; ++call) {
    void *s = pool.allocate(1u << 20);
    pool.release(s);
    given += pool.endOfCall();
  }
  EXPECT_GE(given, 64u << 20);
  EXPECT_EQ(pool.systemAllocations(), 2u);
  void *again = pool.allocate(1u << 20);
  pool.release(again);
  EXPECT_EQ(pool.systemAllocations(), 2u) << "the small block was given back too";
}

// Threads taking and giving back blocks at once never get the same block twice.
TEST(TemporaryPoolTest, ThreadsShareThePool) {
  TemporaryPool pool;
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto *b = static_cast<int *>(pool.allocate(4096));
        for (int j = 0; j < 1024; ++j)
          b[j] = t;
        for (int j = 0; j < 1024; ++j)
          bad[t] += b[j] != t;
        pool.release(b);
      }
    });
  for (std::thread &th : threads)
    th.join();
  for (int t = 0; t < 4; ++t)
    EXPECT_EQ(bad[t], 0) << "thread " << t << " saw another's writes";
  EXPECT_LE(pool.systemAllocations(), 4u);
}

} // namespace
