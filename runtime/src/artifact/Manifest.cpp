//===- Manifest.cpp - Manifest validation and its JSON form ---------------===//
//
// The JSON layout is specified in docs/artifact.md ("The manifest").
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/artifact/Manifest.h"

#include "Json.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace kiln::rt {
using detail::Json;

const char *initKindName(InitKind kind) {
  switch (kind) {
  case InitKind::Normal: return "normal";
  case InitKind::Zeros: return "zeros";
  case InitKind::Ones: return "ones";
  }
  return "normal";
}

const char *quantizationName(Quantization q) {
  return q == Quantization::Int8Row ? "int8_row" : "none";
}

int64_t Parameter::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string ConfigValue::toString() const {
  switch (kind) {
  case Kind::Int: return std::to_string(i);
  case Kind::Float: return Json(f).dump();
  case Kind::Bool: return b ? "true" : "false";
  case Kind::String: return Json(s).dump();
  }
  return {};
}

const Parameter *Manifest::findParameter(std::string_view name) const {
  for (const Parameter &p : parameters)
    if (p.name == name)
      return &p;
  return nullptr;
}
const EntryPoint *Manifest::findEntryPoint(std::string_view name) const {
  for (const EntryPoint &e : entryPoints)
    if (e.name == name)
      return &e;
  return nullptr;
}
const Target *Manifest::findTarget(std::string_view name) const {
  for (const Target &t : targets)
    if (t.name == name)
      return &t;
  return nullptr;
}
const ConfigValue *Manifest::findConfig(std::string_view key) const {
  for (const auto &kv : config)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

namespace {
/// Thrown inside this file only; converted to a Status at the public boundary.
struct ManifestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &message) { throw ManifestError(message); }

std::string quote(std::string_view s) { return Json(std::string(s)).dump(); }

/// Names of parameters, signatures and sections: printable ASCII, no spaces or quotes, so
/// they can be printed, used in file names (`<output>.npy`) and matched unambiguously.
void checkName(std::string_view name, const std::string &what) {
  if (name.empty())
    fail(what + " has an empty name");
  if (name.size() > 256)
    fail(what + " name is longer than 256 bytes");
  for (char c : name) {
    bool okChar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-' || c == '/' || c == ':';
    if (!okChar)
      fail(what + " name " + quote(name) + " has a character outside [A-Za-z0-9_.:/-]");
  }
}

bool isIdentifier(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

constexpr int64_t kMaxBytes = int64_t(1) << 48; // 256 TiB: far beyond any model, far from overflow

void checkSignature(const TensorSignature &sig, const std::string &what) {
  checkName(sig.name, what);
  for (const Dim &d : sig.shape) {
    if (d.isSymbolic()) {
      if (!isIdentifier(d.symbol))
        fail(what + " " + quote(sig.name) + " has a symbolic dimension " + quote(d.symbol) +
             " that is not an identifier");
    } else if (d.size < 0) {
      fail(what + " " + quote(sig.name) + " has a negative dimension " + std::to_string(d.size));
    }
  }
}

void validate(const Manifest &m) {
  checkName(m.model, "model");

  std::set<std::string> seen;
  for (const auto &kv : m.config) {
    if (kv.first.empty())
      fail("config has an empty key");
    if (!seen.insert(kv.first).second)
      fail("config key " + quote(kv.first) + " appears twice");
    if (kv.second.kind == ConfigValue::Kind::Float && !std::isfinite(kv.second.f))
      fail("config value " + quote(kv.first) + " is not finite");
  }

  seen.clear();
  for (const Target &t : m.targets) {
    checkName(t.name, "target");
    if (!seen.insert(t.name).second)
      fail("target " + quote(t.name) + " appears twice");
    checkName(t.codeSection, "target " + quote(t.name) + " code section");
    // Feature names are not checked against a list here: a reader must accept an artifact
    // whose code it cannot run (kiln info describes it); the executor refuses to load it.
    std::set<std::string> features;
    for (const std::string &f : t.cpuFeatures) {
      checkName(f, "target " + quote(t.name) + " CPU feature");
      if (!features.insert(f).second)
        fail("target " + quote(t.name) + " lists the CPU feature " + quote(f) + " twice");
    }
  }

  seen.clear();
  for (const EntryPoint &e : m.entryPoints) {
    checkName(e.name, "entry point");
    if (!seen.insert(e.name).second)
      fail("entry point " + quote(e.name) + " appears twice");
    std::set<std::string> names;
    for (const TensorSignature &s : e.inputs) {
      checkSignature(s, "entry point " + quote(e.name) + " input");
      if (!names.insert(s.name).second)
        fail("entry point " + quote(e.name) + " has two inputs named " + quote(s.name));
    }
    names.clear();
    for (const TensorSignature &s : e.outputs) {
      checkSignature(s, "entry point " + quote(e.name) + " output");
      if (!names.insert(s.name).second)
        fail("entry point " + quote(e.name) + " has two outputs named " + quote(s.name));
    }
    for (const TensorSignature &s : e.state) {
      checkSignature(s, "entry point " + quote(e.name) + " state");
      if (!names.insert(s.name).second)
        fail("entry point " + quote(e.name) + " has two outputs or states named " +
             quote(s.name));
    }
    for (const TensorSignature &s : e.state)
      for (const TensorSignature &in : e.inputs)
        if (in.name == s.name)
          fail("entry point " + quote(e.name) + " has an input and a state named " +
               quote(s.name));
    names.clear();
    for (const auto &ts : e.schedules) {
      if (!m.findTarget(ts.first))
        fail("entry point " + quote(e.name) + " has a schedule for undeclared target " +
             quote(ts.first));
      if (!names.insert(ts.first).second)
        fail("entry point " + quote(e.name) + " has two schedules for target " + quote(ts.first));
      checkName(ts.second, "entry point " + quote(e.name) + " schedule section");
    }
  }

  seen.clear();
  // hf_name -> (count, axis, indices used) for fused tensors.
  struct Fused {
    bool sliced;
    int64_t count, axis;
    std::set<int64_t> indices;
    std::string firstUser;
  };
  std::map<std::string, Fused> hfUsers;
  for (const Parameter &p : m.parameters) {
    checkName(p.name, "parameter");
    std::string what = "parameter " + quote(p.name);
    if (!seen.insert(p.name).second)
      fail(what + " appears twice");
    if (p.shape.size() > 8)
      fail(what + " has rank " + std::to_string(p.shape.size()) + " (at most 8)");
    int64_t bytes = static_cast<int64_t>(dtypeSize(p.dtype));
    for (int64_t d : p.shape) {
      if (d < 0)
        fail(what + " has a negative dimension " + std::to_string(d));
      if (d > 0 && bytes > kMaxBytes / d)
        fail(what + " is larger than 2^48 bytes");
      bytes *= d;
    }
    if (p.quant == Quantization::Int8Row) {
      if (p.dtype != DType::I8 || p.shape.size() != 2)
        fail(what + " is int8_row quantized but is " + dtypeName(p.dtype) + " of rank " +
             std::to_string(p.shape.size()) + " (an i8 matrix)");
      const Parameter *s = m.findParameter(p.scale);
      if (!s || s->scaleOf != p.name || s->dtype != DType::F32 || s->shape.size() != 1 ||
          s->shape[0] != p.shape[0])
        fail(what + " names scale " + quote(p.scale) +
             ", which is not an f32 vector of one value per row whose scale_of names it back");
    } else if (!p.scale.empty()) {
      fail(what + " has a scale but is not quantized");
    } else if (!isFloatingPoint(p.dtype)) {
      fail(what + " has dtype " + dtypeName(p.dtype) +
           "; parameters are f32, f16, bf16 or f64 (or i8 with int8_row quantization)");
    }
    if (!p.scaleOf.empty()) {
      const Parameter *w = m.findParameter(p.scaleOf);
      if (!w || w->scale != p.name || w->quant != Quantization::Int8Row)
        fail(what + " is scale_of " + quote(p.scaleOf) +
             ", which is not an int8_row parameter whose scale names it back");
      if (!p.hfName.empty())
        fail(what + " holds computed scales and cannot have an hf_name");
    }
    if (p.init == InitKind::Normal && (!std::isfinite(p.initStd) || p.initStd < 0))
      fail(what + " has an invalid init std " + Json(p.initStd).dump());
    if (p.hfName.empty()) {
      if (p.transpose || p.hasSlice)
        fail(what + " has a transpose or slice but no hf_name");
      continue;
    }
    checkName(p.hfName, what + " hf_name");
    if (p.transpose && p.shape.size() != 2)
      fail(what + " is transposed but has rank " + std::to_string(p.shape.size()) +
           " (transpose applies to matrices)");
    if (p.hasSlice) {
      const ParamSlice &s = p.slice;
      if (s.count < 1 || s.count > 4096)
        fail(what + " slice count " + std::to_string(s.count) + " is not in [1, 4096]");
      if (s.index < 0 || s.index >= s.count)
        fail(what + " slice index " + std::to_string(s.index) + " is not in [0, " +
             std::to_string(s.count) + ")");
      if (s.axis < 0 || s.axis >= static_cast<int64_t>(p.shape.size()))
        fail(what + " slice axis " + std::to_string(s.axis) + " is not an axis of its rank-" +
             std::to_string(p.shape.size()) + " shape");
    }
    auto it = hfUsers.find(p.hfName);
    if (it == hfUsers.end()) {
      Fused f{p.hasSlice, p.slice.count, p.slice.axis, {p.slice.index}, p.name};
      hfUsers.emplace(p.hfName, std::move(f));
      continue;
    }
    Fused &f = it->second;
    if (!f.sliced || !p.hasSlice || f.count != p.slice.count || f.axis != p.slice.axis)
      fail(what + " and parameter " + quote(f.firstUser) + " both map to hf_name " +
           quote(p.hfName) + " without being distinct slices of the same split");
    if (!f.indices.insert(p.slice.index).second)
      fail(what + " and parameter " + quote(f.firstUser) + " take the same slice of " +
           quote(p.hfName));
  }

  for (const std::string &prefix : m.hfPrefixes)
    if (prefix.size() > 256)
      fail("hf_prefixes entry is longer than 256 bytes");
  for (const std::string &pattern : m.hfIgnore)
    if (pattern.empty() || pattern.size() > 256)
      fail("hf_ignore has an empty or over-long pattern");
}

//===----------------------------------------------------------------------===//
// JSON reading
//===----------------------------------------------------------------------===//

const Json &member(const Json &obj, const char *key, const std::string &where) {
  auto it = obj.find(key);
  if (it == obj.end())
    fail(where + " has no \"" + key + "\"");
  return *it;
}

std::string getString(const Json &v, const std::string &where) {
  if (!v.is_string())
    fail(where + " must be a string");
  return v.get<std::string>();
}

int64_t getInt(const Json &v, const std::string &where) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(where + " is too large");
    return static_cast<int64_t>(u);
  }
  if (!v.is_number_integer())
    fail(where + " must be an integer");
  return v.get<int64_t>();
}

