//===- MakeArtifact.cpp - Test helper: build a .kc from a manifest --------===//
//
//   kiln-make-artifact MANIFEST.json -o OUT.kc [--section NAME:KIND:FILE]...
//
// KIND is code, schedule or data. Stands in for kilnc in tests until the compiler writes
// artifacts; goes through the same ArtifactWriter the compiler uses.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/artifact/Artifact.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

using namespace kiln::rt;

static bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

int main(int argc, char **argv) {
  std::string manifestPath, output;
  ArtifactWriter writer;
  std::vector<std::string> sectionArgs;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-o") && i + 1 < argc)
      output = argv[++i];
    else if (!std::strcmp(argv[i], "--section") && i + 1 < argc)
      sectionArgs.push_back(argv[++i]);
    else
      manifestPath = argv[i];
  }
  if (manifestPath.empty() || output.empty()) {
    std::fprintf(stderr, "usage: kiln-make-artifact MANIFEST.json -o OUT.kc "
                         "[--section NAME:KIND:FILE]...\n");
    return 2;
  }
  std::string json;
  if (!readFile(manifestPath, json)) {
    std::fprintf(stderr, "%s: cannot read\n", manifestPath.c_str());
    return 1;
  }
  Manifest m;
  Status s = parseManifest(json, m, manifestPath);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  writer.setManifest(std::move(m));
  for (const std::string &arg : sectionArgs) {
    size_t a = arg.find(':'), b = arg.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) {
      std::fprintf(stderr, "bad --section %s\n", arg.c_str());
      return 2;
    }
    std::string name = arg.substr(0, a), kind = arg.substr(a + 1, b - a - 1);
    std::string bytes;
    if (!readFile(arg.substr(b + 1), bytes)) {
      std::fprintf(stderr, "%s: cannot read\n", arg.substr(b + 1).c_str());
      return 1;
    }
    SectionKind k = kind == "code" ? SectionKind::Code
                    : kind == "schedule" ? SectionKind::Schedule
                                         : SectionKind::Data;
    writer.addSection(name, k, bytes.data(), bytes.size());
  }
  s = writer.write(output);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
