//===- SafetensorsTest.cpp - safetensors reader and writer ----------------===//
#include "kiln/rt/weights/Safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <random>
#include <unistd.h>

using namespace kiln::rt;

namespace {
/// A safetensors file from a header text and a data area.
std::vector<uint8_t> rawFile(const std::string &header, const std::string &data) {
  std::vector<uint8_t> b(8);
  for (int i = 0; i < 8; ++i)
    b[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Status parse(const std::vector<uint8_t> &bytes) {
  SafetensorsFile f;
  return SafetensorsFile::fromBuffer(bytes.data(), bytes.size(), "w.safetensors", f);
}

std::string tempDir() {
  char tmpl[] = "/tmp/kiln-weights-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

std::vector<uint8_t> readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

bool contains(const std::string &s, const std::string &n) { return s.find(n) != std::string::npos; }
} // namespace

TEST(Safetensors, HalfToFloatMatchesTheCompilerForEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    _Float16 ref;
    uint16_t bits = uint16_t(h);
    std::memcpy(&ref, &bits, 2);
    float want = static_cast<float>(ref), got = halfToFloat(bits);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
      continue;
    }
    uint32_t a, b;
    std::memcpy(&a, &want, 4);
    std::memcpy(&b, &got, 4);
    ASSERT_EQ(a, b) << "half 0x" << std::hex << h;
  }
}

TEST(Safetensors, BFloat16ToFloat) {
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16ToFloat(0xc000), -2.0f);
  EXPECT_EQ(bfloat16ToFloat(0x3e20), 0.15625f);
  EXPECT_TRUE(std::isinf(bfloat16ToFloat(0x7f80)));
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7fc0)));
  EXPECT_EQ(bfloat16ToFloat(0x0001), std::ldexp(1.0f, -133)); // smallest subnormal
}

namespace {
uint16_t toBf16(uint32_t f32Bits) {
  float f;
  std::memcpy(&f, &f32Bits, 4);
  return floatToBfloat16(f);
}

/// The bfloat16 nearest to finite `x` by value (ties to the even bit pattern), found by comparing
/// distances in double: independent of the bit trick the runtime uses. Past the largest finite
/// bfloat16 the next value up is taken to be 2^128, which is where IEEE rounding puts the
/// boundary to infinity.
uint16_t nearestBf16ByValue(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000), lo = uint16_t((bits >> 16) & 0x7fff);
  uint16_t hi = uint16_t(lo + 1);
  double ax = std::fabs(double(x));
  double vlo = double(bfloat16ToFloat(lo));
  double vhi = hi == 0x7f80 ? std::ldexp(1.0, 128) : double(bfloat16ToFloat(hi));
  if (ax == vlo)
    return uint16_t(sign | lo);
  double dlo = ax - vlo, dhi = vhi - ax;
  uint16_t pick = dlo < dhi ? lo : dhi < dlo ? hi : ((lo & 1) ? hi : lo);
  return uint16_t(sign | pick);
}
} // namespace

TEST(Safetensors, FloatToBFloat16RoundsToNearestEven) {
  // Exact values keep their upper half.
  EXPECT_EQ(toBf16(0x3f800000), 0x3f80); // 1
  EXPECT_EQ(toBf16(0xc0000000), 0xc000); // -2
  EXPECT_EQ(toBf16(0x3e200000), 0x3e20); // 0.15625
  // Ties go to the even pattern, down and up, for either sign.
  EXPECT_EQ(toBf16(0x3f808000), 0x3f80); // 1 + 2^-8: between 0x3f80 (even) and 0x3f81
  EXPECT_EQ(toBf16(0x3f818000), 0x3f82); // between 0x3f81 and 0x3f82 (even)
  EXPECT_EQ(toBf16(0xbf808000), 0xbf80);
  EXPECT_EQ(toBf16(0xbf818000), 0xbf82);
  // Just above and just below a tie.
  EXPECT_EQ(toBf16(0x3f808001), 0x3f81);
  EXPECT_EQ(toBf16(0x3f807fff), 0x3f80);
  EXPECT_EQ(toBf16(0x3f817fff), 0x3f81);
  // A carry through the mantissa into the exponent: 1.99999988 -> 2.
  EXPECT_EQ(toBf16(0x3fffffff), 0x4000);
  // Near the top: the largest finite f32 and the tie above the largest finite bfloat16 round
  // to infinity; just below the tie stays finite.
  EXPECT_EQ(toBf16(0x7f7fffff), 0x7f80);
  EXPECT_EQ(toBf16(0xff7fffff), 0xff80);
  EXPECT_EQ(toBf16(0x7f7f8000), 0x7f80);
  EXPECT_EQ(toBf16(0x7f7f7fff), 0x7f7f);
  // Zeros and infinities.
  EXPECT_EQ(toBf16(0x00000000), 0x0000);
  EXPECT_EQ(toBf16(0x80000000), 0x8000); // -0 stays -0
  EXPECT_EQ(toBf16(0x7f800000), 0x7f80);
  EXPECT_EQ(toBf16(0xff800000), 0xff80);
  // NaNs stay NaNs (quiet), with their sign, even when the payload is only in the low half
  // (truncation would make an infinity of those).
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0x7fa00000u, 0xffc00001u, 0xff800001u}) {
    uint16_t b = toBf16(nan);
    EXPECT_EQ(b & 0x7f80, 0x7f80) << std::hex << nan;
    EXPECT_NE(b & 0x007f, 0) << std::hex << nan;
    EXPECT_NE(b & 0x0040, 0) << std::hex << nan; // quiet
    EXPECT_EQ(b & 0x8000, (nan >> 16) & 0x8000) << std::hex << nan;
  }
  EXPECT_EQ(toBf16(0x7fa00000), 0x7fe0); // leading payload bits kept
  // Subnormals round like any other value.
  EXPECT_EQ(toBf16(0x00000001), 0x0000); // smallest f32 subnormal -> +0
  EXPECT_EQ(toBf16(0x80000001), 0x8000); // -> -0
  EXPECT_EQ(toBf16(0x00010000), 0x0001); // smallest bfloat16 subnormal, exact
  EXPECT_EQ(toBf16(0x00008000), 0x0000); // tie -> even (0)
  EXPECT_EQ(toBf16(0x00018000), 0x0002); // tie -> even (2)
  EXPECT_EQ(toBf16(0x00008001), 0x0001);
  EXPECT_EQ(toBf16(0x80008001), 0x8001);
  EXPECT_EQ(toBf16(0x007fffff), 0x0080); // largest f32 subnormal -> smallest normal
}

