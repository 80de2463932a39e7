//===- HALTest.cpp - CPU driver: loading code from memory, dispatching ----===//
#include "CPUDeviceFixture.h"
#include "kiln/rt/cpu/CPUDevice.h"
#include "kiln/rt/cpu/TemporaryPool.h"
#include "kiln/rt/hal/HAL.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <vector>

// Counts every operator new in the process, to check that dispatching allocates nothing.
static std::atomic<long> gAllocations{0};
void *operator new(size_t size) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(size ? size : 1))
    return p;
  throw std::bad_alloc();
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }

using namespace kiln::rt;

namespace {

using test::readFile;

class CPUDeviceTest : public test::CPUDeviceFixture {
protected:
  std::unique_ptr<hal::Buffer> buffer(size_t bytes) {
    std::unique_ptr<hal::Buffer> b;
    EXPECT_TRUE(device->allocateBuffer(bytes, b));
    return b;
  }
};

TEST_F(CPUDeviceTest, LoadsDescriptorFromMemory) {
  std::unique_ptr<hal::Executable> exe;
  hal::Status s = device->loadExecutable(blob.data(), blob.size(), "test.kc", exe);
  ASSERT_TRUE(s) << s.message();
  ASSERT_EQ(exe->dispatches().size(), 6u);
  EXPECT_EQ(exe->find("add_f32"), 0);
  EXPECT_EQ(exe->find("mark_wg"), 1);
  EXPECT_EQ(exe->find("missing"), -1);
  const hal::DispatchInfo &add = exe->dispatches()[0];
  EXPECT_EQ(add.numBuffers, 3u);
  EXPECT_EQ(add.bufferBytes, (std::vector<uint64_t>{4000, 4000, 4000}));
  EXPECT_EQ(add.workgroupCount[0], 16u);
  EXPECT_EQ(exe->dispatches()[2].numScalars, 1u);
}

TEST_F(CPUDeviceTest, AddMatchesReferenceLoop) {
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  auto a = buffer(4000), b = buffer(4000), c = buffer(4000);
  float *pa = static_cast<float *>(a->hostPointer());
  float *pb = static_cast<float *>(b->hostPointer());
  for (int i = 0; i < 1000; ++i) {
    pa[i] = 0.5f * i;
    pb[i] = 1000.0f - i;
  }
  hal::BufferBinding bindings[] = {{a.get()}, {b.get()}, {c.get()}};
  hal::DispatchParams params;
  params.buffers = {bindings, 3};
  params.workgroups = exe->dispatches()[0].workgroupCount;
  hal::Status s = device->dispatch(*exe, 0, params);
  ASSERT_TRUE(s) << s.message();
  const float *pc = static_cast<const float *>(c->hostPointer());
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(pc[i], 0.5f * i + (1000.0f - i)) << i;
}

TEST_F(CPUDeviceTest, EveryWorkgroupRunsOnceIn3DGrid) {
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  auto out = buffer(4 * 4096);
  hal::BufferBinding binding{out.get()};
  hal::DispatchParams params;
  params.buffers = {&binding, 1};
  params.workgroups = {64, 32, 2};
  for (int r = 0; r < 3; ++r)
    ASSERT_TRUE(device->dispatch(*exe, 1, params));
  const int32_t *marks = static_cast<const int32_t *>(out->hostPointer());
  for (int i = 0; i < 4096; ++i)
    ASSERT_EQ(marks[i], 3) << "workgroup " << i;
}

// A dispatch of one workgroup (an entry point compiled whole) hands the workgroups of the
// dispatches it calls to the runtime through kiln_cpu_host_v2, which the device fills in when
// it loads the code: each runs exactly once. From a dispatch of several workgroups (the pool
// busy) each nested call runs on the worker that makes it: none is lost or run twice.
TEST_F(CPUDeviceTest, CodeRunsWorkgroupsThroughTheHost) {
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  int index = exe->find("fan_out");
  ASSERT_GE(index, 0);
  auto out = buffer(4 * 4096), flag = buffer(4);
  hal::BufferBinding bindings[] = {{out.get()}, {flag.get()}};
  hal::DispatchParams params;
  params.buffers = {bindings, 2};
  params.workgroups = {1, 1, 1};
  for (int r = 0; r < 3; ++r)
    ASSERT_TRUE(device->dispatch(*exe, uint32_t(index), params));
  ASSERT_EQ(static_cast<const int32_t *>(flag->hostPointer())[0], 1) << "no host services";
  const int32_t *marks = static_cast<const int32_t *>(out->hostPointer());
  for (int i = 0; i < 4096; ++i)
    ASSERT_EQ(marks[i], 3) << "workgroup " << i;

  // Four workgroups at once on the pool, each handing over a quarter of the marks.
  int split = exe->find("fan_out_4");
  ASSERT_GE(split, 0);
  params.workgroups = {4, 1, 1};
  ASSERT_TRUE(device->dispatch(*exe, uint32_t(split), params));
  for (int i = 0; i < 4096; ++i)
    ASSERT_EQ(marks[i], 4) << "workgroup " << i;
}

/// The test blob's `borrow` kernel (Inputs/TestKernels.c): takes a block of the given bytes
/// from the device's alloc service and writes its address and the sum of the 1.0f it filled
/// it with (-1: no service, -2: no block) into its output.
struct Borrow {
  std::unique_ptr<hal::Executable> exe;
  int index = -1;
  std::unique_ptr<hal::Buffer> out;