const Json &getArray(const Json &v, const std::string &where) {
  if (!v.is_array())
    fail(where + " must be an array");
  return v;
}

const Json &getObject(const Json &v, const std::string &where) {
  if (!v.is_object())
    fail(where + " must be an object");
  return v;
}

DType getDType(const Json &v, const std::string &where) {
  std::string s = getString(v, where);
  DType t;
  if (!parseDType(s, t))
    fail(where + " has unknown dtype " + quote(s));
  return t;
}

TensorSignature readSignature(const Json &v, const std::string &where) {
  getObject(v, where);
  TensorSignature sig;
  sig.name = getString(member(v, "name", where), where + " name");
  std::string w = where + " " + quote(sig.name);
  sig.dtype = getDType(member(v, "dtype", w), w + " dtype");
  for (const Json &d : getArray(member(v, "shape", w), w + " shape")) {
    if (d.is_string())
      sig.shape.push_back(Dim::symbolic(d.get<std::string>()));
    else
      sig.shape.push_back(Dim::fixed(getInt(d, w + " dimension")));
  }
  return sig;
}

Parameter readParameter(const Json &v, size_t index) {
  std::string where = "parameter #" + std::to_string(index);
  getObject(v, where);
  Parameter p;
  p.name = getString(member(v, "name", where), where + " name");
  where = "parameter " + quote(p.name);
  for (const Json &d : getArray(member(v, "shape", where), where + " shape"))
    p.shape.push_back(getInt(d, where + " dimension"));
  p.dtype = getDType(member(v, "dtype", where), where + " dtype");
  std::string init = getString(member(v, "init", where), where + " init");
  if (init == "normal") {
    p.init = InitKind::Normal;
    const Json &std = member(v, "std", where);
    if (!std.is_number())
      fail(where + " std must be a number");
    p.initStd = std.get<double>();
  } else if (init == "zeros") {
    p.init = InitKind::Zeros;
    p.initStd = 0;
  } else if (init == "ones") {
    p.init = InitKind::Ones;
    p.initStd = 0;
  } else {
    fail(where + " has unknown init " + quote(init) + " (normal, zeros or ones)");
  }
  if (auto it = v.find("hf_name"); it != v.end() && !it->is_null())
    p.hfName = getString(*it, where + " hf_name");
  if (auto it = v.find("transpose"); it != v.end()) {
    if (!it->is_boolean())
      fail(where + " transpose must be true or false");
    p.transpose = it->get<bool>();
  }
  if (auto it = v.find("slice"); it != v.end() && !it->is_null()) {
    const Json &s = getArray(*it, where + " slice");
    if (s.size() != 3)
      fail(where + " slice must be [index, count, axis]");
    p.hasSlice = true;
    p.slice.index = getInt(s[0], where + " slice index");
    p.slice.count = getInt(s[1], where + " slice count");
    p.slice.axis = getInt(s[2], where + " slice axis");
  }
  if (auto it = v.find("quantization"); it != v.end()) {
    std::string q = getString(*it, where + " quantization");
    if (q == "int8_row")
      p.quant = Quantization::Int8Row;
    else if (q != "none")
      fail(where + " has unsupported quantization " + quote(q) + " (none or int8_row)");
  }
  if (auto it = v.find("scale"); it != v.end())
    p.scale = getString(*it, where + " scale");
  if (auto it = v.find("scale_of"); it != v.end())
    p.scaleOf = getString(*it, where + " scale_of");
  return p;
}