TEST(Safetensors, FloatToBFloat16IsTheNearestValue) {
  // A stride through every f32 pattern, plus the patterns around each rounding boundary of a
  // sample of upper halves; each against the nearest bfloat16 found by value.
  auto check = [](uint32_t bits) {
    float x;
    std::memcpy(&x, &bits, 4);
    if (std::isnan(x))
      return;
    uint16_t want = std::isinf(x) ? uint16_t(bits >> 16) : nearestBf16ByValue(x);
    ASSERT_EQ(floatToBfloat16(x), want) << "f32 0x" << std::hex << bits;
  };
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 65521)
    check(uint32_t(b));
  for (uint32_t hi = 0; hi < 65536; hi += 7)
    for (uint32_t low : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu})
      check((hi << 16) | low);
}

TEST(Safetensors, WriteThenRead) {
  std::string dir = tempDir(), path = dir + "/w.safetensors";
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 5.0f, -6.5f};
  std::vector<uint16_t> h = {0x3c00, 0xc000, 0x3555}; // 1, -2, ~0.3333
  std::vector<int64_t> ids = {7, -8};
  std::vector<SafetensorsEntry> entries(4);
  entries[0] = {"a", DType::F32, {2, 3}, a.data(), {}};
  entries[1] = {"h", DType::F16, {3}, h.data(), {}};
  entries[2] = {"ids", DType::I64, {2}, ids.data(), {}};
  entries[3] = {"filled", DType::F32, {4}, nullptr, [](void *p) {
                  float *f = static_cast<float *>(p);
                  for (int i = 0; i < 4; ++i)
                    f[i] = float(i) * 0.5f;
                }};
  Status s = writeSafetensors(path, entries, {{"format", "pt"}, {"note", "kiln test"}});
  ASSERT_TRUE(s.ok()) << s.message();

  std::vector<uint8_t> bytes = readAll(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | bytes[i];
  EXPECT_EQ((8 + n) % 64, 0u);

  SafetensorsFile f;
  s = SafetensorsFile::open(path, f);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(f.tensors().size(), 4u);
  ASSERT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata()[1].second, "kiln test");
  const SafetensorsTensor *t = f.find("a");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> out(6);
  ASSERT_TRUE(f.readF32(*t, out.data()).ok());
  EXPECT_EQ(out, a);
  std::vector<float> hf(3);
  ASSERT_TRUE(f.readF32(*f.find("h"), hf.data()).ok());
  EXPECT_EQ(hf[0], 1.0f);
  EXPECT_EQ(hf[1], -2.0f);
  EXPECT_NEAR(hf[2], 1.0f / 3, 1e-3);
  std::vector<float> filled(4);
  ASSERT_TRUE(f.readF32(*f.find("filled"), filled.data()).ok());
  EXPECT_EQ(filled, (std::vector<float>{0, 0.5f, 1.0f, 1.5f}));
  EXPECT_FALSE(f.readF32(*f.find("ids"), out.data()).ok());
  int64_t gotIds[2];
  std::memcpy(gotIds, f.bytes(*f.find("ids")), 16);
  EXPECT_EQ(gotIds[1], -8);

  // Replacing leaves exactly one file and no temporaries.
  ASSERT_TRUE(writeSafetensors(path, {entries[0]}).ok());
  SafetensorsFile g;
  ASSERT_TRUE(SafetensorsFile::open(path, g).ok());
  EXPECT_EQ(g.tensors().size(), 1u);
  DIR *d = opendir(dir.c_str());
  int count = 0;
  while (dirent *e = readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
      ++count;
  closedir(d);
  EXPECT_EQ(count, 1);
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(Safetensors, WriteErrors) {
  float x = 1;
  Status s = writeSafetensors("/nonexistent/dir/w.safetensors", {{"x", DType::F32, {1}, &x, {}}});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "/nonexistent/dir/w.safetensors")) << s.message();
  s = writeSafetensors("/tmp/unused.safetensors",
                       {{"x", DType::F32, {1}, &x, {}}, {"x", DType::F32, {1}, &x, {}}});
  EXPECT_FALSE(s.ok());
  s = writeSafetensors("/tmp/unused.safetensors", {{"__metadata__", DType::F32, {1}, &x, {}}});
  EXPECT_FALSE(s.ok());
}

