//===- Json.h - Strict JSON parsing for manifests and headers ---*- C++ -*-===//
//
// Internal to the runtime (never in public headers). nlohmann-json keeps the last of repeated
// keys; files that repeat a key are ambiguous, so this parser refuses them, and it bounds the
// nesting depth.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_SRC_ARTIFACT_JSON_H
#define KILN_RT_SRC_ARTIFACT_JSON_H

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt::detail {

using Json = nlohmann::ordered_json;

/// Parses `text` as one JSON value. On failure returns false and sets `error` (no file name).
inline bool parseStrictJson(std::string_view text, Json &out, std::string &error,
                            int maxDepth = 32) {
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto callback = [&](int depth, Json::parse_event_t event, Json &parsed) -> bool {
    if (!problem.empty())
      return false;
    if (depth > maxDepth) {
      problem = "JSON nested deeper than " + std::to_string(maxDepth) + " levels";
      return false;
    }
    switch (event) {
    case Json::parse_event_t::object_start:
      keys.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      if (!keys.empty())
        keys.pop_back();
      break;
    case Json::parse_event_t::key: {
      const std::string &k = parsed.get_ref<const std::string &>();
      if (!keys.empty() && !keys.back().insert(k).second) {
        problem = "JSON key \"" + k + "\" appears twice in one object";
        return false;
      }
      break;
    }
    default:
      break;
    }
    return true;
  };
  try {
    out = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                      /*ignore_comments=*/false);
  } catch (const Json::exception &e) {
    error = problem.empty() ? std::string("invalid JSON: ") + e.what() : problem;
    return false;
  }
  if (!problem.empty()) {
    error = problem;
    return false;
  }
  if (out.is_discarded()) {
    error = "invalid JSON";
    return false;
  }
  return true;
}

} // namespace kiln::rt::detail

#endif // KILN_RT_SRC_ARTIFACT_JSON_H
