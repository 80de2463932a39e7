//===- Parser.cpp - Recursive-descent parser for Kiln ---------------------===//
//
// Each parse function documents the grammar rule it implements; docs/language.md has the whole
// grammar.
//
//===----------------------------------------------------------------------===//
#include "kiln/Frontend/Parser.h"

namespace kiln {
namespace fe {
namespace {

class Parser {
public:
  Parser(const std::vector<Token> &toks, DiagEngine &diags) : Toks(toks), Diags(diags) {}

  Module parseFile();

private:
  const Token &cur() const { return Toks[Pos]; }
  const Token &peek(size_t k = 1) const {
    return Toks[Pos + k < Toks.size() ? Pos + k : Toks.size() - 1];
  }
  bool at(Tok k) const { return cur().Kind == k; }
  void bump() {
    if (Pos + 1 < Toks.size())
      ++Pos;
  }
  bool accept(Tok k) {
    if (!at(k))
      return false;
    bump();
    return true;
  }
  bool expect(Tok k, const char *what) {
    if (accept(k))
      return true;
    errorHere(std::string("expected ") + tokSpelling(k) + " " + what + ", found " + describe(cur()));
    return false;
  }
  static std::string describe(const Token &t) {
    switch (t.Kind) {
    case Tok::Ident: return "'" + t.Text + "'";
    case Tok::Int:
    case Tok::Float: return "number '" + t.Text + "'";
    case Tok::String: return "string \"" + t.Text.substr(0, 40) + "\"";
    default: return tokSpelling(t.Kind);
    }
  }
  void errorHere(const std::string &msg) { error(cur().Where, msg); }
  void error(Loc where, const std::string &msg) {
    // One error per statement: later errors in the same broken statement are noise.
    if (Panic)
      return;
    Diags.error(where, msg);
    Panic = true;
    if (Diags.tooManyErrors())
      Fatal = true;
  }
  bool fatal() { return Fatal; }
  void fatalError(Loc where, const std::string &msg) {
    if (!Fatal)
      Diags.error(where, msg);
    Fatal = true;
    Pos = Toks.size() - 1;
  }

  /// Skips to the start of the next statement (a token on a new line that can begin one) or to
  /// the '}' closing the current block.
  void synchronize(uint32_t errLine);
  bool atStmtStart() const;

  void parseBlockDecl(std::vector<BlockDecl> &out);
  void parseModelDecl(Module &m);
  void parseConfig(ModelDecl &m);
  void parseInput(ModelDecl &m);
  void parseWeights(ModelDecl &m);
  void parseInit(ModelDecl &m);
  void parseStmtList(std::vector<StmtPtr> &out, bool inModel, ModelDecl *model);
  StmtPtr parseStmt();
  void parseArgs(std::vector<ExprPtr> &pos, std::vector<NamedArg> &named);
  bool parsePath(std::string &out, Loc &where);

  ExprPtr parseExpr();
  ExprPtr parseOr();
  ExprPtr parseAnd();
  ExprPtr parseNot();
  ExprPtr parseCmp();
  ExprPtr parseAdd();
  ExprPtr parseMul();
  ExprPtr parseUnary();
  ExprPtr parsePower();
  ExprPtr parsePrimary();
  ExprPtr makeBinary(const Token &op, ExprPtr l, ExprPtr r);
  ExprPtr makeUnary(const Token &op, ExprPtr x);

  struct DepthGuard {
    Parser &P;
    bool Ok;
    DepthGuard(Parser &p, Loc where) : P(p) {
      Ok = ++P.Depth <= MaxNesting;
      if (!Ok)
        P.fatalError(where, "nesting is too deep (limit " + std::to_string(MaxNesting) + ")");
    }
    ~DepthGuard() { --P.Depth; }
  };

