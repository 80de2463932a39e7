//===- ExportTest.cpp - buildManifest on modules built in memory ----------===//
//
// The attributes that the dialect does not verify yet (kiln.dims, kiln.hf_prefixes,
// kiln.hf_ignore) cannot be parsed from text, so these modules are built with the builder API
// and handed to buildManifest without verification.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact/Export.h"
#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"
#include "kiln/rt/artifact/Artifact.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

using namespace mlir;
namespace rt = kiln::rt;

namespace {

class ExportTest : public ::testing::Test {
protected:
  ExportTest() { context.loadDialect<kiln::KilnDialect, func::FuncDialect>(); }

  /// module @tiny { kiln.param @w; func.func @forward(ids: tensor<?x?xi32>) -> tensor<?x?xi32> }
  OwningOpRef<ModuleOp> makeModule() {
    OpBuilder b(&context);
    Location loc = b.getUnknownLoc();
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc, StringRef("tiny"));
    b.setInsertionPointToEnd(module->getBody());
    b.create<kiln::ParamOp>(loc, "w", RankedTensorType::get({6, 4}, b.getF32Type()),
                            kiln::InitKind::Normal, b.getF64FloatAttr(0.02),
                            b.getStringAttr("attn.c_attn.weight"), /*hf_transpose=*/true,
                            b.getDenseI64ArrayAttr({1, 2, 0}), /*scale=*/nullptr,
                            /*scale_of=*/nullptr);
    auto ids = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                     b.getI32Type());
    auto func = b.create<func::FuncOp>(loc, "forward", b.getFunctionType({ids}, {ids}));
    Block *entry = func.addEntryBlock();
    OpBuilder::atBlockEnd(entry).create<func::ReturnOp>(loc, entry->getArgument(0));
    func.setArgAttr(0, kiln::KilnDialect::kInputAttrName, b.getStringAttr("ids"));
    func.setResultAttr(0, kiln::KilnDialect::kOutputAttrName, b.getStringAttr("out"));
    return module;
  }

  /// Runs buildManifest, collecting its diagnostics into `errors`.
  LogicalResult build(ModuleOp module, rt::Manifest &manifest) {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
      errors += d.str() + "\n";
      return success();
    });
    return kiln::buildManifest(module, manifest);
  }

  MLIRContext context;
  std::string errors;
};

TEST_F(ExportTest, NamesDimensionsFromKilnDims) {
  OwningOpRef<ModuleOp> module = makeModule();
  auto func = cast<func::FuncOp>(module->lookupSymbol("forward"));
  Builder b(&context);
  func.setArgAttr(0, kiln::kDimsAttrName, b.getStrArrayAttr({"batch", "seq"}));
  func.setResultAttr(0, kiln::kDimsAttrName, b.getStrArrayAttr({"batch", "seq"}));
  rt::Manifest m;
  ASSERT_TRUE(succeeded(build(*module, m))) << errors;
  ASSERT_EQ(m.entryPoints.size(), 1u);
  const rt::TensorSignature &in = m.entryPoints[0].inputs[0];
  EXPECT_EQ(in.name, "ids");
  EXPECT_EQ(in.dtype, rt::DType::I32);
  ASSERT_EQ(in.shape.size(), 2u);
  EXPECT_EQ(in.shape[0], rt::Dim::symbolic("batch"));
  EXPECT_EQ(in.shape[1], rt::Dim::symbolic("seq"));
  EXPECT_EQ(m.entryPoints[0].outputs[0].shape[1], rt::Dim::symbolic("seq"));
}

TEST_F(ExportTest, FallbackDimensionNamesAreDistinctPerTensor) {
  OwningOpRef<ModuleOp> module = makeModule();
  rt::Manifest m;
  ASSERT_TRUE(succeeded(build(*module, m))) << errors;
  EXPECT_EQ(m.entryPoints[0].inputs[0].shape[0], rt::Dim::symbolic("ids_0"));
  EXPECT_EQ(m.entryPoints[0].outputs[0].shape[1], rt::Dim::symbolic("out_1"));
}

TEST_F(ExportTest, WrongNumberOfDimNamesIsAnError) {
  OwningOpRef<ModuleOp> module = makeModule();
  auto func = cast<func::FuncOp>(module->lookupSymbol("forward"));
  func.setArgAttr(0, kiln::kDimsAttrName, Builder(&context).getStrArrayAttr({"batch"}));
  rt::Manifest m;
  EXPECT_TRUE(failed(build(*module, m)));
  EXPECT_NE(errors.find("'kiln.dims' of argument 'ids' names 1 dimensions, but "
                        "'tensor<?x?xi32>' has 2 dynamic dimensions"),
            std::string::npos)
      << errors;
}

