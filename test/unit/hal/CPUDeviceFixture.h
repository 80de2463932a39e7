//===- CPUDeviceFixture.h - A CPU device and the hand-written test blob ---===//
//
// The fixture the HAL tests share: a two-thread CPU device (workers not pinned, so tests run
// beside anything) and the bytes of the hand-written kernels' shared object
// (Inputs/TestKernels.c, KILN_HAL_TEST_BLOB).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_UNIT_HAL_CPUDEVICEFIXTURE_H
#define KILN_TEST_UNIT_HAL_CPUDEVICEFIXTURE_H

#include "kiln/rt/cpu/CPUDevice.h"
#include "kiln/rt/hal/HAL.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt::test {

inline std::vector<char> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

class CPUDeviceFixture : public ::testing::Test {
protected:
  void SetUp() override {
    cpu::CPUDeviceOptions options;
    options.threads = 2;
    options.pin = false;
    ASSERT_TRUE(cpu::createCPUDevice(options, device));
    blob = readFile(KILN_HAL_TEST_BLOB);
    ASSERT_GT(blob.size(), 64u);
  }

  std::unique_ptr<hal::Device> device;
  std::vector<char> blob;
};

} // namespace kiln::rt::test

#endif // KILN_TEST_UNIT_HAL_CPUDEVICEFIXTURE_H
