//===- PerfMapTest.cpp - KILN_PERF_MAP: perf's map of the loaded code -----===//
#include "CPUDeviceFixture.h"
#include "kiln/rt/cpu/CPUDevice.h"
#include "kiln/rt/cpu/ExecutableABI.h"
#include "kiln/rt/cpu/PerfMap.h"
#include "kiln/rt/hal/HAL.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace kiln::rt;

namespace {

struct MapLine {
  uintptr_t start = 0;
  uint64_t size = 0;
};

/// Parses perf's map format: "START SIZE NAME", hex without 0x.
std::map<std::string, MapLine> parseMap(const std::string &path) {
  std::map<std::string, MapLine> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string start, size, name;
    fields >> start >> size >> name;
    EXPECT_FALSE(name.empty()) << "malformed map line '" << line << "'";
    EXPECT_NE(start.rfind("0x", 0), 0u) << line;
    out[name] = {uintptr_t(std::stoull(start, nullptr, 16)), std::stoull(size, nullptr, 16)};
  }
  return out;
}

/// The line of /proc/self/maps whose range holds `address` ("" when none).
std::string mappingOf(uintptr_t address) {
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &begin, &end) == 2 && begin <= address &&
        address < end)
      return line;
  }
  return "";
}

class PerfMapTest : public test::CPUDeviceFixture {
protected:
  void SetUp() override {
    CPUDeviceFixture::SetUp();
    path = cpu::perfMapPath();
    std::remove(path.c_str());
  }
  void TearDown() override {
    unsetenv("KILN_PERF_MAP");
    std::remove(path.c_str());
  }

  std::string path;
};

TEST_F(PerfMapTest, PathIsPerfsForThisProcess) {
  EXPECT_EQ(path, "/tmp/perf-" + std::to_string(getpid()) + ".map");
}

TEST_F(PerfMapTest, NoMapUnlessAsked) {
  unsetenv("KILN_PERF_MAP");
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  setenv("KILN_PERF_MAP", "0", 1);
  std::unique_ptr<hal::Executable> exe2;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe2));
  EXPECT_NE(access(path.c_str(), F_OK), 0) << path << " was written";
}

// The map's addresses are the functions the code's own descriptor points to, and they lie in
// anonymous executable memory (perf reads names from the map only there).
TEST_F(PerfMapTest, ListsEveryDispatchAtItsLoadedAddress) {
  setenv("KILN_PERF_MAP", "1", 1);
  std::unique_ptr<hal::Executable> exe;
  hal::Status s = device->loadExecutable(blob.data(), blob.size(), "test.kc", exe);
  ASSERT_TRUE(s) << s.message();
  std::map<std::string, MapLine> lines = parseMap(path);
  ASSERT_TRUE(lines.count(KILN_CPU_EXECUTABLE_SYMBOL)) << path;
  auto query =
      reinterpret_cast<kiln_cpu_executable_query_fn>(lines[KILN_CPU_EXECUTABLE_SYMBOL].start);
  const kiln_cpu_executable_desc *desc = query();
  ASSERT_EQ(desc->magic, KILN_CPU_EXECUTABLE_MAGIC);
  ASSERT_EQ(desc->num_dispatches, 6u);
  for (uint32_t i = 0; i < desc->num_dispatches; ++i) {
    // In the test blob each dispatch's C function has the dispatch's name.
    std::string name = desc->dispatches[i].name;
    ASSERT_TRUE(lines.count(name)) << name << " is not in " << path;
    EXPECT_EQ(lines[name].start, reinterpret_cast<uintptr_t>(desc->dispatches[i].fn)) << name;
    EXPECT_GT(lines[name].size, 0u) << name;
    std::string mapping = mappingOf(lines[name].start + lines[name].size - 1);
    std::istringstream fields(mapping);
    std::string range, perms, offset, dev, inode, file;
    fields >> range >> perms >> offset >> dev >> inode >> file;
    EXPECT_EQ(perms.substr(0, 3), "r-x") << mapping;
    EXPECT_TRUE(file.empty()) << name << " is still in a file mapping: " << mapping;
  }
}

