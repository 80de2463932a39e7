//===- ScheduleTest.cpp - The schedule reader's checks ---------------------===//
//
// parseSchedule (runtime/include/kiln/rt/exec/Schedule.h) on a two-dispatch schedule with
// temporaries (docs/artifact.md, "Schedules"), and with a third dispatch binding one layer of a
// state buffer: the valid one is read as written, and each broken variant is refused with a
// message naming the section and the problem.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/Schedule.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>

using namespace kiln::rt;
using namespace kiln::rt::exec;

namespace {

struct Fixture {
  EntryPoint entry;
  Manifest manifest;
  std::vector<hal::DispatchInfo> code;

  Fixture() {
    entry.name = "forward";
    entry.inputs.push_back({"ids", DType::I32, {Dim::symbolic("batch"), Dim::symbolic("seq")}});
    entry.outputs.push_back({"logits", DType::F32, {Dim::symbolic("batch"), Dim::fixed(4)}});
    Parameter w;
    w.name = "w";
    w.shape = {4, 4};
    manifest.parameters.push_back(w);
    // A KV cache: 2 layers of [batch, 2, 4] f32, 64 bytes each at batch 2.
    entry.state.push_back({"cache",
                           DType::F32,
                           {Dim::fixed(2), Dim::symbolic("batch"), Dim::fixed(2), Dim::fixed(4)}});
    // d0(ids, w) -> t0; d1(t0, w) -> logits; d2(ids, layer) -> layer (in place)
    code.push_back({"d0", 3, 0, {8, 64, 32}, {1, 1, 1}});
    code.push_back({"d1", 3, 0, {32, 64, 32}, {1, 1, 1}});
    code.push_back({"d2", 3, 0, {8, 64, 64}, {1, 1, 1}});
  }
};

nlohmann::json validSchedule() {
  return nlohmann::json::parse(R"({
    "version": 1, "entry_point": "forward", "static_dims": {"batch": 2, "seq": 1},
    "dispatches": [
      {"dispatch": "d0", "workgroups": [2, 1, 1], "scalars": [],
       "buffers": [{"kind": "input", "name": "ids"}, {"kind": "parameter", "name": "w"},
                   {"kind": "temporary", "name": "t0"}]},
      {"dispatch": "d1", "workgroups": [1, 1, 1], "scalars": [],
       "buffers": [{"kind": "temporary", "name": "t0"}, {"kind": "parameter", "name": "w"},
                   {"kind": "output", "name": "logits"}]}],
    "temporaries": [{"name": "t0", "dtype": "f32", "shape": [2, 4], "bytes": 32,
                     "first": 0, "last": 1, "offset": 64}],
    "temporary_bytes": 32, "arena_bytes": 96})");
}

Status parse(const nlohmann::json &j, Schedule &out) {
  Fixture f;
  return parseSchedule(j.dump(), "model.kc:schedule/cpu-x86_64/forward", f.entry, f.manifest,
                       f.code, out);
}

/// The message parseSchedule gives for validSchedule() changed by `edit` (empty: accepted).
std::string refusal(const std::function<void(nlohmann::json &)> &edit) {
  nlohmann::json j = validSchedule();
  edit(j);
  Schedule s;
  Status status = parse(j, s);
  return status.ok() ? std::string() : status.message();
}

/// validSchedule() with a third dispatch appending to layer 1 of the cache in place: its bytes
/// [64, 128) as operand and result.
nlohmann::json withLayerDispatch() {
  nlohmann::json j = validSchedule();
  nlohmann::json layer = {
      {"kind", "state_range"}, {"name", "cache"}, {"offset", 64}, {"bytes", 64}};
  j["dispatches"].push_back({{"dispatch", "d2"},
                             {"workgroups", {1, 1, 1}},
                             {"scalars", nlohmann::json::array()},
                             {"buffers", {{{"kind", "input"}, {"name", "ids"}}, layer, layer}}});
  return j;
}

/// The message parseSchedule gives for withLayerDispatch() with the layer operand changed by
/// `edit` (empty: accepted).
std::string layerRefusal(const std::function<void(nlohmann::json &)> &edit) {
  return refusal([&](nlohmann::json &j) {
    j = withLayerDispatch();
    edit(j["dispatches"][2]["buffers"][1]);
  });
}

