//===- Sweep.cpp - Exhaustive edits of the example models -----------------===//
//
// kiln-frontend-sweep FILE...
//
// Runs the whole front-end in-process on every truncation of each file (at every byte offset)
// and on every single-token deletion and duplication, and checks that each run either succeeds
// or reports only located errors (file:line:col inside the file). A crash or hang fails the
// ctest that runs it; a violated invariant exits 1 naming the edit.
//
//===----------------------------------------------------------------------===//
#include "kiln/Frontend/Frontend.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace kiln::fe;

namespace {

/// Runs the front-end and checks the diagnostics. Returns an empty string when all is well.
std::string check(const std::string &text) {
  SourceFile file("sweep.kiln", text);
  DiagEngine diags(file);
  FrontendResult r = runFrontend(file, {}, diags);
  uint32_t lines = 1;
  for (char c : text)
    lines += c == '\n';
  for (const Diagnostic &d : diags.diagnostics()) {
    if (d.Sev != Severity::Error)
      continue;
    if (!d.Where.valid())
      return "unlocated error: " + d.Message;
    if (d.Where.line > lines)
      return "error located past the end of the file: " + d.Message;
  }
  if (r.Ok == diags.hasErrors())
    return "result and diagnostics disagree";
  printAST(r.Ast, r.Ok ? &r.G : nullptr);
  return "";
}

/// Byte ranges of the tokens of `s` (approximating the lexer: words, numbers, strings, symbols).
std::vector<std::pair<size_t, size_t>> tokenSpans(const std::string &s) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      while (i < s.size() && s[i] != '\n')
        ++i;
      continue;
    }
    size_t b = i;
    if (std::isalnum(c) || c == '_') {
      while (i < s.size() && (std::isalnum((unsigned char)s[i]) || s[i] == '_'))
        ++i;
    } else if (c == '"') {
      ++i;
      while (i < s.size() && s[i] != '"' && s[i] != '\n')
        ++i;
      if (i < s.size() && s[i] == '"')
        ++i;
    } else {
      ++i;
    }
    out.push_back({b, i});
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  int failures = 0;
  size_t runs = 0;
  auto start = std::chrono::steady_clock::now();
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto report = [&](const std::string &what, const std::string &problem) {
      if (problem.empty())
        return;
      if (++failures <= 20)
        std::printf("FAIL %s: %s: %s\n", argv[a], what.c_str(), problem.c_str());
    };
    for (size_t i = 0; i <= text.size(); ++i, ++runs)
      report("truncated at byte " + std::to_string(i), check(text.substr(0, i)));
    auto spans = tokenSpans(text);
    for (size_t t = 0; t < spans.size(); ++t) {
      auto [b, e] = spans[t];
      report("token " + std::to_string(t) + " deleted", check(text.substr(0, b) + text.substr(e)));
      report("token " + std::to_string(t) + " duplicated",
             check(text.substr(0, e) + " " + text.substr(b, e - b) + text.substr(e)));
      runs += 2;
    }
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("kiln-frontend-sweep: %zu runs in %.1f s, %d failures\n", runs, secs, failures);
  return failures ? 1 : 0;
}