std::vector<std::string> readStrings(const Json &obj, const char *key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end())
    return out;
  for (const Json &s : getArray(*it, std::string("\"") + key + "\""))
    out.push_back(getString(s, std::string("\"") + key + "\" entry"));
  return out;
}

Manifest readManifest(const Json &root) {
  getObject(root, "manifest");
  Manifest m;
  m.model = getString(member(root, "model", "manifest"), "model");
  if (auto it = root.find("config"); it != root.end()) {
    for (const auto &kv : getObject(*it, "config").items()) {
      const Json &v = kv.value();
      std::string where = "config value " + quote(kv.key());
      ConfigValue c;
      if (v.is_boolean())
        c = ConfigValue::ofBool(v.get<bool>());
      else if (v.is_number_integer())
        c = ConfigValue::ofInt(getInt(v, where));
      else if (v.is_number_float())
        c = ConfigValue::ofFloat(v.get<double>());
      else if (v.is_string())
        c = ConfigValue::ofString(v.get<std::string>());
      else
        fail(where + " must be a number, a boolean or a string");
      m.config.emplace_back(kv.key(), std::move(c));
    }
  }
  if (auto it = root.find("targets"); it != root.end()) {
    for (const Json &t : getArray(*it, "targets")) {
      getObject(t, "target");
      Target target;
      target.name = getString(member(t, "name", "target"), "target name");
      std::string where = "target " + quote(target.name);
      target.codeSection = getString(member(t, "code_section", where), where + " code_section");
      // Both since 1.3; older artifacts carry neither and run unchecked.
      if (auto it = t.find("cpu"); it != t.end())
        target.cpu = getString(*it, where + " cpu");
      if (auto it = t.find("cpu_features"); it != t.end())
        for (const Json &f : getArray(*it, where + " cpu_features"))
          target.cpuFeatures.push_back(getString(f, where + " cpu_features entry"));
      m.targets.push_back(std::move(target));
    }
  }
  if (auto it = root.find("entry_points"); it != root.end()) {
    for (const Json &e : getArray(*it, "entry_points")) {
      getObject(e, "entry point");
      EntryPoint ep;
      ep.name = getString(member(e, "name", "entry point"), "entry point name");
      std::string where = "entry point " + quote(ep.name);
      for (const Json &s : getArray(member(e, "inputs", where), where + " inputs"))
        ep.inputs.push_back(readSignature(s, where + " input"));
      for (const Json &s : getArray(member(e, "outputs", where), where + " outputs"))
        ep.outputs.push_back(readSignature(s, where + " output"));
      if (auto sit = e.find("state"); sit != e.end())
        for (const Json &s : getArray(*sit, where + " state"))
          ep.state.push_back(readSignature(s, where + " state"));
      if (auto sit = e.find("schedules"); sit != e.end())
        for (const auto &kv : getObject(*sit, where + " schedules").items())
          ep.schedules.emplace_back(kv.key(), getString(kv.value(), where + " schedule"));
      m.entryPoints.push_back(std::move(ep));
    }
  }
  if (auto it = root.find("parameters"); it != root.end()) {
    size_t i = 0;
    for (const Json &p : getArray(*it, "parameters"))
      m.parameters.push_back(readParameter(p, i++));
  }
  m.hfPrefixes = readStrings(root, "hf_prefixes");
  m.hfIgnore = readStrings(root, "hf_ignore");
  return m;
}