TEST(ScheduleTest, ReadsTemporariesArenaAndStaticDims) {
  Schedule s;
  Status status = parse(validSchedule(), s);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(s.dispatches.size(), 2u);
  EXPECT_EQ(s.dispatches[0].workgroups, (std::array<uint32_t, 3>{2, 1, 1}));
  EXPECT_EQ(s.dispatches[1].index, 1);
  ASSERT_EQ(s.dispatches[0].buffers[2].kind, BufferRef::Temporary);
  EXPECT_EQ(s.dispatches[0].buffers[2].temporary, 0);
  EXPECT_EQ(s.dispatches[1].buffers[0].kind, BufferRef::Temporary);
  EXPECT_EQ(s.arenaBytes, 96u);
  ASSERT_EQ(s.temporaries.size(), 1u);
  EXPECT_EQ(s.temporaries[0].offset, 64u);
  EXPECT_EQ(s.temporaries[0].bytes, 32u);
  EXPECT_EQ(s.temporaries[0].shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(s.staticDims, (std::vector<std::pair<std::string, int64_t>>{{"batch", 2}, {"seq", 1}}));
}

TEST(ScheduleTest, WithoutTemporariesIsStillValid) {
  // A whole-entry-point schedule (no temporaries, no static sizes) as kilnc writes by default.
  EXPECT_EQ(refusal([](nlohmann::json &j) {
              j.erase("temporaries");
              j.erase("arena_bytes");
              j.erase("static_dims");
              j["dispatches"][0]["buffers"][2] = {{"kind", "output"}, {"name", "logits"}};
              j["dispatches"][1]["buffers"][0] = {{"kind", "input"}, {"name", "ids"}};
            }),
            "");
}

TEST(ScheduleTest, RefusesUnknownTemporary) {
  std::string m =
      refusal([](nlohmann::json &j) { j["dispatches"][1]["buffers"][0]["name"] = "t9"; });
  EXPECT_NE(m.find("model.kc:schedule/cpu-x86_64/forward: invalid schedule"), std::string::npos)
      << m;
  EXPECT_NE(m.find("binds unknown temporary 't9'"), std::string::npos) << m;
}

TEST(ScheduleTest, RefusesTemporaryOutsideTheArena) {
  std::string m = refusal([](nlohmann::json &j) { j["temporaries"][0]["offset"] = 68; });
  EXPECT_NE(m.find("temporary 't0': offset 68 + 32 bytes is outside the arena of 96 bytes"),
            std::string::npos)
      << m;
  m = refusal([](nlohmann::json &j) { j["arena_bytes"] = 95; });
  EXPECT_NE(m.find("outside the arena of 95 bytes"), std::string::npos) << m;
  // An offset near 2^64 must not wrap around the bounds check.
  m = refusal([](nlohmann::json &j) { j["temporaries"][0]["offset"] = uint64_t(-16); });
  EXPECT_NE(m.find("outside the arena"), std::string::npos) << m;
}

TEST(ScheduleTest, RefusesBadOffsetsAndSizes) {
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"][0]["offset"] = 66;
            }).find("offset 66 is not aligned to its 4-byte elements"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"][0]["offset"] = -64;
            }).find("offset must be a non-negative integer"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"][0]["bytes"] = 16;
            }).find("bytes = 16 does not match its shape (32)"),
            std::string::npos);
  // Smaller than the compiled code reads (d1's first binding is 32 bytes).
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"][0]["shape"] = {2, 2};
              j["temporaries"][0]["bytes"] = 16;
            }).find("binds temporary 't0' of 16 bytes; its code needs 32"),
            std::string::npos);
}

TEST(ScheduleTest, RefusesLiveTemporariesSharingBytes) {
  std::string m = refusal([](nlohmann::json &j) {
    j["temporaries"].push_back({{"name", "t1"},
                                {"dtype", "f32"},
                                {"shape", {4}},
                                {"bytes", 16},
                                {"first", 1},
                                {"last", 1},
                                {"offset", 80}});
  });
  EXPECT_NE(m.find("temporaries 't0' and 't1' share arena bytes while both are live"),
            std::string::npos)
      << m;
  // Disjoint bytes are fine.
  EXPECT_EQ(refusal([](nlohmann::json &j) {
              j["temporaries"].push_back({{"name", "t1"},
                                          {"dtype", "f32"},
                                          {"shape", {4}},
                                          {"bytes", 16},
                                          {"first", 1},
                                          {"last", 1},
                                          {"offset", 0}});
            }),
            "");
}

