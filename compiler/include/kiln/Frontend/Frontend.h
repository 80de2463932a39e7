//===- Frontend.h - The whole Kiln front-end in one call ------------------===//
//
// lex -> parse -> sema/elaboration. Used by kilnc and by the front-end fuzzer.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_FRONTEND_H
#define KILN_FRONTEND_FRONTEND_H

#include "kiln/Frontend/AST.h"
#include "kiln/Frontend/Graph.h"
#include "kiln/Frontend/Sema.h"

#include <string>
#include <vector>

namespace kiln {
namespace fe {

struct FrontendResult {
  Module Ast;
  Graph G;
  bool Ok = false;
};

/// Runs the front-end over `file`; diagnostics go to `diags`.
FrontendResult runFrontend(const SourceFile &file, const std::vector<ConfigOverride> &overrides,
                           DiagEngine &diags);

/// The AST as indented text, with the config values after overrides when `g` is given
/// (--emit=ast).
std::string printAST(const Module &m, const Graph *g);

} // namespace fe
} // namespace kiln

#endif // KILN_FRONTEND_FRONTEND_H
