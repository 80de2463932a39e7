//===- ASTPrinter.cpp - Text form of the Kiln AST (--emit=ast) ------------===//
#include "kiln/Frontend/Frontend.h"
#include "kiln/Frontend/Lexer.h"
#include "kiln/Frontend/Parser.h"

namespace kiln {
namespace fe {
namespace {

std::string loc(Loc l) { return "@" + std::to_string(l.line) + ":" + std::to_string(l.col); }

std::string expr(const Expr &e) {
  switch (e.Kind) {
  case ExprKind::Int:
    return std::to_string(e.IntVal);
  case ExprKind::Float:
    return formatScalar(Scalar::ofFloat(e.FloatVal));
  case ExprKind::Bool:
    return e.BoolVal ? "true" : "false";
  case ExprKind::String:
    return "\"" + e.Text + "\"";
  case ExprKind::Name:
    return e.Text;
  case ExprKind::Unary:
    return "(" + e.Text + " " + expr(*e.Args[0]) + ")";
  case ExprKind::Binary:
    return "(" + e.Text + " " + expr(*e.Args[0]) + " " + expr(*e.Args[1]) + ")";
  case ExprKind::Call: {
    std::string s = "(call " + e.Text;
    for (auto &a : e.Args)
      s += " " + expr(*a);
    for (auto &n : e.Named)
      s += " " + n.Name + ":" + expr(*n.Value);
    if (!e.AsName.empty())
      s += " as " + e.AsName;
    return s + ")";
  }
  }
  return "?";
}

void stmts(const std::vector<StmtPtr> &list, const std::string &ind, std::string &out) {
  for (const StmtPtr &sp : list) {
    const Stmt &s = *sp;
    switch (s.Kind) {
    case StmtKind::Assign:
      out += ind + "assign " + s.Name + " " + loc(s.Where) + " = " + expr(*s.Value) + "\n";
      break;
    case StmtKind::Repeat:
      out += ind + "repeat " + expr(*s.Value) + (s.Name.empty() ? "" : " as " + s.Name) + " " +
             loc(s.Where) + "\n";
      stmts(s.Body, ind + "  ", out);
      break;
    case StmtKind::If:
      out += ind + "if " + expr(*s.Value) + " " + loc(s.Where) + "\n";
      stmts(s.Body, ind + "  ", out);
      if (!s.ElseBody.empty()) {
        out += ind + "else\n";
        stmts(s.ElseBody, ind + "  ", out);
      }
      break;
    case StmtKind::Output:
      out += ind + "output " + s.Name + " " + loc(s.Where) +
             (s.Value ? " = " + expr(*s.Value) : std::string()) + "\n";
      break;
    case StmtKind::Objective: {
      out += ind + "objective " + s.Name + " " + loc(s.Where) + " (";
      for (size_t i = 0; i < s.Args.size(); ++i)
        out += (i ? " " : "") + expr(*s.Args[i]);
      for (auto &n : s.Named)
        out += " " + n.Name + ":" + expr(*n.Value);
      out += ")\n";
      break;
    }
    case StmtKind::Return:
      out += ind + "return " + expr(*s.Value) + " " + loc(s.Where) + "\n";
      break;
    }
  }
}

void block(const BlockDecl &b, const std::string &ind, std::string &out) {
  out += ind + "block " + b.Name + " " + loc(b.Where) + " (";
  for (size_t i = 0; i < b.Params.size(); ++i) {
    out += (i ? ", " : "") + b.Params[i].Name;
    if (b.Params[i].Default)
      out += " = " + expr(*b.Params[i].Default);
  }
  out += ")\n";
  stmts(b.Body, ind + "  ", out);
}

} // namespace

std::string printAST(const Module &m, const Graph *g) {
  std::string out;
  for (const BlockDecl &b : m.Blocks)
    block(b, "", out);
  if (!m.Model)
    return out;
  const ModelDecl &md = *m.Model;
  out += "model " + md.Name + " " + loc(md.Where) + "\n";
  for (const ConfigDecl &c : md.Config) {
    out += "  config " + c.Name + " " + loc(c.Where) + " = " + expr(*c.Value);
    if (g)
      for (const ConfigValue &v : g->Config)
        if (v.Name == c.Name) {
          out += " -> " + formatScalar(v.Value);
          if (!v.Origin.empty())
            out += " (from " + v.Origin + ")";
        }
    out += "\n";
  }
  for (const InputDecl &in : md.Inputs) {
    out += "  input " + in.Name + " " + loc(in.Where) + ": " + in.Kind + "[";
    for (size_t i = 0; i < in.Dims.size(); ++i)
      out += (i ? ", " : "") +
             (in.Dims[i].Name.empty() ? std::to_string(in.Dims[i].Size) : in.Dims[i].Name);
    out += "]\n";
  }
  for (const BlockDecl &b : md.Blocks)
    block(b, "  ", out);
  stmts(md.Body, "  ", out);
  if (md.Weights) {
    out += "  weights " + md.Weights->Format + " " + loc(md.Weights->Where) + "\n";
    if (!md.Weights->Prefixes.empty()) {
      out += "    prefixes";
      for (size_t i = 0; i < md.Weights->Prefixes.size(); ++i)
        out += (i ? ", \"" : " \"") + md.Weights->Prefixes[i] + "\"";
      out += "\n";
    }
    for (const WeightRule &r : md.Weights->Rules) {
      out += "    \"" + r.Pattern + "\" = " + (r.None ? "none" : "\"" + r.Target + "\"");
      if (r.Transpose)
        out += " transpose";
      if (r.HasChunk)
        out += " chunk(" + std::to_string(r.Chunk[0]) + ", " + std::to_string(r.Chunk[1]) + ", " +
               std::to_string(r.Chunk[2]) + ")";
      out += "\n";
    }
  }
  return out;
}

FrontendResult runFrontend(const SourceFile &file, const std::vector<ConfigOverride> &overrides,
                           DiagEngine &diags) {
  FrontendResult r;
  std::vector<Token> toks = lex(file, diags);
  r.Ast = parseModule(toks, diags);
  // Elaborate only a syntactically valid file: errors after a syntax error are mostly noise.
  if (diags.hasErrors() || !r.Ast.Model)
    return r;
  r.Ok = elaborate(r.Ast, overrides, diags, r.G);
  return r;
}

} // namespace fe
} // namespace kiln
