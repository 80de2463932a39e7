//===- Graph.cpp - Printing helpers for the elaborated model --------------===//
#include "kiln/Frontend/Graph.h"
#include "kiln/Frontend/Sema.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace kiln {
namespace fe {

std::string formatType(const TensorType &t) {
  std::string s = "[";
  for (size_t i = 0; i < t.Shape.size(); ++i) {
    if (i)
      s += ", ";
    s += t.Shape[i].isDynamic() ? t.Shape[i].Sym : std::to_string(t.Shape[i].Size);
  }
  s += t.Type == DType::F32 ? "] f32" : "] i32";
  return s;
}

std::string formatScalar(const Scalar &s) {
  switch (s.K) {
  case Scalar::Int:
    return std::to_string(s.I);
  case Scalar::Float: {
    char buf[64];
    snprintf(buf, sizeof(buf), "%.9g", s.F);
    std::string r = buf;
    if (r.find_first_of(".eni") == std::string::npos)
      r += ".0";
    return r;
  }
  case Scalar::Bool:
    return s.B ? "true" : "false";
  case Scalar::String:
    return "\"" + s.S + "\"";
  }
  return "";
}

const char *scalarKindName(Scalar::Kind k) {
  switch (k) {
  case Scalar::Int: return "an integer";
  case Scalar::Float: return "a number";
  case Scalar::Bool: return "a boolean";
  case Scalar::String: return "a string";
  }
  return "a value";
}

std::string formatParams(const Graph &g) {
  std::string out;
  for (const Param &p : g.Params) {
    out += p.Name + " [";
    for (size_t i = 0; i < p.Shape.size(); ++i)
      out += (i ? ", " : "") + std::to_string(p.Shape[i]);
    out += "] ";
    out += p.Init == InitKind::Normal ? "normal(" + formatScalar(Scalar::ofFloat(p.Std)) + ")"
           : p.Init == InitKind::Zeros ? "zeros"
                                       : "ones";
    if (p.HFName.empty()) {
      out += " <- none";
    } else {
      out += " <- " + p.HFName;
      if (p.HFTranspose)
        out += " transpose";
      if (p.HasChunk)
        out += " chunk(" + std::to_string(p.Chunk[0]) + ", " + std::to_string(p.Chunk[1]) + ", " +
               std::to_string(p.Chunk[2]) + ")";
    }
    out += "\n";
  }
  return out;
}

Scalar parseSetValue(const std::string &text) {
  if (text == "true")
    return Scalar::ofBool(true);
  if (text == "false")
    return Scalar::ofBool(false);
  if (!text.empty() && text.size() < 64) {
    const char *b = text.c_str();
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(b, &end, 10);
    if (*end == '\0' && errno == 0 && end != b)
      return Scalar::ofInt(v);
    errno = 0;
    double d = std::strtod(b, &end);
    if (*end == '\0' && errno == 0 && end != b && std::isfinite(d))
      return Scalar::ofFloat(d);
  }
  return Scalar::ofString(text);
}

} // namespace fe
} // namespace kiln