  /// Runs it once; the result, or null when the dispatch failed.
  const int64_t *run(hal::Device &device, int64_t bytes) {
    hal::BufferBinding bindings[] = {{out.get()}};
    int64_t scalars[] = {bytes};
    hal::DispatchParams params;
    params.buffers = {bindings, 1};
    params.scalars = {scalars, 1};
    if (!device.dispatch(*exe, uint32_t(index), params))
      return nullptr;
    return static_cast<const int64_t *>(out->hostPointer());
  }
};

// The code's temporaries come from the device (kiln_cpu_host_v2.alloc / free): a block of the
// size asked for, 64-byte aligned, and the same block again on the next call instead of memory
// given back to the system and faulted in anew.
TEST_F(CPUDeviceTest, CodeTakesTemporariesFromTheDevice) {
  Borrow borrow;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", borrow.exe));
  ASSERT_GE(borrow.index = borrow.exe->find("borrow"), 0);
  borrow.out = buffer(16);
  const int64_t *result = borrow.run(*device, 4 << 20);
  ASSERT_NE(result, nullptr);
  ASSERT_EQ(result[1], int64_t(1) << 20) << "-1: no alloc service; -2: no block";
  int64_t first = result[0];
  EXPECT_EQ(first % 64, 0);
  ASSERT_NE(borrow.run(*device, 4 << 20), nullptr);
  EXPECT_EQ(result[1], int64_t(1) << 20);
  EXPECT_EQ(result[0], first) << "the freed block was not kept for the next call";
}

// The device reports the end of each dispatch to its pool: after a window of small calls the
// block a large call took goes back to the system (TemporaryPool::endOfCall).
TEST_F(CPUDeviceTest, TemporariesOfALargeCallAreGivenBack) {
  Borrow borrow;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", borrow.exe));
  ASSERT_GE(borrow.index = borrow.exe->find("borrow"), 0);
  borrow.out = buffer(16);
  ASSERT_NE(borrow.run(*device, 64 << 20), nullptr);
  EXPECT_GE(device->info().temporaryBytes, uint64_t(64) << 20);
  for (unsigned call = 0; call < 2 * cpu::TemporaryPool::kTrimWindow; ++call)
    ASSERT_NE(borrow.run(*device, 1 << 20), nullptr);
  EXPECT_LT(device->info().temporaryBytes, uint64_t(8) << 20);
}

TEST_F(CPUDeviceTest, ScalarsReachTheKernel) {
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  auto x = buffer(1024), y = buffer(1024);
  for (int i = 0; i < 256; ++i)
    static_cast<float *>(x->hostPointer())[i] = float(i);
  hal::BufferBinding bindings[] = {{x.get()}, {y.get()}};
  int64_t scalars[] = {3};
  hal::DispatchParams params;
  params.buffers = {bindings, 2};
  params.scalars = {scalars, 1};
  ASSERT_TRUE(device->dispatch(*exe, 2, params));
  EXPECT_EQ(static_cast<float *>(y->hostPointer())[255], 765.0f);
}

TEST_F(CPUDeviceTest, DispatchAllocatesNothingAfterWarmUp) {
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  auto a = buffer(4000), b = buffer(4000), c = buffer(4000);
  hal::BufferBinding bindings[] = {{a.get()}, {b.get()}, {c.get()}};
  hal::DispatchParams params;
  params.buffers = {bindings, 3};
  params.workgroups = {16, 1, 1};
  ASSERT_TRUE(device->dispatch(*exe, 0, params)); // warm-up
  long before = gAllocations.load();
  for (int r = 0; r < 1000; ++r)
    ASSERT_TRUE(device->dispatch(*exe, 0, params));
  EXPECT_EQ(gAllocations.load(), before);
}

TEST_F(CPUDeviceTest, RejectsBadBindings) {
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  auto a = buffer(4000), small = buffer(100);
  hal::DispatchParams params;

  hal::BufferBinding two[] = {{a.get()}, {a.get()}};
  params.buffers = {two, 2};
  hal::Status s = device->dispatch(*exe, 0, params);
  EXPECT_EQ(s.code(), hal::StatusCode::InvalidArgument);
  EXPECT_NE(s.message().find("expects 3 buffer bindings, got 2"), std::string::npos)
      << s.message();

  hal::BufferBinding tooSmall[] = {{a.get()}, {a.get()}, {small.get()}};
  params.buffers = {tooSmall, 3};
  s = device->dispatch(*exe, 0, params);
  EXPECT_NE(s.message().find("binding 2 has 100 bytes; the dispatch reads or writes 4000"),
            std::string::npos)
      << s.message();

  hal::BufferBinding offset[] = {{a.get()}, {a.get(), 8}, {a.get()}};
  params.buffers = {offset, 3};
  s = device->dispatch(*exe, 0, params);
  EXPECT_NE(s.message().find("binding 1 has 3992 bytes"), std::string::npos) << s.message();

  hal::BufferBinding past[] = {{a.get()}, {a.get(), 5000}, {a.get()}};
  params.buffers = {past, 3};
  s = device->dispatch(*exe, 0, params);
  EXPECT_NE(s.message().find("past the end"), std::string::npos) << s.message();

  hal::BufferBinding null[] = {{a.get()}, {nullptr}, {a.get()}};
  params.buffers = {null, 3};
  s = device->dispatch(*exe, 0, params);
  EXPECT_NE(s.message().find("binding 1 has no buffer"), std::string::npos) << s.message();

  hal::BufferBinding ok[] = {{a.get()}, {a.get()}, {a.get()}};
  params.buffers = {ok, 3};
  s = device->dispatch(*exe, 2, params);
  EXPECT_NE(s.message().find("expects 2 buffer bindings"), std::string::npos) << s.message();
  s = device->dispatch(*exe, 7, params);
  EXPECT_NE(s.message().find("out of range"), std::string::npos) << s.message();
}

TEST_F(CPUDeviceTest, RejectsMalformedCode) {
  std::unique_ptr<hal::Executable> exe;
  hal::Status s = device->loadExecutable("hello", 5, "bad.kc", exe);
  EXPECT_EQ(s.code(), hal::StatusCode::InvalidCode);
  EXPECT_NE(s.message().find("bad.kc: CPU code is 5 bytes"), std::string::npos) << s.message();

  std::vector<char> garbage(4096, 'x');
  s = device->loadExecutable(garbage.data(), garbage.size(), "bad.kc", exe);
  EXPECT_NE(s.message().find("not an ELF object"), std::string::npos) << s.message();

  // Every truncation of a valid blob is refused cleanly (never a crash).
  for (size_t n : {size_t(64), size_t(200), blob.size() / 2, blob.size() - 1}) {
    s = device->loadExecutable(blob.data(), n, "cut.kc", exe);
    EXPECT_FALSE(s) << "truncated to " << n;
    EXPECT_NE(s.message().find("cut.kc"), std::string::npos) << s.message();
  }
}

TEST_F(CPUDeviceTest, RejectsUnknownABIVersion) {
  std::vector<char> wrong = readFile(KILN_HAL_WRONG_VERSION_BLOB);
  std::unique_ptr<hal::Executable> exe;
  hal::Status s = device->loadExecutable(wrong.data(), wrong.size(), "old.kc", exe);
  EXPECT_EQ(s.code(), hal::StatusCode::InvalidCode);
  EXPECT_NE(s.message().find("ABI version 99 is not supported"), std::string::npos)
      << s.message();
}

TEST_F(CPUDeviceTest, BuffersAreAlignedAndZeroed) {
  auto b = buffer(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->hostPointer()) % 64, 0u);
  EXPECT_EQ(b->size(), 1000u);
  const char *p = static_cast<const char *>(b->hostPointer());
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(p[i], 0);
  float host[4] = {1, 2, 3, 4};
  std::unique_ptr<hal::Buffer> wrapped;
  ASSERT_TRUE(device->wrapHostMemory(host, sizeof(host), wrapped));
  EXPECT_EQ(wrapped->hostPointer(), host);
}

TEST(CPUDevice, ReportsThreads) {
  std::unique_ptr<hal::Device> device;
  cpu::CPUDeviceOptions options;
  options.threads = 3;
  options.pin = false;
  ASSERT_TRUE(cpu::createCPUDevice(options, device));
  EXPECT_EQ(device->info().threads, 3u);
  EXPECT_EQ(device->info().name, "cpu");
}

} // namespace