//===----------------------------------------------------------------------===//
// JSON writing
//===----------------------------------------------------------------------===//

Json signatureJson(const TensorSignature &s) {
  Json shape = Json::array();
  for (const Dim &d : s.shape)
    shape.push_back(d.isSymbolic() ? Json(d.symbol) : Json(d.size));
  return Json{{"name", s.name}, {"dtype", dtypeName(s.dtype)}, {"shape", shape}};
}

Json manifestJson(const Manifest &m) {
  Json root = Json::object();
  root["model"] = m.model;
  Json config = Json::object();
  for (const auto &kv : m.config) {
    const ConfigValue &c = kv.second;
    switch (c.kind) {
    case ConfigValue::Kind::Int: config[kv.first] = c.i; break;
    case ConfigValue::Kind::Float: config[kv.first] = c.f; break;
    case ConfigValue::Kind::Bool: config[kv.first] = c.b; break;
    case ConfigValue::Kind::String: config[kv.first] = c.s; break;
    }
  }
  root["config"] = config;
  Json targets = Json::array();
  for (const Target &t : m.targets) {
    Json target{{"name", t.name}, {"code_section", t.codeSection}};
    if (!t.cpu.empty())
      target["cpu"] = t.cpu;
    // Written whenever the CPU is: an empty list then says "needs nothing checkable".
    if (!t.cpu.empty() || !t.cpuFeatures.empty())
      target["cpu_features"] = t.cpuFeatures;
    targets.push_back(std::move(target));
  }
  root["targets"] = targets;
  Json entries = Json::array();
  for (const EntryPoint &e : m.entryPoints) {
    Json ins = Json::array(), outs = Json::array(), scheds = Json::object();
    for (const TensorSignature &s : e.inputs)
      ins.push_back(signatureJson(s));
    for (const TensorSignature &s : e.outputs)
      outs.push_back(signatureJson(s));
    for (const auto &ts : e.schedules)
      scheds[ts.first] = ts.second;
    Json entry{{"name", e.name}, {"inputs", ins}, {"outputs", outs}, {"schedules", scheds}};
    if (!e.state.empty()) {
      Json state = Json::array();
      for (const TensorSignature &s : e.state)
        state.push_back(signatureJson(s));
      entry["state"] = state;
    }
    entries.push_back(entry);
  }
  root["entry_points"] = entries;
  root["hf_prefixes"] = m.hfPrefixes;
  root["hf_ignore"] = m.hfIgnore;
  Json params = Json::array();
  for (const Parameter &p : m.parameters) {
    Json j = Json::object();
    j["name"] = p.name;
    j["shape"] = p.shape;
    j["dtype"] = dtypeName(p.dtype);
    j["init"] = initKindName(p.init);
    if (p.init == InitKind::Normal)
      j["std"] = p.initStd;
    if (!p.hfName.empty())
      j["hf_name"] = p.hfName;
    if (p.transpose)
      j["transpose"] = true;
    if (p.hasSlice)
      j["slice"] = Json::array({p.slice.index, p.slice.count, p.slice.axis});
    j["quantization"] = quantizationName(p.quant);
    if (!p.scale.empty())
      j["scale"] = p.scale;
    if (!p.scaleOf.empty())
      j["scale_of"] = p.scaleOf;
    params.push_back(std::move(j));
  }
  root["parameters"] = params;
  return root;
}
} // namespace

