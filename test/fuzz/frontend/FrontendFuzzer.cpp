//===- FrontendFuzzer.cpp - libFuzzer entry for the Kiln front-end --------===//
//
// Runs the whole front-end (lex, parse, sema/elaboration, AST and parameter text) on arbitrary
// bytes, with and without config overrides. Any crash, sanitizer report, leak or timeout is a
// finding.
//
//===----------------------------------------------------------------------===//
#include "kiln/Frontend/Frontend.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace kiln::fe;
  std::string text(reinterpret_cast<const char *>(data), size);
  SourceFile file("fuzz.kiln", text);
  // The first byte picks an override set, so that the override paths are fuzzed too.
  std::vector<ConfigOverride> overrides;
  if (size > 0 && (data[0] & 1)) {
    ConfigOverride o;
    o.Key = "n_layer";
    o.Value = Scalar::ofInt(2);
    o.Origin = "--set";
    overrides.push_back(o);
    ConfigOverride p;
    p.Key = "vocab_size";
    p.Value = Scalar::ofString("x");
    p.Origin = "config.json";
    overrides.push_back(p);
  }
  DiagEngine diags(file);
  FrontendResult r = runFrontend(file, overrides, diags);
  std::string out = diags.render();
  out += printAST(r.Ast, r.Ok ? &r.G : nullptr);
  if (r.Ok)
    out += formatParams(r.G);
  // Every error must be located or name its origin.
  for (const Diagnostic &d : diags.diagnostics())
    if (d.Sev == Severity::Error && !d.Where.valid() && d.Origin.empty() &&
        d.Message.find("no model declared") == std::string::npos)
      __builtin_trap();
  return 0;
}
