//===- Lexer.h - Tokens of the Kiln model language ------------------------===//
#ifndef KILN_FRONTEND_LEXER_H
#define KILN_FRONTEND_LEXER_H

#include "kiln/Frontend/Diagnostics.h"

#include <string>
#include <vector>

namespace kiln {
namespace fe {

enum class Tok {
  Eof,
  Ident,
  Int,
  Float,
  String,
  // keywords
  KwModel,
  KwBlock,
  KwConfig,
  KwInput,
  KwOutput,
  KwRepeat,
  KwAs,
  KwIf,
  KwElse,
  KwObjective,
  KwReturn,
  KwWeights,
  KwTrue,
  KwFalse,
  KwAnd,
  KwOr,
  KwNot,
  // punctuation
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Semi,
  Dot,
  Assign,
  Plus,
  Minus,
  Star,
  StarStar,
  Slash,
  Percent,
  EqEq,
  NotEq,
  Less,
  LessEq,
  Greater,
  GreaterEq,
};

const char *tokSpelling(Tok t);

struct Token {
  Tok Kind = Tok::Eof;
  Loc Where;
  std::string Text; // identifier / string contents / number spelling
  int64_t IntVal = 0;
  double FloatVal = 0;
};

/// Splits a source file into tokens. Lexical errors are reported to `diags`; the offending
/// characters are skipped so that parsing can continue.
std::vector<Token> lex(const SourceFile &file, DiagEngine &diags);

} // namespace fe
} // namespace kiln

#endif // KILN_FRONTEND_LEXER_H