Status validateManifest(const Manifest &manifest, std::string_view what) {
  try {
    validate(manifest);
  } catch (const ManifestError &e) {
    return Status::invalid(std::string(what) + ": " + e.what());
  } catch (const std::exception &e) {
    return Status::invalid(std::string(what) + ": " + e.what());
  }
  return Status::success();
}

Status parseManifest(std::string_view json, Manifest &out, std::string_view what) {
  Json root;
  std::string error;
  if (!detail::parseStrictJson(json, root, error))
    return Status::invalid(std::string(what) + ": " + error);
  try {
    Manifest m = readManifest(root);
    validate(m);
    out = std::move(m);
  } catch (const ManifestError &e) {
    return Status::invalid(std::string(what) + ": " + e.what());
  } catch (const std::exception &e) {
    return Status::invalid(std::string(what) + ": " + e.what());
  }
  return Status::success();
}

Status serializeManifest(const Manifest &manifest, std::string &out) {
  Status s = validateManifest(manifest);
  if (!s.ok())
    return s;
  try {
    out = manifestJson(manifest).dump(1, ' ', /*ensure_ascii=*/false,
                                      Json::error_handler_t::strict);
  } catch (const std::exception &e) {
    return Status::invalid(std::string("manifest: ") + e.what());
  }
  return Status::success();
}

} // namespace kiln::rt
