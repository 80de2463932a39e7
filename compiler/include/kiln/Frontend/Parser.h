//===- Parser.h - Recursive-descent parser for Kiln -----------------------===//
//
// Builds a Module from tokens. Syntax errors are reported with their location; the parser then
// skips to the next statement and continues, so that one run reports several errors. Nesting
// (blocks, parentheses, operator chains) is bounded by MaxNesting so that no input can exhaust
// the stack.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_PARSER_H
#define KILN_FRONTEND_PARSER_H

#include "kiln/Frontend/AST.h"
#include "kiln/Frontend/Lexer.h"

namespace kiln {
namespace fe {

constexpr unsigned MaxNesting = 64;

/// Parses a whole file. Returns a module (possibly partial) even on errors.
Module parseModule(const std::vector<Token> &tokens, DiagEngine &diags);

} // namespace fe
} // namespace kiln

#endif // KILN_FRONTEND_PARSER_H