// The moved code still computes: add_f32 against a plain loop.
TEST_F(PerfMapTest, MovedCodeStillRuns) {
  setenv("KILN_PERF_MAP", "1", 1);
  std::unique_ptr<hal::Executable> exe;
  ASSERT_TRUE(device->loadExecutable(blob.data(), blob.size(), "test.kc", exe));
  std::unique_ptr<hal::Buffer> a, b, c;
  ASSERT_TRUE(device->allocateBuffer(4000, a));
  ASSERT_TRUE(device->allocateBuffer(4000, b));
  ASSERT_TRUE(device->allocateBuffer(4000, c));
  auto *pa = static_cast<float *>(a->hostPointer());
  auto *pb = static_cast<float *>(b->hostPointer());
  for (int i = 0; i < 1000; ++i) {
    pa[i] = 0.5f * float(i);
    pb[i] = 3.0f - float(i);
  }
  hal::BufferBinding bindings[3] = {{a.get()}, {b.get()}, {c.get()}};
  hal::DispatchParams params;
  params.buffers = hal::Span<const hal::BufferBinding>(bindings, 3);
  params.workgroups = {16, 1, 1};
  ASSERT_TRUE(device->dispatch(*exe, 0, params));
  auto *pc = static_cast<float *>(c->hostPointer());
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(pc[i], 0.5f * float(i) + (3.0f - float(i))) << i;
}

TEST_F(PerfMapTest, ReadsFunctionSymbols) {
  std::vector<cpu::CodeSymbol> symbols;
  hal::Status s = cpu::readFunctionSymbols(blob.data(), blob.size(), "test.kc", symbols);
  ASSERT_TRUE(s) << s.message();
  std::map<std::string, uint64_t> sizes;
  for (const cpu::CodeSymbol &sym : symbols)
    sizes[sym.name] = sym.size;
  for (const char *name : {"add_f32", "mark_wg", "scale_f32", KILN_CPU_EXECUTABLE_SYMBOL})
    EXPECT_GT(sizes[name], 0u) << name;
}

TEST_F(PerfMapTest, MalformedSymbolTablesAreErrors) {
  std::vector<cpu::CodeSymbol> symbols;
  hal::Status s = cpu::readFunctionSymbols(blob.data(), 16, "short.kc", symbols);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("short.kc"), std::string::npos) << s.message();

  Elf64_Ehdr header;
  std::memcpy(&header, blob.data(), sizeof(header));
  std::vector<char> bad = blob;
  Elf64_Ehdr moved = header;
  moved.e_shoff = blob.size() - 8; // section headers past the end
  std::memcpy(bad.data(), &moved, sizeof(moved));
  s = cpu::readFunctionSymbols(bad.data(), bad.size(), "bad.kc", symbols);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("bad.kc"), std::string::npos) << s.message();

  // Every section header's link and offset corrupted in turn: an error or a clean read,
  // never a crash (ASan builds catch reads out of bounds).
  for (unsigned i = 0; i < header.e_shnum; ++i) {
    for (int field = 0; field < 3; ++field) {
      bad = blob;
      Elf64_Shdr sh;
      size_t at = header.e_shoff + i * sizeof(Elf64_Shdr);
      std::memcpy(&sh, bad.data() + at, sizeof(sh));
      if (field == 0)
        sh.sh_link = 0xffff;
      else if (field == 1)
        sh.sh_offset = uint64_t(blob.size()) - 4;
      else
        sh.sh_size = ~uint64_t(0) / 2;
      std::memcpy(bad.data() + at, &sh, sizeof(sh));
      (void)cpu::readFunctionSymbols(bad.data(), bad.size(), "bad.kc", symbols);
    }
  }
}

} // namespace
