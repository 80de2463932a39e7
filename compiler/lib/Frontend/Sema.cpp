//===- Sema.cpp - Semantic checks and elaboration of Kiln models ---------===//
//
// An interpreter over the AST: config values are evaluated lazily (cycles are reported),
// statements run in order with `repeat` unrolled and blocks inlined, and each built-in call
// checks its arguments and appends kiln ops and parameters to the Graph.
//
//===----------------------------------------------------------------------===//
#include "kiln/Frontend/Sema.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace kiln {
namespace fe {
namespace {

std::string locStr(Loc l) { return std::to_string(l.line) + ":" + std::to_string(l.col); }

/// Levenshtein distance, for "did you mean" hints; bounded to short names.
unsigned editDistance(const std::string &a, const std::string &b) {
  if (a.size() > 64 || b.size() > 64)
    return 100;
  std::vector<unsigned> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggest(const std::string &name, const std::vector<std::string> &candidates) {
  std::string best;
  unsigned bestD = 3;
  for (const std::string &c : candidates) {
    unsigned d = editDistance(name, c);
    if (d < bestD || (d == bestD && best.empty() && d <= name.size() / 3)) {
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

struct Value {
  enum Kind { Error, None, Scal, Tensor } K = None;
  Scalar S;
  int T = -1;
  static Value err() { Value v; v.K = Error; return v; }
  static Value scalar(Scalar s) { Value v; v.K = Scal; v.S = std::move(s); return v; }
  static Value tensor(int t) { Value v; v.K = Tensor; v.T = t; return v; }
  bool isErr() const { return K == Error; }
  bool isInt() const { return K == Scal && S.K == Scalar::Int; }
  bool isNum() const { return K == Scal && (S.K == Scalar::Int || S.K == Scalar::Float); }
  bool isBool() const { return K == Scal && S.K == Scalar::Bool; }
  bool isStr() const { return K == Scal && S.K == Scalar::String; }
  double num() const { return S.K == Scalar::Int ? (double)S.I : S.F; }
};

enum class ArgKind { Tensor, Int, Num, Bool, Enum, Ref };

struct ArgSpec {
  const char *Name;
  ArgKind K;
  bool Required;
  bool Positional;
};

struct BoundArgs {
  std::vector<const ArgSpec *> Specs;
  std::vector<Value> Vals;
  std::vector<std::string> Text; // Enum / Ref arguments
  std::vector<bool> Present;
  std::vector<Loc> Where;

  int index(const char *name) const {
    for (size_t i = 0; i < Specs.size(); ++i)
      if (std::string(Specs[i]->Name) == name)
        return (int)i;
    return -1;
  }
  bool has(const char *name) const {
    int i = index(name);
    return i >= 0 && Present[i];
  }
  const Value &val(const char *name) const { return Vals[index(name)]; }
  int64_t i64(const char *name, int64_t dflt) const {
    int i = index(name);
    return i >= 0 && Present[i] ? Vals[i].S.I : dflt;
  }
  double f64(const char *name, double dflt) const {
    int i = index(name);
    return i >= 0 && Present[i] ? Vals[i].num() : dflt;
  }
  bool flag(const char *name, bool dflt) const {
    int i = index(name);
    return i >= 0 && Present[i] ? Vals[i].S.B : dflt;
  }
  int tensor(const char *name) const {
    int i = index(name);
    return i >= 0 && Present[i] ? Vals[i].T : -1;
  }
  std::string text(const char *name, const std::string &dflt) const {
    int i = index(name);
    return i >= 0 && Present[i] ? Text[i] : dflt;
  }
  Loc loc(const char *name, Loc dflt) const {
    int i = index(name);
    return i >= 0 && Present[i] ? Where[i] : dflt;
  }
};

class Elaborator;
using Handler = Value (Elaborator::*)(const Expr &, const BoundArgs &);

struct Builtin {
  const char *Name;
  std::vector<ArgSpec> Args;
  Handler Fn;
  const char *Usage;
};

class Elaborator {
public:
  Elaborator(const Module &m, const std::vector<ConfigOverride> &ov, DiagEngine &d, Graph &g,
             const Limits &l)
      : M(m), MD(*m.Model), Overrides(ov), D(d), G(g), L(l) {}

  void run();

private:
  // ---- diagnostics and limits ----
  Value error(Loc where, const std::string &msg) {
    D.error(where, msg);
    if (D.tooManyErrors())
      Abort = true;
    return Value::err();
  }
  void fatal(Loc where, const std::string &msg) {
    if (!Abort)
      D.error(where, msg);
    Abort = true;
  }

  // ---- config ----
  void collectConfig();
  Value configValue(size_t idx, Loc use);
  Value configValueImpl(size_t idx, Loc use);

  // ---- evaluation ----
  Value eval(const Expr &e);
  Value evalName(const Expr &e);
  Value evalUnary(const Expr &e);
  Value evalBinary(const Expr &e);
  Value evalCall(const Expr &e);
  Value evalScalarFn(const Expr &e);
  Value callBlock(const Expr &e, const BlockDecl &b);
  Value callBuiltin(const Expr &e, const Builtin &b);
  bool lookupVar(const std::string &name, Value &out);

  void execList(const std::vector<StmtPtr> &list);
  void exec(const Stmt &s);
  void execObjective(const Stmt &s);

  // ---- graph building ----
  int newTensor(TensorType t);
  const TensorType &type(int t) const { return G.Tensors[t]; }
  int addNode(const char *op, std::vector<std::pair<std::string, int>> operands,
              std::vector<NamedScalar> attrs, TensorType result, Loc where);
  std::string scopePrefix() const;
  std::string callName(const Expr &call, const std::string &callee);
  int createParam(const std::string &leaf, std::vector<int64_t> shape, InitKind init, Loc where);
  int paramRef(int paramIdx, Loc where);
  int findParam(const std::string &name) const;
  bool checkDims(const std::vector<int64_t> &shape, const std::string &what, Loc where);

  // Shared pieces of the built-ins.
  bool expectFloat(int t, unsigned minRank, const char *fn, Loc where);
  bool staticLast(int t, const char *fn, Loc where, int64_t &out);
  int linear(int x, int64_t out, bool bias, const std::string &name, Loc where);
  int activation(int x, const std::string &kind, Loc where);
  int attentionCore(int q, int k, int v, int mask, int bias, int64_t heads, int64_t kvHeads,
                    int64_t headDim, bool causal, double scale, Loc where, Loc maskWhere,
                    Loc biasWhere);
  int rotary(int x, int64_t heads, int64_t headDim, double theta, Loc where);
  /// Records a KV-cache capacity bound (Graph::MaxPositions keeps the smallest).
  void noteMaxPositions(int64_t n);
  /// Checks a `max_positions:` option (1 .. 2^31-1, located error otherwise) and records it.
  bool checkMaxPositions(const BoundArgs &a, Loc where);
  int tiedTable(const BoundArgs &a, Loc where);
  bool actKind(const std::string &name, std::string &kind, bool &gated);

  // Built-ins.
  Value biEmbedding(const Expr &, const BoundArgs &);
  Value biLearnedPositions(const Expr &, const BoundArgs &);
  Value biSinusoidal(const Expr &, const BoundArgs &);
  Value biLayerNorm(const Expr &, const BoundArgs &);
  Value biRMSNorm(const Expr &, const BoundArgs &);
  Value biLinear(const Expr &, const BoundArgs &);
  Value biActivation(const Expr &, const BoundArgs &);
  Value biDropout(const Expr &, const BoundArgs &);
  Value biScale(const Expr &, const BoundArgs &);
  Value biFFN(const Expr &, const BoundArgs &);
  Value biAttention(const Expr &, const BoundArgs &);
  Value biAttend(const Expr &, const BoundArgs &);
  Value biRotary(const Expr &, const BoundArgs &);
  Value biRelBias(const Expr &, const BoundArgs &);
  Value biPool(const Expr &, const BoundArgs &);
  Value biPooler(const Expr &, const BoundArgs &);
  Value biLMHead(const Expr &, const BoundArgs &);
  Value biClassifier(const Expr &, const BoundArgs &);

  static const std::vector<Builtin> &builtins();
  const Builtin *findBuiltin(const std::string &name) const;

  void applyWeights();
  void applyInit();
  bool initStd(const Expr &e, const std::string &what, double &out);
  void finish();

  const Module &M;
  const ModelDecl &MD;
  const std::vector<ConfigOverride> &Overrides;
  DiagEngine &D;
  Graph &G;
  const Limits &L;
  bool Abort = false;

  std::map<std::string, size_t> ConfigIndex;
  std::vector<int> ConfigState; // 0 new, 1 evaluating, 2 done
  std::vector<Value> ConfigVals;
  std::vector<const ConfigOverride *> ConfigOverrideOf;
  std::vector<std::string> ConfigStack;
  std::vector<ConfigValue> CfgOut;
  std::vector<bool> CfgHas;
  bool InConfig = false;

  std::map<std::string, size_t> InputIndex;
  std::vector<bool> InputUsed;

  std::map<std::string, const BlockDecl *> Blocks;
  struct Frame {
    std::map<std::string, Value> Vars;
    const BlockDecl *Block = nullptr;
    Value Ret;
    bool Returned = false;
  };
  std::vector<Frame> Frames;
  std::vector<std::string> Scope;
  std::map<std::string, int> AutoCounter;
  std::map<std::string, size_t> ParamIndex;
  size_t Work = 0;
  bool SeenObjective = false;
};

// ---------------------------------------------------------------------------------------------
// Built-in table
// ---------------------------------------------------------------------------------------------

const std::vector<Builtin> &Elaborator::builtins() {
  using K = ArgKind;
  static const std::vector<Builtin> table = {
      {"embedding",
       {{"ids", K::Tensor, true, true}, {"num", K::Int, false, true}, {"dim", K::Int, false, true},
        {"tied", K::Ref, false, false}},
       &Elaborator::biEmbedding, "embedding(ids, num, dim) or embedding(ids, tied: NAME)"},
      {"learned_positions",
       {{"ids", K::Tensor, true, true}, {"max_positions", K::Int, true, true},
        {"dim", K::Int, true, true}},
       &Elaborator::biLearnedPositions, "learned_positions(ids, max_positions, dim)"},
      {"sinusoidal_positions",
       {{"ids", K::Tensor, true, true}, {"dim", K::Int, true, true}, {"base", K::Num, false, false}},
       &Elaborator::biSinusoidal, "sinusoidal_positions(ids, dim, base: 10000.0)"},
      {"layer_norm", {{"x", K::Tensor, true, true}, {"eps", K::Num, false, false}},
       &Elaborator::biLayerNorm, "layer_norm(x, eps: 1e-5)"},
      {"rms_norm", {{"x", K::Tensor, true, true}, {"eps", K::Num, false, false}},
       &Elaborator::biRMSNorm, "rms_norm(x, eps: 1e-6)"},
      {"linear",
       {{"x", K::Tensor, true, true}, {"out", K::Int, true, true}, {"bias", K::Bool, false, false}},
       &Elaborator::biLinear, "linear(x, out, bias: true)"},
      {"activation", {{"x", K::Tensor, true, true}, {"kind", K::Enum, true, true}},
       &Elaborator::biActivation, "activation(x, gelu)"},
      {"gelu", {{"x", K::Tensor, true, true}}, &Elaborator::biActivation, "gelu(x)"},
      {"gelu_tanh", {{"x", K::Tensor, true, true}}, &Elaborator::biActivation, "gelu_tanh(x)"},
      {"relu", {{"x", K::Tensor, true, true}}, &Elaborator::biActivation, "relu(x)"},
      {"silu", {{"x", K::Tensor, true, true}}, &Elaborator::biActivation, "silu(x)"},
      {"tanh", {{"x", K::Tensor, true, true}}, &Elaborator::biActivation, "tanh(x)"},
      {"dropout", {{"x", K::Tensor, true, true}, {"rate", K::Num, true, true}},
       &Elaborator::biDropout, "dropout(x, rate)"},
      {"scale", {{"x", K::Tensor, true, true}, {"factor", K::Num, true, true}},
       &Elaborator::biScale, "scale(x, factor)"},
      {"ffn",
       {{"x", K::Tensor, true, true}, {"hidden", K::Int, true, false}, {"act", K::Enum, false, false},
        {"bias", K::Bool, false, false}, {"out", K::Int, false, false}},
       &Elaborator::biFFN, "ffn(x, hidden: N, act: gelu, bias: true)"},
      {"attention",
       {{"x", K::Tensor, true, true}, {"heads", K::Int, true, false},
        {"kv_heads", K::Int, false, false}, {"head_dim", K::Int, false, false},
        {"causal", K::Bool, false, false}, {"mask", K::Tensor, false, false},
        {"kv", K::Tensor, false, false}, {"bias", K::Bool, false, false},
        {"rotary", K::Bool, false, false}, {"rope_theta", K::Num, false, false},
        {"position_bias", K::Tensor, false, false}, {"scale", K::Num, false, false},
        {"out", K::Int, false, false}, {"max_positions", K::Int, false, false}},
       &Elaborator::biAttention, "attention(x, heads: H, ...)"},
      {"attend",
       {{"q", K::Tensor, true, true}, {"k", K::Tensor, true, true}, {"v", K::Tensor, true, true},
        {"heads", K::Int, true, false}, {"kv_heads", K::Int, false, false},
        {"head_dim", K::Int, false, false}, {"causal", K::Bool, false, false},
        {"mask", K::Tensor, false, false}, {"position_bias", K::Tensor, false, false},
        {"scale", K::Num, false, false}},
       &Elaborator::biAttend, "attend(q, k, v, heads: H, ...)"},
      {"rotary",
       {{"x", K::Tensor, true, true}, {"heads", K::Int, true, false},
        {"head_dim", K::Int, false, false}, {"theta", K::Num, false, false},
        {"max_positions", K::Int, false, false}},
       &Elaborator::biRotary, "rotary(x, heads: H, theta: 10000.0, max_positions: N)"},
      {"relative_position_bias",
       {{"q", K::Tensor, true, true}, {"kv", K::Tensor, true, true}, {"heads", K::Int, true, false},
        {"buckets", K::Int, false, false}, {"max_distance", K::Int, false, false},
        {"bidirectional", K::Bool, false, false}, {"max_positions", K::Int, false, false}},
       &Elaborator::biRelBias, "relative_position_bias(q, kv, heads: H, buckets: 32, ...)"},
      {"pool",
       {{"x", K::Tensor, true, true}, {"mode", K::Enum, false, false},
        {"mask", K::Tensor, false, false}},
       &Elaborator::biPool, "pool(x, mode: first, mask: m)"},
      {"pooler", {{"x", K::Tensor, true, true}}, &Elaborator::biPooler, "pooler(x)"},
      {"lm_head",
       {{"x", K::Tensor, true, true}, {"vocab", K::Int, false, true}, {"tied", K::Ref, false, false},
        {"bias", K::Bool, false, false}, {"scale", K::Num, false, false}},
       &Elaborator::biLMHead, "lm_head(x, vocab) or lm_head(x, tied: NAME)"},
      {"classifier",
       {{"x", K::Tensor, true, true}, {"num_labels", K::Int, true, true},
        {"pool", K::Enum, false, false}, {"mask", K::Tensor, false, false},
        {"bias", K::Bool, false, false}},
       &Elaborator::biClassifier, "classifier(x, num_labels, pool: first)"},
  };
  return table;
}

const Builtin *Elaborator::findBuiltin(const std::string &name) const {
  for (const Builtin &b : builtins())
    if (name == b.Name)
      return &b;
  return nullptr;
}

const char *ScalarFns[] = {"sqrt", "float", "int", "min", "max"};

bool isScalarFn(const std::string &n) {
  for (const char *f : ScalarFns)
    if (n == f)
      return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

void Elaborator::collectConfig() {
  for (size_t i = 0; i < MD.Config.size(); ++i) {
    const ConfigDecl &c = MD.Config[i];
    auto it = ConfigIndex.find(c.Name);
    if (it != ConfigIndex.end()) {
      error(c.Where, "config value '" + c.Name + "' is already declared at " +
                         locStr(MD.Config[it->second].Where));
      continue;
    }
    if (findBuiltin(c.Name) || isScalarFn(c.Name)) {
      error(c.Where, "config value '" + c.Name + "' has the name of a built-in function");
      continue;
    }
    ConfigIndex[c.Name] = i;
  }
  ConfigState.assign(MD.Config.size(), 0);
  ConfigVals.assign(MD.Config.size(), Value::err());
  ConfigOverrideOf.assign(MD.Config.size(), nullptr);
  CfgOut.assign(MD.Config.size(), ConfigValue());
  CfgHas.assign(MD.Config.size(), false);
  for (const ConfigOverride &o : Overrides) {
    auto it = ConfigIndex.find(o.Key);
    if (it == ConfigIndex.end()) {
      if (o.ErrorIfUnknown) {
        std::vector<std::string> names;
        for (auto &kv : ConfigIndex)
          names.push_back(kv.first);
        D.errorAt(o.Origin, "unknown config value '" + o.Key + "' in model '" + MD.Name + "'" +
                                suggest(o.Key, names));
      }
      continue;
    }
    if (o.IsNull)
      continue; // keeps the declared default
    ConfigOverrideOf[it->second] = &o;
  }
  // Evaluate every value (also unused ones) so that errors and cycles are reported.
  for (size_t i = 0; i < MD.Config.size() && !Abort; ++i)
    if (ConfigIndex.count(MD.Config[i].Name) && ConfigIndex[MD.Config[i].Name] == i)
      configValue(i, MD.Config[i].Where);
  for (size_t i = 0; i < CfgOut.size(); ++i)
    if (CfgHas[i])
      G.Config.push_back(CfgOut[i]);
}

Value Elaborator::configValue(size_t idx, Loc use) {
  if (ConfigState[idx] == 2)
    return ConfigVals[idx];
  const ConfigDecl &c = MD.Config[idx];
  if (ConfigState[idx] == 1) {
    std::string path;
    bool on = false;
    for (const std::string &n : ConfigStack) {
      if (n == c.Name)
        on = true;
      if (on)
        path += n + " -> ";
    }
    path += c.Name;
    ConfigState[idx] = 2;
    ConfigVals[idx] = Value::err();
    return error(c.Where, "config value '" + c.Name + "' depends on itself (" + path + ")");
  }
  if (ConfigStack.size() >= 64) {
    fatal(use, "config values depend on each other too deeply (limit 64)");
    return Value::err();
  }
  ConfigState[idx] = 1;
  ConfigStack.push_back(c.Name);
  Value v = configValueImpl(idx, use);
  ConfigStack.pop_back();
  if (ConfigState[idx] == 1) {
    ConfigState[idx] = 2;
    ConfigVals[idx] = v;
  }
  return ConfigVals[idx];
}

Value Elaborator::configValueImpl(size_t idx, Loc) {
  const ConfigDecl &c = MD.Config[idx];
  bool saved = InConfig;
  InConfig = true;
  Value v = eval(*c.Value);
  InConfig = saved;
  if (v.isErr())
    return v;
  if (v.K != Value::Scal)
    return error(c.Value->Where, "config value '" + c.Name +
                                     "' must be an integer, a number, a boolean or a string");
  const ConfigOverride *o = ConfigOverrideOf[idx];
  std::string origin;
  if (o) {
    const Scalar &ov = o->Value;
    Scalar::Kind want = v.S.K;
    bool ok = false;
    Scalar nv = ov;
    if (o->IsCompound) {
      ok = false;
    } else if (want == Scalar::Float && (ov.K == Scalar::Float || ov.K == Scalar::Int)) {
      nv = Scalar::ofFloat(ov.K == Scalar::Int ? (double)ov.I : ov.F);
      ok = true;
    } else {
      ok = ov.K == want;
    }
    if (!ok) {
      D.errorAt(o->Origin, "config value '" + c.Name + "' expects " + scalarKindName(want) +
                               " (declared at " + D.file().name() + ":" + locStr(c.Where) +
                               "), got " +
                               (o->IsCompound ? std::string("an object or array")
                                              : std::string(scalarKindName(ov.K)) + " " +
                                                    formatScalar(ov)));
      return Value::err();
    }
    v = Value::scalar(nv);
    origin = o->Origin;
  }
  CfgOut[idx] = {c.Name, v.S, c.Where, origin};
  CfgHas[idx] = true;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------

bool Elaborator::lookupVar(const std::string &name, Value &out) {
  if (!InConfig && !Frames.empty()) {
    auto &vars = Frames.back().Vars;
    auto it = vars.find(name);
    if (it != vars.end()) {
      out = it->second;
      return true;
    }
    auto in = InputIndex.find(name);
    if (in != InputIndex.end()) {
      InputUsed[in->second] = true;
      out = Value::tensor(G.Inputs[in->second].Tensor);
      return true;
    }
  }
  return false;
}

Value Elaborator::evalName(const Expr &e) {
  Value v;
  if (lookupVar(e.Text, v))
    return v;
  auto c = ConfigIndex.find(e.Text);
  if (c != ConfigIndex.end())
    return configValue(c->second, e.Where);
  if (InConfig) {
    for (const InputDecl &in : MD.Inputs)
      if (in.Name == e.Text)
        return error(e.Where, "config values can only use other config values; '" + e.Text +
                                "' is an input");
  }
  std::vector<std::string> names;
  for (auto &kv : ConfigIndex)
    names.push_back(kv.first);
  if (!InConfig) {
    for (auto &kv : InputIndex)
      names.push_back(kv.first);
    if (!Frames.empty())
      for (auto &kv : Frames.back().Vars)
        names.push_back(kv.first);
  }
  if (findBuiltin(e.Text) || Blocks.count(e.Text))
    return error(e.Where, "'" + e.Text + "' is a function; call it with arguments");
  return error(e.Where, "unknown name '" + e.Text + "'" + suggest(e.Text, names));
}

Value Elaborator::eval(const Expr &e) {
  if (Abort)
    return Value::err();
  switch (e.Kind) {
  case ExprKind::Int:
    return Value::scalar(Scalar::ofInt(e.IntVal));
  case ExprKind::Float:
    return Value::scalar(Scalar::ofFloat(e.FloatVal));
  case ExprKind::Bool:
    return Value::scalar(Scalar::ofBool(e.BoolVal));
  case ExprKind::String:
    return Value::scalar(Scalar::ofString(e.Text));
  case ExprKind::Name:
    return evalName(e);
  case ExprKind::Unary:
    return evalUnary(e);
  case ExprKind::Binary:
    return evalBinary(e);
  case ExprKind::Call:
    return evalCall(e);
  }
  return Value::err();
}

Value Elaborator::evalUnary(const Expr &e) {
  Value x = eval(*e.Args[0]);
  if (x.isErr())
    return x;
  if (e.Text == "not") {
    if (!x.isBool())
      return error(e.Args[0]->Where, "'not' expects a boolean");
    return Value::scalar(Scalar::ofBool(!x.S.B));
  }
  if (x.K == Value::Tensor) {
    if (type(x.T).Type != DType::F32)
      return error(e.Where, "cannot negate an integer tensor");
    return Value::tensor(addNode("scale", {{"", x.T}}, {{"factor", Scalar::ofFloat(-1.0)}},
                                 type(x.T), e.Where));
  }
  if (x.isInt())
    return Value::scalar(Scalar::ofInt(-x.S.I));
  if (x.isNum())
    return Value::scalar(Scalar::ofFloat(-x.S.F));
  return error(e.Where, "'-' expects a number or a tensor");
}

Value Elaborator::evalBinary(const Expr &e) {
  Value a = eval(*e.Args[0]);
  Value b = eval(*e.Args[1]);
  if (a.isErr() || b.isErr())
    return Value::err();
  const std::string &op = e.Text;
  // Tensor arithmetic: residual additions, gating, scaling.
  if (a.K == Value::Tensor || b.K == Value::Tensor) {
    if (a.K == Value::Tensor && b.K == Value::Tensor) {
      if (op != "+" && op != "*")
        return error(e.Where, "operator '" + op + "' is not defined on tensors (use '+' or '*')");
      const TensorType &ta = type(a.T), &tb = type(b.T);
      if (ta.Type != DType::F32 || tb.Type != DType::F32)
        return error(e.Where, "operator '" + op + "' needs f32 tensors, got " + formatType(ta) +
                                  " and " + formatType(tb));
      if (ta.Shape != tb.Shape)
        return error(e.Where, "operator '" + op + "' needs tensors of the same shape, got " +
                                  formatType(ta) + " and " + formatType(tb));
      return Value::tensor(
          addNode(op == "+" ? "add" : "mul", {{"", a.T}, {"", b.T}}, {}, ta, e.Where));
    }
    Value t = a.K == Value::Tensor ? a : b;
    Value s = a.K == Value::Tensor ? b : a;
    if (!s.isNum() || (op != "*" && !(op == "/" && a.K == Value::Tensor)))
      return error(e.Where, "operator '" + op +
                                "' between a tensor and a scalar is not defined (use 'x * "
                                "factor' or 'x / factor')");
    if (type(t.T).Type != DType::F32)
      return error(e.Where, "cannot scale an integer tensor");
    double f = s.num();
    if (op == "/") {
      if (f == 0)
        return error(e.Where, "division by zero");
      f = 1.0 / f;
    }
    return Value::tensor(
        addNode("scale", {{"", t.T}}, {{"factor", Scalar::ofFloat(f)}}, type(t.T), e.Where));
  }
  if (op == "and" || op == "or") {
    if (!a.isBool() || !b.isBool())
      return error(e.Where, "'" + op + "' expects booleans");
    return Value::scalar(Scalar::ofBool(op == "and" ? (a.S.B && b.S.B) : (a.S.B || b.S.B)));
  }
  if (op == "==" || op == "!=") {
    bool eq;
    if (a.isNum() && b.isNum())
      eq = a.num() == b.num();
    else if (a.isBool() && b.isBool())
      eq = a.S.B == b.S.B;
    else if (a.isStr() && b.isStr())
      eq = a.S.S == b.S.S;
    else
      return error(e.Where, "cannot compare " + std::string(scalarKindName(a.S.K)) + " with " +
                                scalarKindName(b.S.K));
    return Value::scalar(Scalar::ofBool(op == "==" ? eq : !eq));
  }
  if (!a.isNum() || !b.isNum())
    return error(e.Where, "operator '" + op + "' expects numbers, got " +
                              scalarKindName(a.S.K) + " and " + scalarKindName(b.S.K));
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    double x = a.num(), y = b.num();
    bool r = op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y;
    return Value::scalar(Scalar::ofBool(r));
  }
  if (a.isInt() && b.isInt()) {
    int64_t x = a.S.I, y = b.S.I, r = 0;
    if (op == "+") {
      if (__builtin_add_overflow(x, y, &r))
        return error(e.Where, "integer overflow in '+'");
    } else if (op == "-") {
      if (__builtin_sub_overflow(x, y, &r))
        return error(e.Where, "integer overflow in '-'");
    } else if (op == "*") {
      if (__builtin_mul_overflow(x, y, &r))
        return error(e.Where, "integer overflow in '*'");
    } else if (op == "/" || op == "%") {
      if (y == 0)
        return error(e.Where, op == "/" ? "division by zero" : "modulo by zero");
      if (x == INT64_MIN && y == -1)
        return error(e.Where, "integer overflow in '" + op + "'");
      if (op == "%") {
        r = x % y;
      } else {
        if (x % y != 0)
          return error(e.Where, std::to_string(x) + " is not divisible by " + std::to_string(y) +
                                    " (integer '/' must divide exactly; use float(a) / b for a "
                                    "fraction)");
        r = x / y;
      }
    } else if (op == "**") {
      if (y < 0)
        return Value::scalar(Scalar::ofFloat(std::pow((double)x, (double)y)));
      r = 1;
      for (int64_t i = 0; i < y; ++i) {
        if (__builtin_mul_overflow(r, x, &r))
          return error(e.Where, "integer overflow in '**'");
        if (r == 0 || r == 1)
          break;
      }
    }
    return Value::scalar(Scalar::ofInt(r));
  }
  double x = a.num(), y = b.num(), r = 0;
  if (op == "+")
    r = x + y;
  else if (op == "-")
    r = x - y;
  else if (op == "*")
    r = x * y;
  else if (op == "/") {
    if (y == 0)
      return error(e.Where, "division by zero");
    r = x / y;
  } else if (op == "%") {
    if (y == 0)
      return error(e.Where, "modulo by zero");
    r = std::fmod(x, y);
  } else if (op == "**")
    r = std::pow(x, y);
  if (!std::isfinite(r))
    return error(e.Where, "arithmetic result of '" + op + "' is not a finite number");
  return Value::scalar(Scalar::ofFloat(r));
}

Value Elaborator::evalScalarFn(const Expr &e) {
  if (!e.Named.empty())
    return error(e.Named[0].Where, "'" + e.Text + "' takes no named arguments");
  if (!e.AsName.empty())
    return error(e.AsWhere, "'as' names the parameters of a call; '" + e.Text +
                                "' creates no parameters");
  size_t want = (e.Text == "min" || e.Text == "max") ? 2 : 1;
  if (e.Args.size() != want)
    return error(e.Where, "'" + e.Text + "' takes " + std::to_string(want) + " argument" +
                              (want > 1 ? "s" : "") + ", got " + std::to_string(e.Args.size()));
  std::vector<Value> v;
  for (auto &a : e.Args) {
    v.push_back(eval(*a));
    if (v.back().isErr())
      return Value::err();
    if (!v.back().isNum())
      return error(a->Where, "'" + e.Text + "' expects a number");
  }
  if (e.Text == "sqrt") {
    if (v[0].num() < 0)
      return error(e.Args[0]->Where, "sqrt of a negative number");
    return Value::scalar(Scalar::ofFloat(std::sqrt(v[0].num())));
  }
  if (e.Text == "float")
    return Value::scalar(Scalar::ofFloat(v[0].num()));
  if (e.Text == "int") {
    double d = v[0].num();
    if (!(d > -4e18 && d < 4e18))
      return error(e.Args[0]->Where, "value is out of the integer range");
    return Value::scalar(Scalar::ofInt((int64_t)d));
  }
  bool isMin = e.Text == "min";
  if (v[0].isInt() && v[1].isInt())
    return Value::scalar(
        Scalar::ofInt(isMin ? std::min(v[0].S.I, v[1].S.I) : std::max(v[0].S.I, v[1].S.I)));
  return Value::scalar(Scalar::ofFloat(isMin ? std::min(v[0].num(), v[1].num())
                                             : std::max(v[0].num(), v[1].num())));
}

Value Elaborator::evalCall(const Expr &e) {
  if (++Work > L.MaxStatements) {
    fatal(e.Where, "model is too large: elaboration exceeded " + std::to_string(L.MaxStatements) +
                       " steps");
    return Value::err();
  }
  if (isScalarFn(e.Text))
    return evalScalarFn(e);
  if (InConfig)
    return error(e.Where, "config values can only call sqrt, float, int, min and max; '" +
                              e.Text + "' is not allowed here");
  auto b = Blocks.find(e.Text);
  if (b != Blocks.end())
    return callBlock(e, *b->second);
  if (const Builtin *bi = findBuiltin(e.Text))
    return callBuiltin(e, *bi);
  std::vector<std::string> names;
  for (const Builtin &x : builtins())
    names.push_back(x.Name);
  for (auto &kv : Blocks)
    names.push_back(kv.first);
  for (const char *f : ScalarFns)
    names.push_back(f);
  return error(e.Where, "unknown function '" + e.Text + "'" + suggest(e.Text, names));
}

Value Elaborator::callBuiltin(const Expr &e, const Builtin &b) {
  BoundArgs a;
  for (const ArgSpec &s : b.Args) {
    a.Specs.push_back(&s);
    a.Vals.push_back(Value());
    a.Text.push_back("");
    a.Present.push_back(false);
    a.Where.push_back(e.Where);
  }
  bool ok = true;
  std::vector<const Expr *> exprs(b.Args.size(), nullptr);
  size_t npos = 0;
  for (const ArgSpec &s : b.Args)
    npos += s.Positional;
  if (e.Args.size() > npos) {
    error(e.Args[npos]->Where, "'" + std::string(b.Name) + "' takes at most " +
                                   std::to_string(npos) + " positional argument" +
                                   (npos == 1 ? "" : "s") + " (" + b.Usage + ")");
    ok = false;
  }
  for (size_t i = 0, p = 0; i < e.Args.size() && i < npos; ++i) {
    while (!b.Args[p].Positional)
      ++p;
    exprs[p] = e.Args[i].get();
    a.Where[p] = e.Args[i]->Where;
    ++p;
  }
  for (const NamedArg &na : e.Named) {
    int idx = a.index(na.Name.c_str());
    if (idx < 0) {
      std::vector<std::string> names;
      std::string list;
      for (const ArgSpec &s : b.Args) {
        names.push_back(s.Name);
        list += (list.empty() ? "" : ", ") + std::string(s.Name);
      }
      error(na.Where, "unknown option '" + na.Name + "' for '" + b.Name + "'" +
                          suggest(na.Name, names) + " (options: " + list + ")");
      ok = false;
      continue;
    }
    if (exprs[idx]) {
      error(na.Where, "option '" + na.Name + "' of '" + b.Name + "' is given twice");
      ok = false;
      continue;
    }
    exprs[idx] = na.Value.get();
    a.Where[idx] = na.Where;
  }
  for (size_t i = 0; i < b.Args.size(); ++i) {
    const ArgSpec &s = b.Args[i];
    if (!exprs[i]) {
      if (s.Required && ok) {
        error(e.Where, "'" + std::string(b.Name) + "' requires argument '" + s.Name + "' (" +
                           b.Usage + ")");
        ok = false;
      }
      continue;
    }
    const Expr &x = *exprs[i];
    if (s.K == ArgKind::Enum || s.K == ArgKind::Ref) {
      if (x.Kind == ExprKind::Name) {
        Value v;
        auto c = ConfigIndex.find(x.Text);
        if (s.K == ArgKind::Enum && c != ConfigIndex.end()) {
          v = configValue(c->second, x.Where);
          if (v.isErr()) {
            ok = false;
            continue;
          }
          if (!v.isStr()) {
            error(x.Where, "option '" + std::string(s.Name) + "' of '" + b.Name +
                               "' expects a name, but config value '" + x.Text + "' is " +
                               scalarKindName(v.S.K));
            ok = false;
            continue;
          }
          a.Text[i] = v.S.S;
        } else {
          a.Text[i] = x.Text;
        }
      } else if (x.Kind == ExprKind::String) {
        a.Text[i] = x.Text;
      } else {
        error(x.Where, "option '" + std::string(s.Name) + "' of '" + b.Name + "' expects a " +
                           (s.K == ArgKind::Ref ? "parameter name such as 'wte'"
                                                : "name such as 'gelu'"));
        ok = false;
        continue;
      }
      a.Present[i] = true;
      continue;
    }
    Value v = eval(x);
    if (v.isErr()) {
      ok = false;
      continue;
    }
    const char *want = nullptr;
    switch (s.K) {
    case ArgKind::Tensor:
      if (v.K != Value::Tensor)
        want = "a tensor";
      break;
    case ArgKind::Int:
      if (!v.isInt())
        want = "an integer";
      break;
    case ArgKind::Num:
      if (!v.isNum())
        want = "a number";
      break;
    case ArgKind::Bool:
      if (!v.isBool())
        want = "a boolean";
      break;
    default:
      break;
    }
    if (want) {
      std::string got = v.K == Value::Tensor ? "a tensor " + formatType(type(v.T))
                                             : std::string(scalarKindName(v.S.K));
      error(x.Where, "argument '" + std::string(s.Name) + "' of '" + b.Name + "' must be " +
                         want + ", got " + got);
      ok = false;
      continue;
    }
    a.Vals[i] = v;
    a.Present[i] = true;
  }
  if (!ok || Abort)
    return Value::err();
  return (this->*b.Fn)(e, a);
}

Value Elaborator::callBlock(const Expr &e, const BlockDecl &b) {
  for (const Frame &f : Frames)
    if (f.Block == &b)
      return error(e.Where, "block '" + b.Name + "' calls itself; recursion is not allowed");
  if (Frames.size() > L.MaxCallDepth)
    return error(e.Where, "blocks are nested too deeply (limit " +
                              std::to_string(L.MaxCallDepth) + ")");
  std::vector<Value> vals(b.Params.size());
  std::vector<bool> set(b.Params.size(), false);
  bool ok = true;
  if (e.Args.size() > b.Params.size()) {
    error(e.Args[b.Params.size()]->Where,
          "block '" + b.Name + "' takes " + std::to_string(b.Params.size()) + " argument" +
              (b.Params.size() == 1 ? "" : "s") + ", got " + std::to_string(e.Args.size()));
    return Value::err();
  }
  for (size_t i = 0; i < e.Args.size(); ++i) {
    vals[i] = eval(*e.Args[i]);
    set[i] = true;
    ok &= !vals[i].isErr();
  }
  for (const NamedArg &na : e.Named) {
    size_t idx = b.Params.size();
    for (size_t i = 0; i < b.Params.size(); ++i)
      if (b.Params[i].Name == na.Name)
        idx = i;
    if (idx == b.Params.size()) {
      std::vector<std::string> names;
      for (auto &p : b.Params)
        names.push_back(p.Name);
      error(na.Where, "block '" + b.Name + "' has no parameter '" + na.Name + "'" +
                          suggest(na.Name, names));
      ok = false;
      continue;
    }
    if (set[idx]) {
      error(na.Where, "parameter '" + na.Name + "' of block '" + b.Name + "' is given twice");
      ok = false;
      continue;
    }
    vals[idx] = eval(*na.Value);
    set[idx] = true;
    ok &= !vals[idx].isErr();
  }
  for (size_t i = 0; i < b.Params.size(); ++i) {
    if (set[i])
      continue;
    if (!b.Params[i].Default) {
      error(e.Where, "block '" + b.Name + "' requires argument '" + b.Params[i].Name + "'");
      ok = false;
      continue;
    }
    bool saved = InConfig;
    InConfig = true; // defaults may use config values only
    vals[i] = eval(*b.Params[i].Default);
    InConfig = saved;
    ok &= !vals[i].isErr();
  }
  if (!ok || Abort)
    return Value::err();
  std::string name = callName(e, b.Name);
  Frame f;
  f.Block = &b;
  for (size_t i = 0; i < b.Params.size(); ++i)
    f.Vars[b.Params[i].Name] = vals[i];
  Frames.push_back(std::move(f));
  Scope.push_back(name);
  execList(b.Body);
  Scope.pop_back();
  Frame done = std::move(Frames.back());
  Frames.pop_back();
  if (Abort)
    return Value::err();
  if (!done.Returned)
    return error(e.Where, "block '" + b.Name + "' ended without a 'return'");
  return done.Ret;
}

// ---------------------------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------------------------

void Elaborator::execList(const std::vector<StmtPtr> &list) {
  for (const StmtPtr &s : list) {
    if (Abort || Frames.back().Returned)
      return;
    exec(*s);
  }
}

void Elaborator::exec(const Stmt &s) {
  if (++Work > L.MaxStatements) {
    fatal(s.Where, "model is too large: elaboration exceeded " + std::to_string(L.MaxStatements) +
                       " steps");
    return;
  }
  Frame &f = Frames.back();
  const char *where = f.Block ? "a block" : "the model body";
  switch (s.Kind) {
  case StmtKind::Assign: {
    if (ConfigIndex.count(s.Name)) {
      error(s.NameWhere, "cannot assign to config value '" + s.Name + "'");
      return;
    }
    if (InputIndex.count(s.Name)) {
      error(s.NameWhere, "cannot assign to input '" + s.Name + "'");
      return;
    }
    Value v = eval(*s.Value);
    Frames.back().Vars[s.Name] = v;
    return;
  }
  case StmtKind::Repeat: {
    Value n = eval(*s.Value);
    if (n.isErr())
      return;
    if (!n.isInt()) {
      error(s.Value->Where, "repeat count must be an integer");
      return;
    }
    if (n.S.I < 0 || n.S.I > L.MaxRepeat) {
      error(s.Value->Where, "repeat count " + std::to_string(n.S.I) + " is out of range (0 to " +
                                std::to_string(L.MaxRepeat) + ")");
      return;
    }
    for (int64_t i = 0; i < n.S.I && !Abort && !Frames.back().Returned; ++i) {
      Scope.push_back(s.Name.empty() ? std::to_string(i) : s.Name + "." + std::to_string(i));
      execList(s.Body);
      Scope.pop_back();
    }
    return;
  }
  case StmtKind::If: {
    Value c = eval(*s.Value);
    if (c.isErr())
      return;
    if (!c.isBool()) {
      error(s.Value->Where, "'if' condition must be a boolean");
      return;
    }
    execList(c.S.B ? s.Body : s.ElseBody);
    return;
  }
  case StmtKind::Output: {
    if (f.Block) {
      error(s.Where, std::string("'output' is only allowed in the model body, not in ") + where);
      return;
    }
    Value v;
    if (s.Value) {
      v = eval(*s.Value);
      Frames.back().Vars[s.Name] = v;
    } else if (!lookupVar(s.Name, v)) {
      error(s.NameWhere, "unknown name '" + s.Name + "'");
      return;
    }
    if (v.isErr())
      return;
    if (v.K != Value::Tensor) {
      error(s.NameWhere, "output '" + s.Name + "' must be a tensor");
      return;
    }
    for (const GraphOutput &o : G.Outputs)
      if (o.Name == s.Name) {
        error(s.NameWhere, "output '" + s.Name + "' is already declared at " + locStr(o.Where));
        return;
      }
    for (const GraphInput &in : G.Inputs)
      if (in.Tensor == v.T) {
        error(s.NameWhere, "output '" + s.Name + "' is the input '" + in.Name +
                               "' itself; outputs must be computed");
        return;
      }
    G.Outputs.push_back({s.Name, v.T, s.NameWhere});
    return;
  }
  case StmtKind::Objective:
    if (f.Block) {
      error(s.Where, std::string("'objective' is only allowed in the model body, not in ") + where);
      return;
    }
    execObjective(s);
    return;
  case StmtKind::Return: {
    if (!f.Block) {
      error(s.Where, "'return' is only allowed inside a block");
      return;
    }
    Value v = eval(*s.Value);
    Frames.back().Ret = v;
    Frames.back().Returned = true;
    return;
  }
  }
}

void Elaborator::execObjective(const Stmt &s) {
  static const char *kinds[] = {"causal_lm", "masked_lm", "seq2seq_lm", "classification"};
  bool known = false;
  for (const char *k : kinds)
    known |= s.Name == k;
  if (!known) {
    error(s.NameWhere, "unknown objective '" + s.Name +
                           "'" + suggest(s.Name, {"causal_lm", "masked_lm", "seq2seq_lm",
                                                   "classification"}) +
                           " (objectives: causal_lm, masked_lm, seq2seq_lm, classification)");
    return;
  }
  if (SeenObjective) {
    error(s.Where, "only one objective may be declared");
    return;
  }
  SeenObjective = true;
  if (s.Args.size() != 2) {
    error(s.NameWhere, "objective '" + s.Name + "' takes 2 arguments (logits, labels), got " +
                           std::to_string(s.Args.size()));
    return;
  }
  int64_t ignore = -100;
  for (const NamedArg &na : s.Named) {
    if (na.Name != "ignore_index") {
      error(na.Where, "unknown option '" + na.Name + "' for objective (options: ignore_index)");
      return;
    }
    Value v = eval(*na.Value);
    if (v.isErr())
      return;
    if (!v.isInt()) {
      error(na.Value->Where, "ignore_index must be an integer");
      return;
    }
    ignore = v.S.I;
  }
  const Expr &le = *s.Args[0];
  Value logits = eval(le);
  if (logits.isErr())
    return;
  int out = -1;
  for (size_t i = 0; i < G.Outputs.size(); ++i)
    if (logits.K == Value::Tensor && G.Outputs[i].Tensor == logits.T)
      out = (int)i;
  if (out < 0) {
    error(le.Where, "the objective's logits must be a model output (declare it with 'output')");
    return;
  }
  const Expr &lab = *s.Args[1];
  if (lab.Kind != ExprKind::Name || !InputIndex.count(lab.Text)) {
    error(lab.Where, "the objective's labels must be an input (e.g. 'input labels: "
                     "labels[batch, seq]')");
    return;
  }
  size_t li = InputIndex[lab.Text];
  const GraphInput &in = G.Inputs[li];
  const TensorType &lt = type(logits.T), &tt = type(in.Tensor);
  bool shift = s.Name == "causal_lm";
  if (s.Name == "classification") {
    bool okShape = (lt.Shape.size() == 2 && tt.Shape.size() == 1 && lt.Shape[0] == tt.Shape[0]) ||
                   (lt.Shape.size() == 3 && tt.Shape.size() == 2 && lt.Shape[0] == tt.Shape[0] &&
                    lt.Shape[1] == tt.Shape[1]);
    if (!okShape) {
      error(lab.Where, "classification needs logits [batch, classes] with labels [batch], or "
                       "[batch, seq, classes] with [batch, seq]; got " +
                           formatType(lt) + " and " + formatType(tt));
      return;
    }
  } else {
    if (lt.Shape.size() != 3 || tt.Shape.size() != 2 || lt.Shape[0] != tt.Shape[0] ||
        lt.Shape[1] != tt.Shape[1]) {
      error(lab.Where, "objective '" + s.Name +
                           "' needs logits [batch, seq, vocab] and labels [batch, seq]; got " +
                           formatType(lt) + " and " + formatType(tt));
      return;
    }
  }
  if (s.Name != "causal_lm" && in.Kind != "labels") {
    error(lab.Where, "the labels of objective '" + s.Name + "' must be an input of kind "
                     "'labels', but '" + in.Name + "' is '" + in.Kind + "'");
    return;
  }
  if (s.Name == "causal_lm" && in.Kind != "tokens" && in.Kind != "labels") {
    error(lab.Where, "the labels of causal_lm must be token ids or labels, but '" + in.Name +
                         "' is '" + in.Kind + "'");
    return;
  }
  InputUsed[li] = true;
  G.Loss.Kind = s.Name;
  G.Loss.Output = out;
  G.Loss.Labels = (int)li;
  G.Loss.Shift = shift;
  G.Loss.IgnoreIndex = ignore;
  G.Loss.Where = s.NameWhere;
}

// ---------------------------------------------------------------------------------------------
// Graph building
// ---------------------------------------------------------------------------------------------

int Elaborator::newTensor(TensorType t) {
  G.Tensors.push_back(std::move(t));
  return (int)G.Tensors.size() - 1;
}

int Elaborator::addNode(const char *op, std::vector<std::pair<std::string, int>> operands,
                        std::vector<NamedScalar> attrs, TensorType result, Loc where) {
  // Past the limit, keep returning valid tensor ids so that callers need no special case;
  // Abort stops the elaboration at the next statement.
  if (G.Nodes.size() >= L.MaxNodes)
    fatal(where, "model is too large: more than " + std::to_string(L.MaxNodes) + " ops");
  Node n;
  n.Op = op;
  for (auto &o : operands) {
    n.Roles.push_back(o.first);
    n.Operands.push_back(o.second);
  }
  n.Attrs = std::move(attrs);
  n.Result = newTensor(std::move(result));
  n.Where = where;
  if (!Abort)
    G.Nodes.push_back(std::move(n));
  return (int)G.Tensors.size() - 1;
}

std::string Elaborator::scopePrefix() const {
  std::string s;
  for (const std::string &x : Scope)
    s += x + ".";
  return s;
}

std::string Elaborator::callName(const Expr &call, const std::string &callee) {
  if (!call.AsName.empty())
    return call.AsName;
  int &n = AutoCounter[scopePrefix() + "|" + callee];
  std::string name = n == 0 ? callee : callee + "_" + std::to_string(n);
  ++n;
  return name;
}

bool Elaborator::checkDims(const std::vector<int64_t> &shape, const std::string &what, Loc where) {
  __int128 elems = 1;
  for (int64_t d : shape) {
    if (d <= 0 || d > L.MaxDim) {
      error(where, what + " has dimension " + std::to_string(d) + "; dimensions must be in 1.." +
                       std::to_string(L.MaxDim));
      return false;
    }
    elems *= d;
    if (elems > L.MaxTensorElements) {
      std::string sh;
      for (int64_t x : shape)
        sh += (sh.empty() ? "" : ", ") + std::to_string(x);
      error(where, what + " [" + sh + "] has more than 2^36 elements");
      return false;
    }
  }
  return true;
}

int Elaborator::createParam(const std::string &leaf, std::vector<int64_t> shape, InitKind init,
                            Loc where) {
  std::string name = scopePrefix() + leaf;
  if (!checkDims(shape, "parameter '" + name + "'", where))
    return -1;
  auto it = ParamIndex.find(name);
  if (it != ParamIndex.end()) {
    error(where, "parameter '" + name + "' is already defined at " +
                     locStr(G.Params[it->second].Where) + "; give this call another name with 'as'");
    return -1;
  }
  if (G.Params.size() >= L.MaxParams) {
    fatal(where, "model is too large: more than " + std::to_string(L.MaxParams) + " parameters");
    return -1;
  }
  Param p;
  p.Name = name;
  p.Shape = std::move(shape);
  p.Init = init;
  p.Where = where;
  p.HFName = name;
  ParamIndex[name] = G.Params.size();
  G.Params.push_back(std::move(p));
  return (int)G.Params.size() - 1;
}

int Elaborator::paramRef(int paramIdx, Loc where) {
  const Param &p = G.Params[paramIdx];
  TensorType t;
  for (int64_t d : p.Shape)
    t.Shape.push_back({d, ""});
  return addNode("param_ref", {}, {{"name", Scalar::ofString(p.Name)}}, t, where);
}

int Elaborator::findParam(const std::string &name) const {
  auto it = ParamIndex.find(name);
  return it == ParamIndex.end() ? -1 : (int)it->second;
}

bool Elaborator::expectFloat(int t, unsigned minRank, const char *fn, Loc where) {
  const TensorType &tt = type(t);
  if (tt.Type != DType::F32) {
    error(where, std::string("'") + fn + "' expects f32 activations, got " + formatType(tt) +
                     " (embed token ids first)");
    return false;
  }
  if (tt.Shape.size() < minRank) {
    error(where, std::string("'") + fn + "' expects a tensor of rank at least " +
                     std::to_string(minRank) + ", got " + formatType(tt));
    return false;
  }
  return true;
}

bool Elaborator::staticLast(int t, const char *fn, Loc where, int64_t &out) {
  const TensorType &tt = type(t);
  if (tt.Shape.empty() || tt.Shape.back().isDynamic()) {
    error(where, std::string("'") + fn + "' needs a static last dimension, got " + formatType(tt));
    return false;
  }
  out = tt.Shape.back().Size;
  return true;
}

int Elaborator::linear(int x, int64_t out, bool bias, const std::string &name, Loc where) {
  int64_t k;
  if (!expectFloat(x, 1, "linear", where) || !staticLast(x, "linear", where, k))
    return -1;
  if (out <= 0 || out > L.MaxDim) {
    error(where, "linear output size " + std::to_string(out) + " is out of range");
    return -1;
  }
  Scope.push_back(name);
  int w = createParam("weight", {out, k}, InitKind::Normal, where);
  int b = bias ? createParam("bias", {out}, InitKind::Zeros, where) : -1;
  Scope.pop_back();
  if (w < 0 || (bias && b < 0))
    return -1;
  std::vector<std::pair<std::string, int>> ops = {{"", x}, {"", paramRef(w, where)}};
  if (bias)
    ops.push_back({"bias", paramRef(b, where)});
  TensorType t = type(x);
  t.Shape.back() = {out, ""};
  return addNode("linear", ops, {}, t, where);
}

bool Elaborator::actKind(const std::string &name, std::string &kind, bool &gated) {
  // Hugging Face spellings (hidden_act, activation_function, feed_forward_proj) are accepted.
  static const std::pair<const char *, const char *> plain[] = {
      {"gelu", "gelu"},           {"gelu_tanh", "gelu_tanh"}, {"gelu_new", "gelu_tanh"},
      {"gelu_pytorch_tanh", "gelu_tanh"}, {"relu", "relu"},   {"silu", "silu"},
      {"swish", "silu"},          {"tanh", "tanh"}};
  static const std::pair<const char *, const char *> gatedKinds[] = {
      {"swiglu", "silu"}, {"geglu", "gelu"}, {"geglu_tanh", "gelu_tanh"},
      {"gated-gelu", "gelu_tanh"}, {"gated-silu", "silu"}};
  for (auto &p : plain)
    if (name == p.first) {
      kind = p.second;
      gated = false;
      return true;
    }
  for (auto &p : gatedKinds)
    if (name == p.first) {
      kind = p.second;
      gated = true;
      return true;
    }
  return false;
}

int Elaborator::activation(int x, const std::string &kind, Loc where) {
  if (!expectFloat(x, 1, kind.c_str(), where))
    return -1;
  return addNode("activation", {{"", x}}, {{"kind", Scalar::ofString(kind)}}, type(x), where);
}

void Elaborator::noteMaxPositions(int64_t n) {
  if (n > 0 && (G.MaxPositions == 0 || n < G.MaxPositions))
    G.MaxPositions = n;
}

bool Elaborator::checkMaxPositions(const BoundArgs &a, Loc where) {
  int64_t n = a.i64("max_positions", 0);
  if (n < 1 || n > (int64_t(1) << 31) - 1) {
    error(a.loc("max_positions", where),
          "max_positions must be between 1 and 2^31-1, got " + std::to_string(n));
    return false;
  }
  noteMaxPositions(n);
  return true;
}

int Elaborator::rotary(int x, int64_t heads, int64_t headDim, double theta, Loc where) {
  int64_t d;
  if (!expectFloat(x, 3, "rotary", where) || !staticLast(x, "rotary", where, d))
    return -1;
  if (type(x).Shape.size() != 3) {
    error(where, "'rotary' expects [batch, seq, heads * head_dim], got " + formatType(type(x)));
    return -1;
  }
  if (heads <= 0 || headDim <= 0 || headDim % 2 != 0 || heads * headDim != d) {
    error(where, "'rotary' needs heads * head_dim == " + std::to_string(d) +
                     " and an even head_dim, got heads " + std::to_string(heads) + ", head_dim " +
                     std::to_string(headDim));
    return -1;
  }
  if (!(theta > 0)) {
    error(where, "rotary theta must be positive");
    return -1;
  }
  return addNode("rotary", {{"", x}},
                 {{"num_heads", Scalar::ofInt(heads)},
                  {"head_dim", Scalar::ofInt(headDim)},
                  {"theta", Scalar::ofFloat(theta)}},
                 type(x), where);
}

int Elaborator::attentionCore(int q, int k, int v, int mask, int bias, int64_t heads,
                              int64_t kvHeads, int64_t headDim, bool causal, double scale,
                              Loc where, Loc maskWhere, Loc biasWhere) {
  for (int t : {q, k, v})
    if (!expectFloat(t, 3, "attention", where))
      return -1;
  const TensorType &tq = type(q), &tk = type(k), &tv = type(v);
  if (tq.Shape.size() != 3 || tk.Shape.size() != 3 || tv.Shape.size() != 3) {
    error(where, "attention expects q, k, v of shape [batch, seq, features]");
    return -1;
  }
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0) {
    error(where, "attention heads, kv_heads and head_dim must be positive");
    return -1;
  }
  if (heads % kvHeads != 0) {
    error(where, "attention heads (" + std::to_string(heads) +
                     ") must be a multiple of kv_heads (" + std::to_string(kvHeads) + ")");
    return -1;
  }
  Dim qd = {heads * headDim, ""}, kd = {kvHeads * headDim, ""};
  if (tq.Shape[2] != qd) {
    error(where, "attention query has " + formatType(tq) + " but heads * head_dim = " +
                     std::to_string(qd.Size));
    return -1;
  }
  if (tk.Shape[2] != kd || tv.Shape[2] != kd) {
    error(where, "attention keys/values must have kv_heads * head_dim = " +
                     std::to_string(kd.Size) + " features, got " + formatType(tk) + " and " +
                     formatType(tv));
    return -1;
  }
  if (tk.Shape != tv.Shape || tk.Shape[0] != tq.Shape[0]) {
    error(where, "attention q, k, v disagree on batch or key length: " + formatType(tq) + ", " +
                     formatType(tk) + ", " + formatType(tv));
    return -1;
  }
  std::vector<std::pair<std::string, int>> ops = {{"", q}, {"", k}, {"", v}};
  if (mask >= 0) {
    const TensorType &tm = type(mask);
    if (tm.Type != DType::I32 || tm.Shape.size() != 2 || tm.Shape[0] != tk.Shape[0] ||
        tm.Shape[1] != tk.Shape[1]) {
      error(maskWhere, "attention mask must be an i32 mask [batch, key_seq] matching the keys " +
                           formatType(tk) + ", got " + formatType(tm));
      return -1;
    }
    ops.push_back({"mask", mask});
  }
  if (bias >= 0) {
    const TensorType &tb = type(bias);
    TensorType want;
    want.Shape = {{heads, ""}, tq.Shape[1], tk.Shape[1]};
    if (tb.Type != DType::F32 || tb.Shape != want.Shape) {
      error(biasWhere, "attention position bias must be " + formatType(want) + ", got " +
                           formatType(tb));
      return -1;
    }
    ops.push_back({"bias", bias});
  }
  if (!(scale > 0) || !std::isfinite(scale)) {
    error(where, "attention scale must be a positive number");
    return -1;
  }
  return addNode("attention", ops,
                 {{"num_heads", Scalar::ofInt(heads)},
                  {"num_kv_heads", Scalar::ofInt(kvHeads)},
                  {"head_dim", Scalar::ofInt(headDim)},
                  {"causal", Scalar::ofBool(causal)},
                  {"scale", Scalar::ofFloat(scale)}},
                 tq, where);
}

int Elaborator::tiedTable(const BoundArgs &a, Loc where) {
  std::string ref = a.text("tied", "");
  std::string full = ref + ".weight";
  int p = findParam(scopePrefix() + full);
  if (p < 0)
    p = findParam(full);
  if (p < 0) {
    error(a.loc("tied", where), "no parameter '" + full + "' to tie to (name the embedding call "
                                "with 'as " + ref + "')");
    return -1;
  }
  if (G.Params[p].Shape.size() != 2) {
    error(a.loc("tied", where), "parameter '" + full + "' is not a 2-D table");
    return -1;
  }
  return p;
}

// ---- built-ins ------------------------------------------------------------------------------

static bool isIds(const TensorType &t) { return t.Type == DType::I32 && t.Shape.size() == 2; }

Value Elaborator::biEmbedding(const Expr &e, const BoundArgs &a) {
  int ids = a.tensor("ids");
  if (!isIds(type(ids)))
    return error(a.loc("ids", e.Where), "'embedding' expects token ids [batch, seq] i32, got " +
                                            formatType(type(ids)));
  int table;
  if (a.has("tied")) {
    if (a.has("num") || a.has("dim"))
      return error(a.loc("num", e.Where), "'embedding' with 'tied' takes its size from the tied "
                                          "table; drop num and dim");
    int p = tiedTable(a, e.Where);
    if (p < 0)
      return Value::err();
    table = p;
  } else {
    if (!a.has("num") || !a.has("dim"))
      return error(e.Where, "'embedding' needs num and dim: embedding(ids, num, dim)");
    std::string name = callName(e, "embedding");
    Scope.push_back(name);
    table = createParam("weight", {a.i64("num", 0), a.i64("dim", 0)}, InitKind::Normal, e.Where);
    Scope.pop_back();
    if (table < 0)
      return Value::err();
  }
  TensorType t;
  t.Shape = type(ids).Shape;
  t.Shape.push_back({G.Params[table].Shape[1], ""});
  return Value::tensor(
      addNode("embedding", {{"", ids}, {"", paramRef(table, e.Where)}}, {}, t, e.Where));
}

Value Elaborator::biLearnedPositions(const Expr &e, const BoundArgs &a) {
  int ids = a.tensor("ids");
  if (!isIds(type(ids)))
    return error(a.loc("ids", e.Where),
                 "'learned_positions' expects token ids [batch, seq] i32, got " +
                     formatType(type(ids)));
  std::string name = callName(e, "learned_positions");
  Scope.push_back(name);
  int p = createParam("weight", {a.i64("max_positions", 0), a.i64("dim", 0)}, InitKind::Normal,
                      e.Where);
  Scope.pop_back();
  if (p < 0)
    return Value::err();
  noteMaxPositions(a.i64("max_positions", 0));
  TensorType t;
  t.Shape = type(ids).Shape;
  t.Shape.push_back({a.i64("dim", 0), ""});
  return Value::tensor(addNode("position_embedding", {{"", ids}, {"", paramRef(p, e.Where)}}, {},
                               t, e.Where));
}

Value Elaborator::biSinusoidal(const Expr &e, const BoundArgs &a) {
  int ids = a.tensor("ids");
  if (!isIds(type(ids)))
    return error(a.loc("ids", e.Where),
                 "'sinusoidal_positions' expects token ids [batch, seq] i32, got " +
                     formatType(type(ids)));
  int64_t dim = a.i64("dim", 0);
  if (dim <= 0 || dim % 2 != 0 || dim > L.MaxDim)
    return error(a.loc("dim", e.Where),
                 "sinusoidal dim must be a positive even number, got " + std::to_string(dim));
  double base = a.f64("base", 10000.0);
  if (!(base > 1))
    return error(a.loc("base", e.Where), "sinusoidal base must be greater than 1");
  TensorType t;
  t.Shape = type(ids).Shape;
  t.Shape.push_back({dim, ""});
  return Value::tensor(addNode("sinusoidal_positions", {{"", ids}},
                               {{"dim", Scalar::ofInt(dim)}, {"base", Scalar::ofFloat(base)}}, t,
                               e.Where));
}

Value Elaborator::biLayerNorm(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  int64_t d;
  if (!expectFloat(x, 1, "layer_norm", e.Where) || !staticLast(x, "layer_norm", e.Where, d))
    return Value::err();
  double eps = a.f64("eps", 1e-5);
  if (!(eps > 0 && eps < 1))
    return error(a.loc("eps", e.Where), "layer_norm eps must be in (0, 1), got " +
                                            formatScalar(Scalar::ofFloat(eps)));
  std::string name = callName(e, "layer_norm");
  Scope.push_back(name);
  int w = createParam("weight", {d}, InitKind::Ones, e.Where);
  int b = createParam("bias", {d}, InitKind::Zeros, e.Where);
  Scope.pop_back();
  if (w < 0 || b < 0)
    return Value::err();
  return Value::tensor(addNode(
      "layer_norm", {{"", x}, {"", paramRef(w, e.Where)}, {"", paramRef(b, e.Where)}},
      {{"eps", Scalar::ofFloat(eps)}}, type(x), e.Where));
}

Value Elaborator::biRMSNorm(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  int64_t d;
  if (!expectFloat(x, 1, "rms_norm", e.Where) || !staticLast(x, "rms_norm", e.Where, d))
    return Value::err();
  double eps = a.f64("eps", 1e-6);
  if (!(eps > 0 && eps < 1))
    return error(a.loc("eps", e.Where), "rms_norm eps must be in (0, 1), got " +
                                            formatScalar(Scalar::ofFloat(eps)));
  std::string name = callName(e, "rms_norm");
  Scope.push_back(name);
  int w = createParam("weight", {d}, InitKind::Ones, e.Where);
  Scope.pop_back();
  if (w < 0)
    return Value::err();
  return Value::tensor(addNode("rms_norm", {{"", x}, {"", paramRef(w, e.Where)}},
                               {{"eps", Scalar::ofFloat(eps)}}, type(x), e.Where));
}

Value Elaborator::biLinear(const Expr &e, const BoundArgs &a) {
  int r = linear(a.tensor("x"), a.i64("out", 0), a.flag("bias", true), callName(e, "linear"),
                 e.Where);
  return r < 0 ? Value::err() : Value::tensor(r);
}

Value Elaborator::biActivation(const Expr &e, const BoundArgs &a) {
  std::string name = e.Text == "activation" ? a.text("kind", "") : e.Text;
  std::string kind;
  bool gated;
  if (!actKind(name, kind, gated) || gated)
    return error(a.loc("kind", e.Where), "unknown activation '" + name +
                                             "' (activations: gelu, gelu_tanh, relu, silu, tanh)");
  int r = activation(a.tensor("x"), kind, e.Where);
  return r < 0 ? Value::err() : Value::tensor(r);
}

Value Elaborator::biDropout(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  if (!expectFloat(x, 1, "dropout", e.Where))
    return Value::err();
  double rate = a.f64("rate", 0);
  if (!(rate >= 0 && rate < 1))
    return error(a.loc("rate", e.Where), "dropout rate must be in [0, 1), got " +
                                             formatScalar(Scalar::ofFloat(rate)));
  return Value::tensor(
      addNode("dropout", {{"", x}}, {{"rate", Scalar::ofFloat(rate)}}, type(x), e.Where));
}

Value Elaborator::biScale(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  if (!expectFloat(x, 1, "scale", e.Where))
    return Value::err();
  return Value::tensor(addNode("scale", {{"", x}},
                               {{"factor", Scalar::ofFloat(a.f64("factor", 1))}}, type(x), e.Where));
}

Value Elaborator::biFFN(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  int64_t d;
  if (!expectFloat(x, 1, "ffn", e.Where) || !staticLast(x, "ffn", e.Where, d))
    return Value::err();
  std::string act = a.text("act", "gelu"), kind;
  bool gated;
  if (!actKind(act, kind, gated))
    return error(a.loc("act", e.Where),
                 "unknown ffn activation '" + act +
                     "' (gelu, gelu_tanh, relu, silu, tanh, swiglu, geglu, geglu_tanh)");
  int64_t hidden = a.i64("hidden", 0), out = a.i64("out", d);
  bool bias = a.flag("bias", true);
  std::string name = callName(e, "ffn");
  Scope.push_back(name);
  int h;
  if (gated) {
    int g = linear(x, hidden, bias, "gate", e.Where);
    int u = g < 0 ? -1 : linear(x, hidden, bias, "up", e.Where);
    int ga = u < 0 ? -1 : activation(g, kind, e.Where);
    h = ga < 0 ? -1 : addNode("mul", {{"", ga}, {"", u}}, {}, type(u), e.Where);
  } else {
    int u = linear(x, hidden, bias, "up", e.Where);
    h = u < 0 ? -1 : activation(u, kind, e.Where);
  }
  int r = h < 0 ? -1 : linear(h, out, bias, "down", e.Where);
  Scope.pop_back();
  return r < 0 ? Value::err() : Value::tensor(r);
}

Value Elaborator::biAttention(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  int64_t d;
  if (!expectFloat(x, 3, "attention", e.Where) || !staticLast(x, "attention", e.Where, d))
    return Value::err();
  int64_t heads = a.i64("heads", 0);
  if (heads <= 0)
    return error(a.loc("heads", e.Where), "attention heads must be positive");
  if (!a.has("head_dim") && d % heads != 0)
    return error(a.loc("heads", e.Where), "model dim " + std::to_string(d) +
                                              " is not divisible by heads " +
                                              std::to_string(heads));
  int64_t headDim = a.i64("head_dim", d / heads);
  int64_t kvHeads = a.i64("kv_heads", heads);
  if (kvHeads <= 0 || heads % kvHeads != 0)
    return error(a.loc("kv_heads", e.Where),
                 "attention heads (" + std::to_string(heads) + ") must be a multiple of kv_heads (" +
                     std::to_string(kvHeads) + ")");
  if (headDim <= 0)
    return error(a.loc("head_dim", e.Where), "head_dim must be positive");
  int src = a.has("kv") ? a.tensor("kv") : x;
  if (a.has("kv") && !expectFloat(src, 3, "attention", a.loc("kv", e.Where)))
    return Value::err();
  bool bias = a.flag("bias", true);
  bool rot = a.flag("rotary", false);
  if (a.has("rope_theta") && !rot)
    return error(a.loc("rope_theta", e.Where), "rope_theta is only meaningful with rotary: true");
  if (a.has("max_positions") && !rot)
    return error(a.loc("max_positions", e.Where),
                 "max_positions is only meaningful with rotary: true (learned position tables "
                 "give their own size)");
  if (a.has("max_positions") && !checkMaxPositions(a, e.Where))
    return Value::err();
  if (a.has("causal") && a.flag("causal", false) && a.has("kv"))
    return error(a.loc("causal", e.Where), "cross-attention (kv:) cannot be causal");
  double scale = a.f64("scale", 1.0 / std::sqrt((double)headDim));
  std::string name = callName(e, "attention");
  Scope.push_back(name);
  int r = -1;
  do {
    int q = linear(x, heads * headDim, bias, "q", e.Where);
    if (q < 0)
      break;
    int k = linear(src, kvHeads * headDim, bias, "k", e.Where);
    if (k < 0)
      break;
    int v = linear(src, kvHeads * headDim, bias, "v", e.Where);
    if (v < 0)
      break;
    if (rot) {
      double theta = a.f64("rope_theta", 10000.0);
      q = rotary(q, heads, headDim, theta, e.Where);
      k = q < 0 ? -1 : rotary(k, kvHeads, headDim, theta, e.Where);
      if (k < 0)
        break;
    }
    int o = attentionCore(q, k, v, a.tensor("mask"), a.tensor("position_bias"), heads, kvHeads,
                          headDim, a.flag("causal", false), scale, e.Where,
                          a.loc("mask", e.Where), a.loc("position_bias", e.Where));
    if (o < 0)
      break;
    r = linear(o, a.i64("out", d), bias, "o", e.Where);
  } while (false);
  Scope.pop_back();
  return r < 0 ? Value::err() : Value::tensor(r);
}

Value Elaborator::biAttend(const Expr &e, const BoundArgs &a) {
  int q = a.tensor("q");
  int64_t dq;
  if (!expectFloat(q, 3, "attend", e.Where) || !staticLast(q, "attend", e.Where, dq))
    return Value::err();
  int64_t heads = a.i64("heads", 0);
  if (heads <= 0)
    return error(a.loc("heads", e.Where), "attention heads must be positive");
  if (!a.has("head_dim") && dq % heads != 0)
    return error(a.loc("heads", e.Where), "query size " + std::to_string(dq) +
                                              " is not divisible by heads " +
                                              std::to_string(heads));
  int64_t headDim = a.i64("head_dim", dq / heads);
  double scale = a.f64("scale", headDim > 0 ? 1.0 / std::sqrt((double)headDim) : 1.0);
  int r = attentionCore(q, a.tensor("k"), a.tensor("v"), a.tensor("mask"),
                        a.tensor("position_bias"), heads, a.i64("kv_heads", heads), headDim,
                        a.flag("causal", false), scale, e.Where, a.loc("mask", e.Where),
                        a.loc("position_bias", e.Where));
  return r < 0 ? Value::err() : Value::tensor(r);
}

Value Elaborator::biRotary(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  int64_t d;
  if (!expectFloat(x, 3, "rotary", e.Where) || !staticLast(x, "rotary", e.Where, d))
    return Value::err();
  int64_t heads = a.i64("heads", 0);
  if (heads <= 0 || (!a.has("head_dim") && d % heads != 0))
    return error(a.loc("heads", e.Where), "rotary: size " + std::to_string(d) +
                                              " is not divisible by heads " +
                                              std::to_string(heads));
  if (a.has("max_positions") && !checkMaxPositions(a, e.Where))
    return Value::err();
  int r = rotary(x, heads, a.i64("head_dim", d / heads), a.f64("theta", 10000.0), e.Where);
  return r < 0 ? Value::err() : Value::tensor(r);
}

Value Elaborator::biRelBias(const Expr &e, const BoundArgs &a) {
  int q = a.tensor("q"), kv = a.tensor("kv");
  const TensorType &tq = type(q), &tk = type(kv);
  if (tq.Shape.size() < 2 || tk.Shape.size() < 2)
    return error(e.Where, "'relative_position_bias' expects q and kv of shape [batch, seq, ...]");
  int64_t heads = a.i64("heads", 0), buckets = a.i64("buckets", 32),
          maxDist = a.i64("max_distance", 128);
  if (heads <= 0)
    return error(a.loc("heads", e.Where), "heads must be positive");
  bool bidir = a.flag("bidirectional", true);
  if (buckets < (bidir ? 4 : 2))
    return error(a.loc("buckets", e.Where), "relative_position_bias needs at least " +
                                                std::to_string(bidir ? 4 : 2) + " buckets");
  if (maxDist <= buckets / (bidir ? 2 : 1) / 2)
    return error(a.loc("max_distance", e.Where),
                 "max_distance must exceed half the buckets per direction");
  // The bias itself works for any length; max_positions bounds a decoder's KV cache.
  if (a.has("max_positions") && !checkMaxPositions(a, e.Where))
    return Value::err();
  std::string name = callName(e, "relative_position_bias");
  Scope.push_back(name);
  int p = createParam("weight", {buckets, heads}, InitKind::Normal, e.Where);
  Scope.pop_back();
  if (p < 0)
    return Value::err();
  TensorType t;
  t.Shape = {{heads, ""}, tq.Shape[1], tk.Shape[1]};
  return Value::tensor(addNode("relative_position_bias",
                               {{"", q}, {"", kv}, {"", paramRef(p, e.Where)}},
                               {{"num_buckets", Scalar::ofInt(buckets)},
                                {"max_distance", Scalar::ofInt(maxDist)},
                                {"bidirectional", Scalar::ofBool(bidir)},
                                {"num_heads", Scalar::ofInt(heads)}},
                               t, e.Where));
}

Value Elaborator::biPool(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  if (!expectFloat(x, 3, "pool", e.Where))
    return Value::err();
  const TensorType &tx = type(x);
  if (tx.Shape.size() != 3)
    return error(e.Where, "'pool' expects [batch, seq, dim], got " + formatType(tx));
  std::string mode = a.text("mode", "first");
  if (mode != "first" && mode != "mean")
    return error(a.loc("mode", e.Where), "unknown pool mode '" + mode + "' (first, mean)");
  std::vector<std::pair<std::string, int>> ops = {{"", x}};
  if (a.has("mask")) {
    const TensorType &tm = type(a.tensor("mask"));
    if (tm.Type != DType::I32 || tm.Shape.size() != 2 || tm.Shape[0] != tx.Shape[0] ||
        tm.Shape[1] != tx.Shape[1])
      return error(a.loc("mask", e.Where), "pool mask must be i32 [batch, seq] matching " +
                                               formatType(tx) + ", got " + formatType(tm));
    ops.push_back({"mask", a.tensor("mask")});
  }
  TensorType t;
  t.Shape = {tx.Shape[0], tx.Shape[2]};
  return Value::tensor(addNode("pool", ops, {{"mode", Scalar::ofString(mode)}}, t, e.Where));
}

Value Elaborator::biPooler(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  if (!expectFloat(x, 3, "pooler", e.Where) || type(x).Shape.size() != 3)
    return error(e.Where, "'pooler' expects [batch, seq, dim], got " + formatType(type(x)));
  int64_t d;
  if (!staticLast(x, "pooler", e.Where, d))
    return Value::err();
  TensorType t;
  t.Shape = {type(x).Shape[0], type(x).Shape[2]};
  int p = addNode("pool", {{"", x}}, {{"mode", Scalar::ofString("first")}}, t, e.Where);
  std::string name = callName(e, "pooler");
  Scope.push_back(name);
  int l = linear(p, d, true, "dense", e.Where);
  Scope.pop_back();
  if (l < 0)
    return Value::err();
  return Value::tensor(activation(l, "tanh", e.Where));
}

Value Elaborator::biLMHead(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  int64_t d;
  if (!expectFloat(x, 2, "lm_head", e.Where) || !staticLast(x, "lm_head", e.Where, d))
    return Value::err();
  if (a.has("scale")) {
    double f = a.f64("scale", 1);
    x = addNode("scale", {{"", x}}, {{"factor", Scalar::ofFloat(f)}}, type(x), e.Where);
  }
  std::string name = callName(e, "lm_head");
  bool bias = a.flag("bias", false);
  if (!a.has("tied")) {
    if (!a.has("vocab"))
      return error(e.Where, "'lm_head' needs a vocabulary size or a tied embedding: lm_head(x, "
                            "vocab) or lm_head(x, tied: NAME)");
    int r = linear(x, a.i64("vocab", 0), bias, name, e.Where);
    return r < 0 ? Value::err() : Value::tensor(r);
  }
  if (a.has("vocab"))
    return error(a.loc("vocab", e.Where), "'lm_head' with 'tied' takes the vocabulary size from "
                                          "the tied table; drop vocab");
  int p = tiedTable(a, e.Where);
  if (p < 0)
    return Value::err();
  int64_t v = G.Params[p].Shape[0];
  if (G.Params[p].Shape[1] != d)
    return error(a.loc("tied", e.Where), "tied table '" + G.Params[p].Name + "' has dim " +
                                             std::to_string(G.Params[p].Shape[1]) +
                                             " but the hidden state has " + std::to_string(d));
  std::vector<std::pair<std::string, int>> ops = {{"", x}, {"", paramRef(p, e.Where)}};
  if (bias) {
    Scope.push_back(name);
    int b = createParam("bias", {v}, InitKind::Zeros, e.Where);
    Scope.pop_back();
    if (b < 0)
      return Value::err();
    ops.push_back({"bias", paramRef(b, e.Where)});
  }
  TensorType t = type(x);
  t.Shape.back() = {v, ""};
  return Value::tensor(addNode("linear", ops, {}, t, e.Where));
}

Value Elaborator::biClassifier(const Expr &e, const BoundArgs &a) {
  int x = a.tensor("x");
  if (!expectFloat(x, 3, "classifier", e.Where) || type(x).Shape.size() != 3)
    return error(e.Where, "'classifier' expects [batch, seq, dim], got " + formatType(type(x)));
  std::string mode = a.text("pool", "first");
  if (mode != "first" && mode != "mean")
    return error(a.loc("pool", e.Where), "unknown pool mode '" + mode + "' (first, mean)");
  std::vector<std::pair<std::string, int>> ops = {{"", x}};
  if (a.has("mask")) {
    const TensorType &tm = type(a.tensor("mask"));
    if (tm.Type != DType::I32 || tm.Shape.size() != 2 || tm.Shape[0] != type(x).Shape[0] ||
        tm.Shape[1] != type(x).Shape[1])
      return error(a.loc("mask", e.Where), "classifier mask must be i32 [batch, seq], got " +
                                               formatType(tm));
    ops.push_back({"mask", a.tensor("mask")});
  }
  TensorType t;
  t.Shape = {type(x).Shape[0], type(x).Shape[2]};
  int p = addNode("pool", ops, {{"mode", Scalar::ofString(mode)}}, t, e.Where);
  int r = linear(p, a.i64("num_labels", 0), a.flag("bias", true), callName(e, "classifier"),
                 e.Where);
  return r < 0 ? Value::err() : Value::tensor(r);
}

// ---------------------------------------------------------------------------------------------
// Checkpoint mapping
// ---------------------------------------------------------------------------------------------

std::vector<std::string> splitDots(const std::string &s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '.')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

void Elaborator::applyWeights() {
  const WeightsDecl *w = MD.Weights.get();
  if (!w)
    return;
  G.WeightsFormat = w->Format;
  G.WeightsPrefixes = w->Prefixes;
  for (const IgnorePattern &ig : w->Ignore) {
    if (ig.Pattern.empty()) {
      error(ig.Where, "an 'ignore' pattern must not be empty");
      continue;
    }
    if (std::find(G.WeightsIgnore.begin(), G.WeightsIgnore.end(), ig.Pattern) !=
        G.WeightsIgnore.end()) {
      error(ig.Where, "checkpoint tensor pattern \"" + ig.Pattern + "\" is already ignored");
      continue;
    }
    G.WeightsIgnore.push_back(ig.Pattern);
  }
  if (w->Format != "huggingface")
    error(w->Where, "unknown weights format '" + w->Format + "' (supported: huggingface)");
  std::vector<bool> mapped(G.Params.size(), false);
  for (const WeightRule &r : w->Rules) {
    std::vector<std::string> pat = splitDots(r.Pattern);
    bool bad = false;
    for (const std::string &seg : pat)
      bad |= seg.empty() || (seg.find('*') != std::string::npos && seg != "*");
    if (bad) {
      error(r.Where, "bad parameter pattern \"" + r.Pattern +
                         "\": use dot-separated names where '*' stands for one whole segment");
      continue;
    }
    size_t stars = std::count(r.Pattern.begin(), r.Pattern.end(), '*');
    if (!r.None && (size_t)std::count(r.Target.begin(), r.Target.end(), '*') > stars) {
      error(r.Where, "checkpoint name \"" + r.Target + "\" uses more '*' than the pattern has");
      continue;
    }
    if (r.HasChunk && (r.Chunk[1] < 1 || r.Chunk[0] < 0 || r.Chunk[0] >= r.Chunk[1] ||
                       r.Chunk[2] < 0 || r.Chunk[2] > 1)) {
      error(r.ChunkWhere, "chunk(index, count, axis) needs 0 <= index < count and axis 0 or 1");
      continue;
    }
    bool any = false;
    for (size_t i = 0; i < G.Params.size(); ++i) {
      if (mapped[i])
        continue;
      Param &p = G.Params[i];
      std::vector<std::string> segs = splitDots(p.Name);
      if (segs.size() != pat.size())
        continue;
      std::vector<std::string> caps;
      bool match = true;
      for (size_t k = 0; k < segs.size() && match; ++k) {
        if (pat[k] == "*")
          caps.push_back(segs[k]);
        else
          match = pat[k] == segs[k];
      }
      if (!match)
        continue;
      any = true;
      mapped[i] = true;
      if (r.None) {
        p.HFName.clear();
        continue;
      }
      std::string t;
      size_t c = 0;
      for (char ch : r.Target) {
        if (ch == '*')
          t += caps[c++];
        else
          t += ch;
      }
      p.HFName = t;
      p.HFTranspose = r.Transpose;
      if (r.Transpose && p.Shape.size() != 2) {
        error(r.Where, "'transpose' applies to 2-D parameters, but '" + p.Name + "' has rank " +
                           std::to_string(p.Shape.size()));
        break;
      }
      if (r.HasChunk) {
        if ((size_t)r.Chunk[2] >= p.Shape.size()) {
          error(r.ChunkWhere, "chunk axis " + std::to_string(r.Chunk[2]) + " is out of range for '" +
                                  p.Name + "' of rank " + std::to_string(p.Shape.size()));
          break;
        }
        p.HasChunk = true;
        for (int k = 0; k < 3; ++k)
          p.Chunk[k] = r.Chunk[k];
      }
    }
    if (!any)
      error(r.Where, "weights rule \"" + r.Pattern + "\" matches no parameter");
  }
}

/// Evaluates the standard deviation of an init rule: a config expression, a positive finite
/// number.
bool Elaborator::initStd(const Expr &e, const std::string &what, double &out) {
  bool saved = InConfig;
  InConfig = true;
  Value v = eval(e);
  InConfig = saved;
  if (v.isErr())
    return false;
  if (!v.isNum()) {
    error(e.Where, what + " must be a number, got " + scalarKindName(v.S.K));
    return false;
  }
  out = v.num();
  if (!(out > 0) || !std::isfinite(out)) {
    error(e.Where, what + " must be positive and finite, got " + formatScalar(v.S));
    return false;
  }
  return true;
}

void Elaborator::applyInit() {
  const InitDecl *d = MD.Init.get();
  if (!d)
    return;
  if (d->DefaultStd) {
    double std;
    if (initStd(*d->DefaultStd, "the default standard deviation", std))
      for (Param &p : G.Params)
        if (p.Init == InitKind::Normal)
          p.Std = std;
  }
  std::vector<bool> set(G.Params.size(), false);
  for (const InitRule &r : d->Rules) {
    double std = 0;
    if (r.Kind == "normal" && (!r.Std || !initStd(*r.Std, "the standard deviation", std)))
      continue;
    bool any = false;
    for (const InitPattern &ip : r.Patterns) {
      std::vector<std::string> pat = splitDots(ip.Pattern);
      bool bad = false;
      for (const std::string &seg : pat)
        bad |= seg.empty() || (seg.find('*') != std::string::npos && seg != "*");
      if (bad) {
        error(ip.Where, "bad parameter pattern \"" + ip.Pattern +
                            "\": use dot-separated names where '*' stands for one whole segment");
        continue;
      }
      for (size_t i = 0; i < G.Params.size(); ++i) {
        if (set[i])
          continue;
        Param &p = G.Params[i];
        std::vector<std::string> segs = splitDots(p.Name);
        if (segs.size() != pat.size())
          continue;
        bool match = true;
        for (size_t k = 0; k < segs.size() && match; ++k)
          match = pat[k] == "*" || pat[k] == segs[k];
        if (!match)
          continue;
        any = true;
        set[i] = true;
        if (r.Kind == "normal") {
          p.Init = InitKind::Normal;
          p.Std = std;
        } else {
          p.Init = r.Kind == "zeros" ? InitKind::Zeros : InitKind::Ones;
          p.Std = 0.02;
        }
      }
    }
    if (!any) {
      std::string pats;
      for (const InitPattern &ip : r.Patterns)
        pats += (pats.empty() ? "\"" : ", \"") + ip.Pattern + "\"";
      error(r.Where, "init rule " + pats + " matches no parameter (or only parameters that an "
                     "earlier rule sets)");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

void Elaborator::run() {
  G.ModelName = MD.Name;
  G.ModelWhere = MD.Where;
  // Blocks: file scope and model scope share one namespace.
  auto addBlocks = [&](const std::vector<BlockDecl> &bs) {
    for (const BlockDecl &b : bs) {
      if (findBuiltin(b.Name) || isScalarFn(b.Name)) {
        error(b.Where, "block '" + b.Name + "' has the name of a built-in function");
        continue;
      }
      auto it = Blocks.find(b.Name);
      if (it != Blocks.end()) {
        error(b.Where, "block '" + b.Name + "' is already declared at " +
                           locStr(it->second->Where));
        continue;
      }
      std::set<std::string> seen;
      for (const BlockParam &p : b.Params)
        if (!seen.insert(p.Name).second)
          error(p.Where, "parameter '" + p.Name + "' is declared twice in block '" + b.Name + "'");
      Blocks[b.Name] = &b;
    }
  };
  addBlocks(M.Blocks);
  addBlocks(MD.Blocks);
  collectConfig();
  if (Abort)
    return;
  for (const InputDecl &in : MD.Inputs) {
    if (ConfigIndex.count(in.Name)) {
      error(in.Where, "input '" + in.Name + "' has the name of a config value");
      continue;
    }
    if (InputIndex.count(in.Name)) {
      error(in.Where, "input '" + in.Name + "' is already declared at " +
                          locStr(G.Inputs[InputIndex[in.Name]].Where));
      continue;
    }
    if (in.Kind != "tokens" && in.Kind != "mask" && in.Kind != "type_ids" &&
        in.Kind != "labels") {
      error(in.KindWhere, "unknown input kind '" + in.Kind + "'" +
                              suggest(in.Kind, {"tokens", "mask", "type_ids", "labels"}) +
                              " (kinds: tokens, mask, type_ids, labels)");
      continue;
    }
    size_t rank = in.Dims.size();
    if (in.Kind == "labels" ? (rank < 1 || rank > 2) : rank != 2) {
      error(in.KindWhere, "input '" + in.Name + "' of kind '" + in.Kind + "' must have " +
                              (in.Kind == "labels" ? "1 or 2 dimensions ([batch] or [batch, seq])"
                                                   : "2 dimensions [batch, seq]") +
                              ", got " + std::to_string(rank));
      continue;
    }
    TensorType t;
    t.Type = DType::I32;
    bool ok = true;
    for (const DimDecl &d : in.Dims) {
      if (!d.Name.empty()) {
        if (ConfigIndex.count(d.Name)) {
          // A config name used as a dimension means its (static) value.
          Value v = configValue(ConfigIndex[d.Name], d.Where);
          if (!v.isInt()) {
            error(d.Where, "dimension '" + d.Name + "' is a config value but not an integer");
            ok = false;
            break;
          }
          t.Shape.push_back({v.S.I, ""});
        } else {
          t.Shape.push_back({0, d.Name});
        }
      } else {
        t.Shape.push_back({d.Size, ""});
      }
      Dim &last = t.Shape.back();
      if (!last.isDynamic() && (last.Size <= 0 || last.Size > L.MaxDim)) {
        error(d.Where, "dimension " + std::to_string(last.Size) + " is out of range (1.." +
                           std::to_string(L.MaxDim) + ")");
        ok = false;
        break;
      }
    }
    if (!ok)
      continue;
    InputIndex[in.Name] = G.Inputs.size();
    G.Inputs.push_back({in.Name, in.Kind, newTensor(t), in.Where});
  }
  InputUsed.assign(G.Inputs.size(), false);
  if (Abort)
    return;
  Frames.emplace_back();
  execList(MD.Body);
  if (Abort)
    return;
  // Labels inputs feed only the objective.
  for (const Node &n : G.Nodes)
    for (int o : n.Operands)
      for (const GraphInput &in : G.Inputs)
        if (in.Tensor == o && in.Kind == "labels") {
          error(n.Where, "input '" + in.Name + "' holds labels; only the objective may use it");
          return;
        }
  for (size_t i = 0; i < G.Inputs.size(); ++i)
    if (!InputUsed[i])
      D.warning(G.Inputs[i].Where, "input '" + G.Inputs[i].Name + "' is never used");
  if (G.Outputs.empty() && !D.hasErrors())
    error(MD.Where, "model '" + MD.Name + "' has no outputs (add 'output NAME = ...')");
  applyWeights();
  applyInit();
}

} // namespace

bool elaborate(const Module &m, const std::vector<ConfigOverride> &overrides, DiagEngine &diags,
               Graph &out, const Limits &limits) {
  if (!m.Model)
    return false;
  Elaborator e(m, overrides, diags, out, limits);
  e.run();
  return !diags.hasErrors();
}

} // namespace fe
} // namespace kiln