TEST_F(ExportTest, ReadsHuggingFacePrefixesAndIgnoreList) {
  OwningOpRef<ModuleOp> module = makeModule();
  Builder b(&context);
  (*module)->setAttr(kiln::kHFPrefixesAttrName, b.getStrArrayAttr({"transformer.", ""}));
  (*module)->setAttr(kiln::kHFIgnoreAttrName,
                     b.getStrArrayAttr({"lm_head.weight", "h.*.attn.bias"}));
  rt::Manifest m;
  ASSERT_TRUE(succeeded(build(*module, m))) << errors;
  EXPECT_EQ(m.hfPrefixes, (std::vector<std::string>{"transformer.", ""}));
  EXPECT_EQ(m.hfIgnore, (std::vector<std::string>{"lm_head.weight", "h.*.attn.bias"}));
}

TEST_F(ExportTest, EmptyIgnorePatternIsAnError) {
  OwningOpRef<ModuleOp> module = makeModule();
  (*module)->setAttr(kiln::kHFIgnoreAttrName, Builder(&context).getStrArrayAttr({""}));
  rt::Manifest m;
  EXPECT_TRUE(failed(build(*module, m)));
  EXPECT_NE(errors.find("'kiln.hf_ignore' must hold only non-empty strings"), std::string::npos)
      << errors;
}

TEST_F(ExportTest, PrefixesMustBeStrings) {
  OwningOpRef<ModuleOp> module = makeModule();
  Builder b(&context);
  (*module)->setAttr(kiln::kHFPrefixesAttrName, b.getI64IntegerAttr(3));
  rt::Manifest m;
  EXPECT_TRUE(failed(build(*module, m)));
  EXPECT_NE(errors.find("'kiln.hf_prefixes' must be an array of strings"), std::string::npos)
      << errors;
}

TEST_F(ExportTest, SliceAxisIsConvertedToTheStoredLayout) {
  OwningOpRef<ModuleOp> module = makeModule();
  rt::Manifest m;
  ASSERT_TRUE(succeeded(build(*module, m))) << errors;
  ASSERT_EQ(m.parameters.size(), 1u);
  const rt::Parameter &p = m.parameters[0];
  EXPECT_EQ(p.shape, (std::vector<int64_t>{6, 4}));
  EXPECT_TRUE(p.transpose);
  ASSERT_TRUE(p.hasSlice);
  EXPECT_EQ(p.slice.index, 1);
  EXPECT_EQ(p.slice.count, 2);
  EXPECT_EQ(p.slice.axis, 1); // axis 0 of Kiln's [6, 4] is axis 1 of the stored [4, 12]
  EXPECT_DOUBLE_EQ(p.initStd, 0.02);
  EXPECT_TRUE(m.targets.empty());
}

TEST_F(ExportTest, WrittenArtifactReadsBack) {
  OwningOpRef<ModuleOp> module = makeModule();
  std::string path = ::testing::TempDir() + "kiln-export-test.kc";
  ASSERT_TRUE(succeeded(kiln::writeArtifact(*module, path)));
  rt::Artifact artifact;
  rt::Status s = rt::Artifact::open(path, artifact);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(artifact.manifest().model, "tiny");
  EXPECT_EQ(artifact.manifest().parameters.size(), 1u);
  EXPECT_TRUE(artifact.manifest().targets.empty());
  EXPECT_EQ(artifact.sections().size(), 1u);
}

TEST_F(ExportTest, TargetsAddTheirCodeSections) {
  OwningOpRef<ModuleOp> module = makeModule();
  std::string path = ::testing::TempDir() + "kiln-export-target-test.kc";
  const char code[] = "not really a shared object";
  auto addCpu = [&](rt::Manifest &m, rt::ArtifactWriter &w) {
    m.targets.push_back({"cpu-x86_64", "code/cpu-x86_64"});
    w.addSection("code/cpu-x86_64", rt::SectionKind::Code, code, sizeof code);
    return success();
  };
  ASSERT_TRUE(succeeded(kiln::writeArtifact(*module, path, addCpu))) << errors;
  rt::Artifact artifact;
  rt::Status s = rt::Artifact::open(path, artifact);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(artifact.manifest().targets.size(), 1u);
  const rt::SectionInfo *section = artifact.findSection("code/cpu-x86_64");
  ASSERT_NE(section, nullptr);
  EXPECT_EQ(section->size, sizeof code);
}

TEST_F(ExportTest, MissingCodeSectionIsAnErrorAndWritesNothing) {
  OwningOpRef<ModuleOp> module = makeModule();
  std::string path = ::testing::TempDir() + "kiln-export-missing-section.kc";
  std::remove(path.c_str());
  auto addTarget = [](rt::Manifest &m, rt::ArtifactWriter &) {
    m.targets.push_back({"cpu-x86_64", "code/cpu-x86_64"});
    return success();
  };
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    errors += d.str() + "\n";
    return success();
  });
  EXPECT_TRUE(failed(kiln::writeArtifact(*module, path, addTarget)));
  EXPECT_NE(errors.find("cannot write the artifact"), std::string::npos) << errors;
  EXPECT_EQ(std::fopen(path.c_str(), "rb"), nullptr);
}

} // namespace
