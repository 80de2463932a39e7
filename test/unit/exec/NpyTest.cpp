//===- NpyTest.cpp - The .npy writer against the NumPy format spec ---------===//
//
// numpy.lib.format 1.0: "\x93NUMPY", major 1, minor 0, a little-endian u16 header length, an
// ASCII dict literal padded with spaces and ended by '\n' so that the data starts at a multiple
// of 64 bytes, then the data in C order.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/Executor.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace kiln::rt;
using namespace kiln::rt::exec;

namespace {

std::string readAll(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string tempPath(const char *name) {
  return std::string(::testing::TempDir()) + "/" + name + std::to_string(getpid()) + ".npy";
}

struct Parsed {
  std::string dict;
  std::string data;
};

Parsed parse(const std::string &bytes) {
  EXPECT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), std::string("\x93NUMPY"));
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 0);
  size_t len = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
  EXPECT_EQ((10 + len) % 64, 0u);
  EXPECT_EQ(bytes[10 + len - 1], '\n');
  return {bytes.substr(10, len), bytes.substr(10 + len)};
}

TEST(Npy, Float32Matrix) {
  Tensor t;
  t.dtype = DType::F32;
  t.shape = {2, 3};
  float values[6] = {1, 2, 3, 4, 5, -6.5f};
  t.bytes.assign(reinterpret_cast<uint8_t *>(values), reinterpret_cast<uint8_t *>(values) + 24);
  std::string path = tempPath("m");
  ASSERT_TRUE(writeNpy(path, t).ok());
  Parsed p = parse(readAll(path));
  EXPECT_EQ(p.dict.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u)
      << p.dict;
  ASSERT_EQ(p.data.size(), 24u);
  EXPECT_EQ(std::memcmp(p.data.data(), values, 24), 0);
  std::remove(path.c_str());
}

TEST(Npy, VectorShapeHasTrailingComma) {
  Tensor t = Tensor::fromI32({3}, {7, 8, 9});
  std::string path = tempPath("v");
  ASSERT_TRUE(writeNpy(path, t).ok());
  Parsed p = parse(readAll(path));
  EXPECT_NE(p.dict.find("'descr': '<i4'"), std::string::npos);
  EXPECT_NE(p.dict.find("'shape': (3,)"), std::string::npos) << p.dict;
  EXPECT_EQ(p.data.size(), 12u);
  std::remove(path.c_str());
}

TEST(Npy, ScalarShapeIsEmptyTuple) {
  Tensor t;
  t.dtype = DType::F32;
  float v = 2.5f;
  t.bytes.assign(reinterpret_cast<uint8_t *>(&v), reinterpret_cast<uint8_t *>(&v) + 4);
  std::string path = tempPath("s");
  ASSERT_TRUE(writeNpy(path, t).ok());
  Parsed p = parse(readAll(path));
  EXPECT_NE(p.dict.find("'shape': ()"), std::string::npos) << p.dict;
  std::remove(path.c_str());
}

TEST(Npy, UnwritableFolderIsAnError) {
  Tensor t = Tensor::fromI32({1}, {1});
  Status s = writeNpy("/nonexistent-kiln-folder/x.npy", t);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-kiln-folder/x.npy"), std::string::npos);
}

} // namespace
