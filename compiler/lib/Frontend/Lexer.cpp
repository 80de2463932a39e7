//===- Lexer.cpp - Tokens of the Kiln model language ----------------------===//
#include "kiln/Frontend/Lexer.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace kiln {
namespace fe {

const char *tokSpelling(Tok t) {
  switch (t) {
  case Tok::Eof: return "end of file";
  case Tok::Ident: return "identifier";
  case Tok::Int: return "integer";
  case Tok::Float: return "number";
  case Tok::String: return "string";
  case Tok::KwModel: return "'model'";
  case Tok::KwBlock: return "'block'";
  case Tok::KwConfig: return "'config'";
  case Tok::KwInput: return "'input'";
  case Tok::KwOutput: return "'output'";
  case Tok::KwRepeat: return "'repeat'";
  case Tok::KwAs: return "'as'";
  case Tok::KwIf: return "'if'";
  case Tok::KwElse: return "'else'";
  case Tok::KwObjective: return "'objective'";
  case Tok::KwReturn: return "'return'";
  case Tok::KwWeights: return "'weights'";
  case Tok::KwTrue: return "'true'";
  case Tok::KwFalse: return "'false'";
  case Tok::KwAnd: return "'and'";
  case Tok::KwOr: return "'or'";
  case Tok::KwNot: return "'not'";
  case Tok::LBrace: return "'{'";
  case Tok::RBrace: return "'}'";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::LBracket: return "'['";
  case Tok::RBracket: return "']'";
  case Tok::Comma: return "','";
  case Tok::Colon: return "':'";
  case Tok::Semi: return "';'";
  case Tok::Dot: return "'.'";
  case Tok::Assign: return "'='";
  case Tok::Plus: return "'+'";
  case Tok::Minus: return "'-'";
  case Tok::Star: return "'*'";
  case Tok::StarStar: return "'**'";
  case Tok::Slash: return "'/'";
  case Tok::Percent: return "'%'";
  case Tok::EqEq: return "'=='";
  case Tok::NotEq: return "'!='";
  case Tok::Less: return "'<'";
  case Tok::LessEq: return "'<='";
  case Tok::Greater: return "'>'";
  case Tok::GreaterEq: return "'>='";
  }
  return "token";
}

namespace {

struct Keyword {
  const char *Text;
  Tok Kind;
};
const Keyword Keywords[] = {
    {"model", Tok::KwModel},         {"block", Tok::KwBlock},   {"config", Tok::KwConfig},
    {"input", Tok::KwInput},         {"output", Tok::KwOutput}, {"repeat", Tok::KwRepeat},
    {"as", Tok::KwAs},               {"if", Tok::KwIf},         {"else", Tok::KwElse},
    {"objective", Tok::KwObjective}, {"return", Tok::KwReturn}, {"weights", Tok::KwWeights},
    {"true", Tok::KwTrue},           {"false", Tok::KwFalse},   {"and", Tok::KwAnd},
    {"or", Tok::KwOr},               {"not", Tok::KwNot},
};

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

} // namespace

std::vector<Token> lex(const SourceFile &file, DiagEngine &diags) {
  const std::string &s = file.text();
  std::vector<Token> toks;
  size_t i = 0, n = s.size();
  uint32_t line = 1, col = 1;
  auto advance = [&](size_t k) {
    for (size_t j = 0; j < k && i < n; ++j, ++i) {
      if (s[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  unsigned badChars = 0;
  while (i < n) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      advance(1);
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      while (i < n && s[i] != '\n')
        advance(1);
      continue;
    }
    Token t;
    t.Where = {line, col};
    if (isIdentStart(c)) {
      size_t b = i;
      while (i < n && (isIdentStart(s[i]) || isDigit(s[i])))
        advance(1);
      t.Text = s.substr(b, i - b);
      t.Kind = Tok::Ident;
      for (const Keyword &k : Keywords)
        if (t.Text == k.Text)
          t.Kind = k.Kind;
      if (t.Text.size() > 256) {
        diags.error(t.Where, "identifier is longer than 256 characters");
        t.Text.resize(256);
      }
      toks.push_back(std::move(t));
      continue;
    }
    if (isDigit(c)) {
      size_t b = i;
      bool isFloat = false;
      while (i < n && isDigit(s[i]))
        advance(1);
      // A '.' is part of the number only when a digit follows ("0.5"), so that dotted
      // names such as `layer.0.SelfAttention` lex as names.
      if (i + 1 < n && s[i] == '.' && isDigit(s[i + 1])) {
        isFloat = true;
        advance(1);
        while (i < n && isDigit(s[i]))
          advance(1);
      }
      if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t k = i + 1;
        if (k < n && (s[k] == '+' || s[k] == '-'))
          ++k;
        if (k < n && isDigit(s[k])) {
          isFloat = true;
          advance(k - i);
          while (i < n && isDigit(s[i]))
            advance(1);
        }
      }
      t.Text = s.substr(b, i - b);
      if (i < n && isIdentStart(s[i])) {
        diags.error({line, col}, "unexpected character '" + std::string(1, s[i]) +
                                     "' after number '" + t.Text + "'");
        while (i < n && (isIdentStart(s[i]) || isDigit(s[i])))
          advance(1);
      }
      if (t.Text.size() > 64) {
        diags.error(t.Where, "number literal is too long");
        t.Kind = isFloat ? Tok::Float : Tok::Int;
        toks.push_back(std::move(t));
        continue;
      }
      errno = 0;
      if (isFloat) {
        t.Kind = Tok::Float;
        t.FloatVal = std::strtod(t.Text.c_str(), nullptr);
        if (errno == ERANGE && std::isinf(t.FloatVal)) {
          diags.error(t.Where, "floating-point literal '" + t.Text + "' is out of range");
          t.FloatVal = 0;
        }
      } else {
        t.Kind = Tok::Int;
        unsigned long long v = std::strtoull(t.Text.c_str(), nullptr, 10);
        if (errno == ERANGE || v > (1ULL << 62)) {
          diags.error(t.Where, "integer literal '" + t.Text + "' is too large (limit 2^62)");
          v = 0;
        }
        t.IntVal = (int64_t)v;
      }
      toks.push_back(std::move(t));
      continue;
    }
    if (c == '"') {
      advance(1);
      std::string v;
      bool closed = false;
      while (i < n && s[i] != '\n') {
        if (s[i] == '"') {
          closed = true;
          advance(1);
          break;
        }
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\')) {
          v += s[i + 1];
          advance(2);
          continue;
        }
        v += s[i];
        advance(1);
      }
      if (!closed)
        diags.error(t.Where, "unterminated string literal");
      if (v.size() > 1024) {
        diags.error(t.Where, "string literal is longer than 1024 characters");
        v.resize(1024);
      }
      t.Kind = Tok::String;
      t.Text = std::move(v);
      toks.push_back(std::move(t));
      continue;
    }
    auto two = [&](char a, char b) { return c == a && i + 1 < n && s[i + 1] == b; };
    size_t len = 1;
    if (two('*', '*')) { t.Kind = Tok::StarStar; len = 2; }
    else if (two('=', '=')) { t.Kind = Tok::EqEq; len = 2; }
    else if (two('!', '=')) { t.Kind = Tok::NotEq; len = 2; }
    else if (two('<', '=')) { t.Kind = Tok::LessEq; len = 2; }
    else if (two('>', '=')) { t.Kind = Tok::GreaterEq; len = 2; }
    else {
      switch (c) {
      case '{': t.Kind = Tok::LBrace; break;
      case '}': t.Kind = Tok::RBrace; break;
      case '(': t.Kind = Tok::LParen; break;
      case ')': t.Kind = Tok::RParen; break;
      case '[': t.Kind = Tok::LBracket; break;
      case ']': t.Kind = Tok::RBracket; break;
      case ',': t.Kind = Tok::Comma; break;
      case ':': t.Kind = Tok::Colon; break;
      case ';': t.Kind = Tok::Semi; break;
      case '.': t.Kind = Tok::Dot; break;
      case '=': t.Kind = Tok::Assign; break;
      case '+': t.Kind = Tok::Plus; break;
      case '-': t.Kind = Tok::Minus; break;
      case '*': t.Kind = Tok::Star; break;
      case '/': t.Kind = Tok::Slash; break;
      case '%': t.Kind = Tok::Percent; break;
      case '<': t.Kind = Tok::Less; break;
      case '>': t.Kind = Tok::Greater; break;
      default: {
        std::string shown;
        unsigned char uc = (unsigned char)c;
        if (uc >= 0x21 && uc < 0x7f) {
          shown = std::string("'") + c + "'";
        } else {
          char buf[16];
          snprintf(buf, sizeof(buf), "0x%02X", uc);
          shown = buf;
        }
        if (++badChars <= 5)
          diags.error(t.Where, "unexpected character " + shown);
        advance(1);
        continue;
      }
      }
    }
    advance(len);
    toks.push_back(std::move(t));
  }
  Token eof;
  eof.Kind = Tok::Eof;
  eof.Where = {line, col};
  toks.push_back(eof);
  return toks;
}

} // namespace fe
} // namespace kiln