TEST(Safetensors, EveryTruncationIsRefused) {
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]}})";
  std::vector<uint8_t> bytes = rawFile(header, std::string(14, '\1'));
  ASSERT_TRUE(parse(bytes).ok()) << parse(bytes).message();
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    Status s = parse(cut);
    ASSERT_FALSE(s.ok()) << len;
    EXPECT_EQ(s.message().rfind("w.safetensors: ", 0), 0u) << s.message();
    if (len < 8 + header.size())
      EXPECT_TRUE(contains(s.message(), "truncated")) << len << ": " << s.message();
    else
      EXPECT_TRUE(contains(s.message(), "outside") || contains(s.message(), "cover"))
          << len << ": " << s.message();
  }
}

struct BadHeader {
  const char *what;
  std::string header;
  std::string data;
  const char *expect;
};

TEST(Safetensors, BadHeadersAreRefused) {
  const std::string d8(8, '\0');
  std::vector<BadHeader> cases = {
      {"not JSON", "{\"a\":", d8, "invalid safetensors header"},
      {"not an object", "[]", "", "does not start with '{'"},
      {"leading space", " {}", "", "does not start with '{'"},
      {"unknown dtype", R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", d8,
       "unknown dtype"},
      {"lower-case dtype", R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", d8,
       "unknown dtype"},
      {"negative dim", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8,
       "not a non-negative integer"},
      {"float dim", R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", d8,
       "not a non-negative integer"},
      {"size mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8,
       "needs 12"},
      {"offsets past the end", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d8,
       "outside the 8-byte data area"},
      {"end before begin", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", d8,
       "end before"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       d8, "overlaps"},
      {"gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8, "gap"},
      {"trailing bytes", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8,
       "cover 4"},
      {"duplicate tensor",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       d8, "appears twice"},
      {"metadata not strings", R"({"__metadata__":{"x":1}})", "", "not a string"},
      {"metadata not an object", R"({"__metadata__":[1]})", "", "__metadata__ must be"},
      {"missing offsets", R"({"a":{"dtype":"F32","shape":[2]}})", d8, "needs dtype"},
      {"offsets of three", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", d8,
       "data_offsets must be"},
      {"shape overflow",
       R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", d8,
       "too large"},
      {"empty shape whose other dims overflow",
       R"({"a":{"dtype":"F32","shape":[4611686018427387904,4,0],"data_offsets":[0,0]}})", "",
       "too large"},
      {"invalid UTF-8", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d8,
       "invalid"},
      {"deep nesting", "{\"__metadata__\":{\"a\":[[[[[[[[]]]]]]]]}}", "", "nested deeper"},
  };
  for (const BadHeader &c : cases) {
    Status s = parse(rawFile(c.header, c.data));
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_TRUE(contains(s.message(), c.expect)) << c.what << ": " << s.message();
    EXPECT_EQ(s.message().rfind("w.safetensors: ", 0), 0u) << s.message();
  }
}

TEST(Safetensors, HeaderLengthBound) {
  std::vector<uint8_t> bytes(16, 0);
  bytes[7] = 0x7f; // absurd length
  Status s = parse(bytes);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "exceeds the limit")) << s.message();
}

TEST(Safetensors, EmptyAndPaddedFilesAreValid) {
  EXPECT_TRUE(parse(rawFile("{}", "")).ok());
  EXPECT_TRUE(parse(rawFile("{}      ", "")).ok());
  std::string h = R"({"z":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
                  R"("a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})";
  SafetensorsFile f;
  std::vector<uint8_t> b = rawFile(h, "\1");
  Status s = SafetensorsFile::fromBuffer(b.data(), b.size(), "w.safetensors", f);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(f.find("z")->numElements(), 0);
}

TEST(Safetensors, RandomBitFlipsNeverCrash) {
  // A safetensors file has no checksum, so some flips give valid files; the reader must still
  // either accept them with every range in bounds or refuse them with a message.
  std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],)"
                       R"("data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]}})";
  std::vector<uint8_t> bytes = rawFile(header, std::string(14, '\2'));
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[rng() % bad.size()] ^= uint8_t(1u << (rng() % 8));
    SafetensorsFile f;
    Status s = SafetensorsFile::fromBuffer(bad.data(), bad.size(), "w.safetensors", f);
    if (!s.ok()) {
      EXPECT_FALSE(s.message().empty());
      continue;
    }
    size_t dataSize = bad.size() - 8 - header.size();
    for (const SafetensorsTensor &t : f.tensors())
      EXPECT_LE(t.end, dataSize);
  }
}