TEST(ScheduleTest, RefusesBadLiveRangesAndBindings) {
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"][0]["last"] = 2;
            }).find("live range [0, 2] is not within the 2 dispatches"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"][0]["first"] = 1;
            }).find("dispatch 0 'd0' binds temporary 't0' outside its live range [1, 1]"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"].push_back(j["temporaries"][0]);
            }).find("temporary 't0': declared twice"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j.erase("arena_bytes");
            }).find("temporaries and arena_bytes come together"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["temporaries"][0]["dtype"] = "f7";
            }).find("temporary 't0': unknown dtype"),
            std::string::npos);
}

TEST(ScheduleTest, RefusesBadDispatches) {
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["dispatches"][1]["buffers"].erase(2);
            }).find("dispatch 'd1' binds 2 buffers and 0 scalars; its code takes 3 and 0"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["dispatches"][0]["workgroups"] = {0, 1, 1};
            }).find("dispatch 'd0': bad workgroup count"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["dispatches"][0]["workgroups"] = {65536, 65536, 1};
            }).find("more than 2^32 - 1 workgroups"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["dispatches"][0]["dispatch"] = "d7";
            }).find("dispatch 'd7' is not in the code section"),
            std::string::npos);
}

TEST(ScheduleTest, RefusesBadStaticDims) {
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["static_dims"]["heads"] = 2;
            }).find("static_dims names 'heads', which is not a size of entry point 'forward'"),
            std::string::npos);
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j["static_dims"]["seq"] = 0;
            }).find("'seq' must be a positive size"),
            std::string::npos);
}

TEST(ScheduleTest, ReadsLayersOfState) {
  Schedule s;
  ASSERT_TRUE(parse(withLayerDispatch(), s).ok());
  const std::vector<BufferRef> &buffers = s.dispatches[2].buffers;
  EXPECT_FALSE(buffers[0].range);
  for (const BufferRef &layer : {buffers[1], buffers[2]}) {
    EXPECT_EQ(layer.kind, BufferRef::State);
    ASSERT_TRUE(layer.range);
    EXPECT_EQ(layer.range->offset, 64u);
    EXPECT_EQ(layer.range->bytes, 64u);
  }
  // The whole state, as format 1.1 binds it, stays valid.
  EXPECT_EQ(layerRefusal([](nlohmann::json &b) {
              b = {{"kind", "state"}, {"name", "cache"}};
            }),
            "");
}

TEST(ScheduleTest, RefusesBadLayersOfState) {
  EXPECT_EQ(layerRefusal([](nlohmann::json &b) { b["offset"] = 62; }),
            "model.kc:schedule/cpu-x86_64/forward: invalid schedule: dispatch 'd2' binds state "
            "'cache' at offset 62, not aligned to its 4-byte elements");
  EXPECT_NE(layerRefusal([](nlohmann::json &b) { b["offset"] = 68; })
                .find("dispatch 'd2' binds 64 bytes at offset 68 of state 'cache', outside its "
                      "128 bytes"),
            std::string::npos);
  EXPECT_NE(layerRefusal([](nlohmann::json &b) {
              b["offset"] = 0;
              b["bytes"] = 256;
            }).find("binds 256 bytes at offset 0 of state 'cache', outside its 128 bytes"),
            std::string::npos);
  EXPECT_NE(layerRefusal([](nlohmann::json &b) { b["bytes"] = 32; })
                .find("dispatch 'd2' binds 32 bytes at offset 64 of state 'cache'; its code "
                      "needs 64"),
            std::string::npos);
  EXPECT_NE(layerRefusal([](nlohmann::json &b) {
              b.erase("bytes");
            }).find("binds a range of state 'cache' without a byte offset and size"),
            std::string::npos);
  EXPECT_NE(layerRefusal([](nlohmann::json &b) {
              b["offset"] = -64;
            }).find("without a byte offset and size"),
            std::string::npos);
  // The state's size needs the batch the entry point was compiled for.
  EXPECT_NE(refusal([](nlohmann::json &j) {
              j = withLayerDispatch();
              j.erase("static_dims");
            }).find("binds a range of state 'cache', whose size static_dims does not give"),
            std::string::npos);
  // Only a state_range has a byte range: a reader must not bind the whole buffer instead.
  EXPECT_NE(layerRefusal([](nlohmann::json &b) { b["kind"] = "state"; })
                .find("dispatch 'd2' binds state 'cache' with offset and bytes, which only a "
                      "state_range has"),
            std::string::npos);
  EXPECT_NE(layerRefusal([](nlohmann::json &b) {
              b["name"] = "cache_v";
            }).find("dispatch 'd2' binds unknown state_range 'cache_v'"),
            std::string::npos);
}

} // namespace