  const std::vector<Token> &Toks;
  DiagEngine &Diags;
  size_t Pos = 0;
  unsigned Depth = 0;
  bool Panic = false;
  bool Fatal = false;
};

/// Identifiers and keywords: keywords are valid segments of a parameter path (`decoder.block`).
static bool isWord(Tok k) { return k == Tok::Ident || (k >= Tok::KwModel && k <= Tok::KwNot); }

bool Parser::atStmtStart() const {
  switch (cur().Kind) {
  case Tok::Ident:
  case Tok::KwRepeat:
  case Tok::KwIf:
  case Tok::KwOutput:
  case Tok::KwObjective:
  case Tok::KwReturn:
  case Tok::KwConfig:
  case Tok::KwInput:
  case Tok::KwBlock:
  case Tok::KwWeights:
  case Tok::KwModel:
    return true;
  default:
    return false;
  }
}

void Parser::synchronize(uint32_t errLine) {
  int depth = 0;
  while (!at(Tok::Eof)) {
    if (depth == 0 && at(Tok::RBrace))
      break;
    if (depth == 0 && cur().Where.line > errLine && atStmtStart())
      break;
    if (at(Tok::LBrace))
      ++depth;
    else if (at(Tok::RBrace))
      --depth;
    bump();
  }
  Panic = false;
}

/// file := { block_decl | model_decl } EOF
Module Parser::parseFile() {
  Module m;
  while (!at(Tok::Eof) && !fatal()) {
    if (at(Tok::KwBlock)) {
      parseBlockDecl(m.Blocks);
    } else if (at(Tok::KwModel)) {
      if (m.Model) {
        Loc w = cur().Where;
        error(w, "only one model may be declared per file");
      }
      parseModelDecl(m);
    } else {
      errorHere("expected 'model' or 'block' at file scope, found " + describe(cur()));
      uint32_t line = cur().Where.line;
      bump();
      while (!at(Tok::Eof) && !at(Tok::KwModel) && !at(Tok::KwBlock))
        bump();
      (void)line;
    }
    Panic = false;
  }
  if (!m.Model && !Diags.hasErrors())
    Diags.error(cur().Where, "no model declared (expected 'model NAME { ... }')");
  return m;
}

/// block_decl := 'block' IDENT '(' [param {',' param}] ')' '{' { stmt } '}'
/// param      := IDENT ['=' expr]
void Parser::parseBlockDecl(std::vector<BlockDecl> &out) {
  bump(); // block
  BlockDecl b;
  b.Where = cur().Where;
  if (!at(Tok::Ident)) {
    errorHere("expected a block name after 'block', found " + describe(cur()));
    synchronize(cur().Where.line);
    if (at(Tok::RBrace))
      bump();
    return;
  }
  b.Name = cur().Text;
  bump();
  if (expect(Tok::LParen, "after the block name")) {
    if (!at(Tok::RParen)) {
      do {
        if (!at(Tok::Ident)) {
          errorHere("expected a parameter name, found " + describe(cur()));
          break;
        }
        BlockParam p;
        p.Name = cur().Text;
        p.Where = cur().Where;
        bump();
        if (accept(Tok::Assign))
          p.Default = parseExpr();
        b.Params.push_back(std::move(p));
      } while (accept(Tok::Comma) && !fatal());
    }
    expect(Tok::RParen, "to close the parameter list");
  }
  if (Panic) {
    while (!at(Tok::Eof) && !at(Tok::LBrace))
      bump();
    Panic = false;
  }
  if (expect(Tok::LBrace, "to open the block body")) {
    DepthGuard g(*this, b.Where);
    if (g.Ok)
      parseStmtList(b.Body, false, nullptr);
    expect(Tok::RBrace, "to close the block body");
  }
  out.push_back(std::move(b));
}

/// model_decl := 'model' IDENT '{' { model_item } '}'
void Parser::parseModelDecl(Module &m) {
  bump(); // model
  auto md = std::make_unique<ModelDecl>();
  md->Where = cur().Where;
  if (at(Tok::Ident)) {
    md->Name = cur().Text;
    bump();
  } else {
    errorHere("expected a model name after 'model', found " + describe(cur()));
    Panic = false;
  }
  if (expect(Tok::LBrace, "to open the model body")) {
    parseStmtList(md->Body, true, md.get());
    expect(Tok::RBrace, "to close the model body");
  }
  if (!m.Model)
    m.Model = std::move(md);
}

/// config_section := 'config' ( '{' { config_entry [',' | ';'] } '}'
///                            | config_entry { ',' config_entry } )
/// config_entry   := IDENT '=' expr
void Parser::parseConfig(ModelDecl &m) {
  bump(); // config
  bool braced = accept(Tok::LBrace);
  auto entry = [&]() -> bool {
    if (!at(Tok::Ident)) {
      errorHere("expected a config name, found " + describe(cur()));
      return false;
    }
    ConfigDecl c;
    c.Name = cur().Text;
    c.Where = cur().Where;
    bump();
    if (!expect(Tok::Assign, "after the config name"))
      return false;
    c.Value = parseExpr();
    if (!c.Value)
      return false;
    m.Config.push_back(std::move(c));
    return true;
  };
  if (braced) {
    while (!at(Tok::RBrace) && !at(Tok::Eof) && !fatal()) {
      uint32_t line = cur().Where.line;
      if (!entry()) {
        synchronize(line);
        continue;
      }
      while (accept(Tok::Comma) || accept(Tok::Semi)) {
      }
    }
    expect(Tok::RBrace, "to close the config section");
  } else {
    do {
      if (!entry())
        return;
    } while (accept(Tok::Comma) && !fatal());
  }
}

/// input_decl := 'input' IDENT ':' IDENT '[' dim {',' dim} ']'
/// dim        := IDENT | INT
void Parser::parseInput(ModelDecl &m) {
  bump(); // input
  InputDecl in;
  in.Where = cur().Where;
  if (!at(Tok::Ident)) {
    errorHere("expected an input name after 'input', found " + describe(cur()));
    return;
  }
  in.Name = cur().Text;
  bump();
  if (!expect(Tok::Colon, "after the input name"))
    return;
  if (!at(Tok::Ident)) {
    errorHere("expected an input kind (tokens, mask, type_ids or labels), found " +
              describe(cur()));
    return;
  }
  in.Kind = cur().Text;
  in.KindWhere = cur().Where;
  bump();
  if (!expect(Tok::LBracket, "to open the input's dimensions"))
    return;
  do {
    DimDecl d;
    d.Where = cur().Where;
    if (at(Tok::Ident)) {
      d.Name = cur().Text;
    } else if (at(Tok::Int)) {
      d.Size = cur().IntVal;
    } else {
      errorHere("expected a dimension (a name such as 'batch' or an integer), found " +
                describe(cur()));
      return;
    }
    bump();
    in.Dims.push_back(d);
  } while (accept(Tok::Comma) && !fatal());
  if (!expect(Tok::RBracket, "to close the input's dimensions"))
    return;
  m.Inputs.push_back(std::move(in));
}

/// weights_decl := 'weights' IDENT '{' { prefixes | ignore | rule } '}'
/// prefixes     := 'prefixes' STRING {',' STRING}
/// ignore       := 'ignore' STRING {',' STRING}
/// rule         := STRING '=' (STRING | 'none') { 'transpose' | 'chunk' '(' INT ',' INT ',' INT ')' }
void Parser::parseWeights(ModelDecl &m) {
  Loc where = cur().Where;
  bump(); // weights
  auto w = std::make_unique<WeightsDecl>();
  w->Where = where;
  if (at(Tok::Ident)) {
    w->Format = cur().Text;
    bump();
  } else {
    errorHere("expected the checkpoint format after 'weights' (e.g. 'huggingface'), found " +
              describe(cur()));
    Panic = false;
  }
  if (!expect(Tok::LBrace, "to open the weights section"))
    return;
  while (!at(Tok::RBrace) && !at(Tok::Eof) && !fatal()) {
    uint32_t line = cur().Where.line;
    if (at(Tok::Ident) && cur().Text == "prefixes") {
      bump();
      do {
        if (!at(Tok::String)) {
          errorHere("expected a prefix string such as \"transformer.\", found " + describe(cur()));
          break;
        }
        w->Prefixes.push_back(cur().Text);
        bump();
      } while (accept(Tok::Comma));
    } else if (at(Tok::Ident) && cur().Text == "ignore") {
      bump();
      do {
        if (!at(Tok::String)) {
          errorHere("expected a checkpoint tensor pattern such as \"lm_head.weight\" after "
                    "'ignore', found " + describe(cur()));
          break;
        }
        w->Ignore.push_back({cur().Text, cur().Where});
        bump();
      } while (accept(Tok::Comma));
    } else if (at(Tok::String)) {
      WeightRule r;
      r.Pattern = cur().Text;
      r.Where = cur().Where;
      bump();
      if (expect(Tok::Assign, "after the parameter pattern")) {
        if (at(Tok::String)) {
          r.Target = cur().Text;
          bump();
        } else if (at(Tok::Ident) && cur().Text == "none") {
          r.None = true;
          bump();
        } else {
          errorHere("expected a checkpoint name pattern or 'none', found " + describe(cur()));
        }
        while (!Panic && at(Tok::Ident) && (cur().Text == "transpose" || cur().Text == "chunk")) {
          if (cur().Text == "transpose") {
            r.Transpose = true;
            bump();
            continue;
          }
          r.ChunkWhere = cur().Where;
          bump();
          r.HasChunk = true;
          if (!expect(Tok::LParen, "after 'chunk'"))
            break;
          for (int k = 0; k < 3; ++k) {
            if (!at(Tok::Int)) {
              errorHere("expected an integer in chunk(index, count, axis), found " +
                        describe(cur()));
              break;
            }
            r.Chunk[k] = cur().IntVal;
            bump();
            if (k < 2 && !expect(Tok::Comma, "in chunk(index, count, axis)"))
              break;
          }
          if (!Panic)
            expect(Tok::RParen, "to close chunk(index, count, axis)");
        }
      }
      if (!Panic)
        w->Rules.push_back(std::move(r));
    } else {
      errorHere("expected 'prefixes', 'ignore' or a \"parameter.pattern\" = \"checkpoint.name\" "
                "rule, found " + describe(cur()));
    }
    if (Panic) {
      // Resume at the next line that starts a rule, 'prefixes' or 'ignore', or at the brace.
      while (!at(Tok::Eof) && !at(Tok::RBrace) &&
             !(cur().Where.line > line && (at(Tok::String) || at(Tok::Ident))))
        bump();
      Panic = false;
    }
    while (accept(Tok::Comma) || accept(Tok::Semi)) {
    }
  }
  expect(Tok::RBrace, "to close the weights section");
  if (m.Weights)
    Diags.error(where, "only one weights section may be declared");
  else
    m.Weights = std::move(w);
}

/// init_decl := 'init' '{' { 'std' '=' expr | init_rule } '}'
/// init_rule := STRING { ',' STRING } '=' ( 'normal' '(' expr ')' | 'zeros' | 'ones' )
void Parser::parseInit(ModelDecl &m) {
  Loc where = cur().Where;
  bump(); // init
  auto d = std::make_unique<InitDecl>();
  d->Where = where;
  if (!expect(Tok::LBrace, "to open the init section"))
    return;
  while (!at(Tok::RBrace) && !at(Tok::Eof) && !fatal()) {
    uint32_t line = cur().Where.line;
    if (at(Tok::Ident) && cur().Text == "std") {
      Loc stdWhere = cur().Where;
      bump();
      if (expect(Tok::Assign, "after 'std'")) {
        ExprPtr e = parseExpr();
        if (e && d->DefaultStd) {
          Diags.error(stdWhere, "the default 'std' is already set in this init section");
          Fatal |= Diags.tooManyErrors();
        } else if (e) {
          d->DefaultStd = std::move(e);
          d->DefaultStdWhere = stdWhere;
        }
      }
    } else if (at(Tok::String)) {
      InitRule r;
      r.Where = cur().Where;
      do {
        if (!at(Tok::String)) {
          errorHere("expected a parameter pattern such as \"h.*.attn.o.weight\", found " +
                    describe(cur()));
          break;
        }
        r.Patterns.push_back({cur().Text, cur().Where});
        bump();
      } while (accept(Tok::Comma));
      if (!Panic && expect(Tok::Assign, "after the parameter pattern")) {
        r.KindWhere = cur().Where;
        if (at(Tok::Ident) && (cur().Text == "zeros" || cur().Text == "ones")) {
          r.Kind = cur().Text;
          bump();
        } else if (at(Tok::Ident) && cur().Text == "normal") {
          r.Kind = "normal";
          bump();
          if (expect(Tok::LParen, "after 'normal' (normal(std))")) {
            r.Std = parseExpr();
            if (r.Std)
              expect(Tok::RParen, "to close normal(std)");
          }
        } else {
          errorHere("expected an initializer 'normal(std)', 'zeros' or 'ones', found " +
                    describe(cur()));
        }
      }
      if (!Panic)
        d->Rules.push_back(std::move(r));
    } else {
      errorHere("expected 'std = value' or a \"parameter.pattern\" = normal(std) | zeros | ones "
                "rule, found " + describe(cur()));
    }
    if (Panic) {
      // Resume at the next line that starts a rule or 'std', or at the closing brace.
      while (!at(Tok::Eof) && !at(Tok::RBrace) &&
             !(cur().Where.line > line && (at(Tok::String) || at(Tok::Ident))))
        bump();
      Panic = false;
    }
    while (accept(Tok::Comma) || accept(Tok::Semi)) {
    }
  }
  expect(Tok::RBrace, "to close the init section");
  if (m.Init)
    Diags.error(where, "only one init section may be declared");
  else
    m.Init = std::move(d);
}

void Parser::parseStmtList(std::vector<StmtPtr> &out, bool inModel, ModelDecl *model) {
  while (!at(Tok::RBrace) && !at(Tok::Eof) && !fatal()) {
    uint32_t line = cur().Where.line;
    size_t before = Pos;
    if (inModel && at(Tok::KwConfig)) {
      parseConfig(*model);
    } else if (inModel && at(Tok::KwInput)) {
      parseInput(*model);
    } else if (inModel && at(Tok::KwBlock)) {
      parseBlockDecl(model->Blocks);
    } else if (inModel && at(Tok::KwWeights)) {
      parseWeights(*model);
    } else if (inModel && at(Tok::Ident) && cur().Text == "init" && peek().Kind == Tok::LBrace) {
      parseInit(*model);
    } else if (!inModel && (at(Tok::KwConfig) || at(Tok::KwInput) || at(Tok::KwBlock) ||
                            at(Tok::KwWeights) || at(Tok::KwModel))) {
      errorHere(std::string(tokSpelling(cur().Kind)) +
                " is only allowed directly inside the model body");
    } else if (at(Tok::KwModel)) {
      errorHere("a model cannot be declared inside another model");
    } else {
      StmtPtr s = parseStmt();
      if (s)
        out.push_back(std::move(s));
    }
    while (accept(Tok::Semi)) {
    }
    if (Panic) {
      synchronize(line);
      if (Pos == before && !at(Tok::RBrace))
        bump();
    }
  }
}

/// stmt := IDENT '=' expr
///       | 'repeat' expr ['as' path] '{' { stmt } '}'
///       | 'if' expr '{' { stmt } '}' ['else' ('{' { stmt } '}' | if_stmt)]
///       | 'output' IDENT ['=' expr]
///       | 'objective' IDENT '(' args ')'
///       | 'return' expr
StmtPtr Parser::parseStmt() {
  DepthGuard g(*this, cur().Where);
  if (!g.Ok)
    return nullptr;
  auto s = std::make_unique<Stmt>();
  s->Where = cur().Where;
  switch (cur().Kind) {
  case Tok::Ident: {
    s->Kind = StmtKind::Assign;
    s->Name = cur().Text;
    s->NameWhere = cur().Where;
    bump();
    if (!at(Tok::Assign)) {
      if (at(Tok::LParen))
        errorHere("a call must be assigned to a name ('x = " + s->Name + "(...)')");
      else
        errorHere("expected '=' after '" + s->Name + "', found " + describe(cur()));
      return nullptr;
    }
    bump();
    s->Value = parseExpr();
    if (s->Value && at(Tok::KwAs)) {
      errorHere("'as' names the parameters of a call, but this expression is not a call");
      return nullptr;
    }
    return s->Value ? std::move(s) : nullptr;
  }
  case Tok::KwRepeat: {
    s->Kind = StmtKind::Repeat;
    bump();
    s->Value = parseExpr();
    if (!s->Value)
      return nullptr;
    if (accept(Tok::KwAs) && !parsePath(s->Name, s->NameWhere))
      return nullptr;
    if (!expect(Tok::LBrace, "to open the repeat body"))
      return nullptr;
    parseStmtList(s->Body, false, nullptr);
    if (!expect(Tok::RBrace, "to close the repeat body"))
      return nullptr;
    return s;
  }
  case Tok::KwIf: {
    s->Kind = StmtKind::If;
    bump();
    s->Value = parseExpr();
    if (!s->Value)
      return nullptr;
    if (!expect(Tok::LBrace, "to open the if body"))
      return nullptr;
    parseStmtList(s->Body, false, nullptr);
    if (!expect(Tok::RBrace, "to close the if body"))
      return nullptr;
    if (accept(Tok::KwElse)) {
      if (at(Tok::KwIf)) {
        StmtPtr e = parseStmt();
        if (!e)
          return nullptr;
        s->ElseBody.push_back(std::move(e));
      } else {
        if (!expect(Tok::LBrace, "to open the else body"))
          return nullptr;
        parseStmtList(s->ElseBody, false, nullptr);
        if (!expect(Tok::RBrace, "to close the else body"))
          return nullptr;
      }
    }
    return s;
  }
  case Tok::KwOutput: {
    s->Kind = StmtKind::Output;
    bump();
    if (!at(Tok::Ident)) {
      errorHere("expected an output name after 'output', found " + describe(cur()));
      return nullptr;
    }
    s->Name = cur().Text;
    s->NameWhere = cur().Where;
    bump();
    if (accept(Tok::Assign)) {
      s->Value = parseExpr();
      if (!s->Value)
        return nullptr;
    }
    return s;
  }
  case Tok::KwObjective: {
    s->Kind = StmtKind::Objective;
    bump();
    if (!at(Tok::Ident)) {
      errorHere("expected an objective (causal_lm, masked_lm, seq2seq_lm or classification), "
                "found " + describe(cur()));
      return nullptr;
    }
    s->Name = cur().Text;
    s->NameWhere = cur().Where;
    bump();
    if (!expect(Tok::LParen, "after the objective name"))
      return nullptr;
    parseArgs(s->Args, s->Named);
    if (Panic)
      return nullptr;
    return s;
  }
  case Tok::KwReturn: {
    s->Kind = StmtKind::Return;
    bump();
    s->Value = parseExpr();
    return s->Value ? std::move(s) : nullptr;
  }
  default:
    errorHere("expected a statement, found " + describe(cur()));
    return nullptr;
  }
}

/// args := [arg {',' arg}] ')'      arg := IDENT ':' expr | expr
void Parser::parseArgs(std::vector<ExprPtr> &pos, std::vector<NamedArg> &named) {
  if (accept(Tok::RParen))
    return;
  do {
    if (at(Tok::Ident) && peek().Kind == Tok::Colon) {
      NamedArg a;
      a.Name = cur().Text;
      a.Where = cur().Where;
      bump();
      bump();
      a.Value = parseExpr();
      if (!a.Value)
        return;
      named.push_back(std::move(a));
    } else {
      if (!named.empty()) {
        errorHere("positional argument after a named argument");
        return;
      }
      ExprPtr e = parseExpr();
      if (!e)
        return;
      pos.push_back(std::move(e));
    }
    if (pos.size() + named.size() > 64) {
      errorHere("too many arguments (limit 64)");
      return;
    }
  } while (accept(Tok::Comma) && !fatal());
  expect(Tok::RParen, "to close the argument list");
}

/// path := IDENT {'.' (IDENT | INT)}
bool Parser::parsePath(std::string &out, Loc &where) {
  where = cur().Where;
  if (!isWord(cur().Kind)) {
    errorHere("expected a name after 'as', found " + describe(cur()));
    return false;
  }
  out = cur().Text;
  bump();
  while (at(Tok::Dot)) {
    bump();
    if (isWord(cur().Kind)) {
      out += "." + cur().Text;
    } else if (at(Tok::Int)) {
      out += "." + std::to_string(cur().IntVal);
    } else {
      errorHere("expected a name or an integer after '.' in a parameter path, found " +
                describe(cur()));
      return false;
    }
    bump();
    if (out.size() > 512) {
      errorHere("parameter path is too long");
      return false;
    }
  }
  return true;
}

ExprPtr Parser::makeBinary(const Token &op, ExprPtr l, ExprPtr r) {
  auto e = std::make_unique<Expr>();
  e->Kind = ExprKind::Binary;
  e->Where = op.Where;
  e->Text = op.Kind == Tok::KwAnd ? "and" : op.Kind == Tok::KwOr ? "or" : op.Text;
  if (e->Text.empty()) {
    std::string sp = tokSpelling(op.Kind);
    e->Text = sp.substr(1, sp.size() - 2);
  }
  e->Depth = 1 + std::max(l->Depth, r->Depth);
  e->Args.push_back(std::move(l));
  e->Args.push_back(std::move(r));
  if (e->Depth > 4 * MaxNesting) {
    fatalError(op.Where, "expression is too deeply nested (limit " +
                             std::to_string(4 * MaxNesting) + ")");
    return nullptr;
  }
  return e;
}

ExprPtr Parser::makeUnary(const Token &op, ExprPtr x) {
  auto e = std::make_unique<Expr>();
  e->Kind = ExprKind::Unary;
  e->Where = op.Where;
  e->Text = op.Kind == Tok::KwNot ? "not" : "-";
  e->Depth = 1 + x->Depth;
  e->Args.push_back(std::move(x));
  if (e->Depth > 4 * MaxNesting) {
    fatalError(op.Where, "expression is too deeply nested (limit " +
                             std::to_string(4 * MaxNesting) + ")");
    return nullptr;
  }
  return e;
}

/// expr := or_expr ;  or_expr := and_expr {'or' and_expr}
ExprPtr Parser::parseExpr() {
  DepthGuard g(*this, cur().Where);
  if (!g.Ok)
    return nullptr;
  return parseOr();
}

ExprPtr Parser::parseOr() {
  ExprPtr l = parseAnd();
  while (l && at(Tok::KwOr)) {
    Token op = cur();
    bump();
    ExprPtr r = parseAnd();
    if (!r)
      return nullptr;
    l = makeBinary(op, std::move(l), std::move(r));
  }
  return l;
}

/// and_expr := not_expr {'and' not_expr}
ExprPtr Parser::parseAnd() {
  ExprPtr l = parseNot();
  while (l && at(Tok::KwAnd)) {
    Token op = cur();
    bump();
    ExprPtr r = parseNot();
    if (!r)
      return nullptr;
    l = makeBinary(op, std::move(l), std::move(r));
  }
  return l;
}

/// not_expr := 'not' not_expr | cmp_expr
ExprPtr Parser::parseNot() {
  if (at(Tok::KwNot)) {
    Token op = cur();
    bump();
    DepthGuard g(*this, op.Where);
    if (!g.Ok)
      return nullptr;
    ExprPtr x = parseNot();
    return x ? makeUnary(op, std::move(x)) : nullptr;
  }
  return parseCmp();
}

/// cmp_expr := add_expr [('==' | '!=' | '<' | '<=' | '>' | '>=') add_expr]
ExprPtr Parser::parseCmp() {
  ExprPtr l = parseAdd();
  if (!l)
    return nullptr;
  switch (cur().Kind) {
  case Tok::EqEq:
  case Tok::NotEq:
  case Tok::Less:
  case Tok::LessEq:
  case Tok::Greater:
  case Tok::GreaterEq: {
    Token op = cur();
    bump();
    ExprPtr r = parseAdd();
    if (!r)
      return nullptr;
    return makeBinary(op, std::move(l), std::move(r));
  }
  default:
    return l;
  }
}

/// add_expr := mul_expr {('+' | '-') mul_expr}
ExprPtr Parser::parseAdd() {
  ExprPtr l = parseMul();
  while (l && (at(Tok::Plus) || at(Tok::Minus))) {
    Token op = cur();
    bump();
    ExprPtr r = parseMul();
    if (!r)
      return nullptr;
    l = makeBinary(op, std::move(l), std::move(r));
  }
  return l;
}

/// mul_expr := unary_expr {('*' | '/' | '%') unary_expr}
ExprPtr Parser::parseMul() {
  ExprPtr l = parseUnary();
  while (l && (at(Tok::Star) || at(Tok::Slash) || at(Tok::Percent))) {
    Token op = cur();
    bump();
    ExprPtr r = parseUnary();
    if (!r)
      return nullptr;
    l = makeBinary(op, std::move(l), std::move(r));
  }
  return l;
}

/// unary_expr := '-' unary_expr | power_expr
ExprPtr Parser::parseUnary() {
  if (at(Tok::Minus)) {
    Token op = cur();
    bump();
    DepthGuard g(*this, op.Where);
    if (!g.Ok)
      return nullptr;
    ExprPtr x = parseUnary();
    return x ? makeUnary(op, std::move(x)) : nullptr;
  }
  return parsePower();
}

/// power_expr := primary ['**' unary_expr]
ExprPtr Parser::parsePower() {
  ExprPtr l = parsePrimary();
  if (l && at(Tok::StarStar)) {
    Token op = cur();
    bump();
    DepthGuard g(*this, op.Where);
    if (!g.Ok)
      return nullptr;
    ExprPtr r = parseUnary();
    if (!r)
      return nullptr;
    return makeBinary(op, std::move(l), std::move(r));
  }
  return l;
}

/// primary := INT | FLOAT | STRING | 'true' | 'false' | '(' expr ')'
///          | IDENT ['(' args ['as' path]]
ExprPtr Parser::parsePrimary() {
  auto e = std::make_unique<Expr>();
  e->Where = cur().Where;
  switch (cur().Kind) {
  case Tok::Int:
    e->Kind = ExprKind::Int;
    e->IntVal = cur().IntVal;
    bump();
    return e;
  case Tok::Float:
    e->Kind = ExprKind::Float;
    e->FloatVal = cur().FloatVal;
    bump();
    return e;
  case Tok::String:
    e->Kind = ExprKind::String;
    e->Text = cur().Text;
    bump();
    return e;
  case Tok::KwTrue:
  case Tok::KwFalse:
    e->Kind = ExprKind::Bool;
    e->BoolVal = at(Tok::KwTrue);
    bump();
    return e;
  case Tok::LParen: {
    bump();
    ExprPtr inner = parseExpr();
    if (!inner)
      return nullptr;
    if (!expect(Tok::RParen, "to close the parenthesized expression"))
      return nullptr;
    return inner;
  }
  case Tok::Ident: {
    e->Text = cur().Text;
    bump();
    if (!at(Tok::LParen)) {
      e->Kind = ExprKind::Name;
      return e;
    }
    e->Kind = ExprKind::Call;
    bump();
    parseArgs(e->Args, e->Named);
    if (Panic)
      return nullptr;
    unsigned d = 0;
    for (auto &a : e->Args)
      d = std::max(d, a->Depth);
    for (auto &a : e->Named)
      d = std::max(d, a.Value->Depth);
    e->Depth = d + 1;
    if (accept(Tok::KwAs)) {
      if (!parsePath(e->AsName, e->AsWhere))
        return nullptr;
    }
    return e;
  }
  default:
    errorHere("expected an expression, found " + describe(cur()));
    return nullptr;
  }
}

} // namespace

Module parseModule(const std::vector<Token> &tokens, DiagEngine &diags) {
  Parser p(tokens, diags);
  return p.parseFile();
}

} // namespace fe
} // namespace kiln
