//===- Pipeline.h - The compilation pipeline shared by kilnc and kiln-opt --===//
//
// The stages a model goes through after the front-end, as one builder that kilnc (--emit=...)
// and kiln-opt (pass pipelines) share:
//
//   kiln dialect --(kiln-lower-to-linalg)--> linalg on tensors        (--emit=linalg)
//   bindEntryPoints: parameters become arguments, results outputs written in place
//   one-shot bufferization + deallocation, loops, LLVM dialect; an ABI wrapper per entry point
//                                                                     (--emit=llvm)
//   CPU code section (shared object) + one schedule per entry point   (-o model.kc)
//
// With --specialize, forward instead goes through the Dispatch passes (docs/dispatch.md):
// specialized to static sizes, cut into per-op dispatches compiled by the CPU target into the
// same shared object, with a schedule of temporaries in one arena.
//
// docs/artifact.md ("Schedules") describes what the runtime receives.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PIPELINE_PIPELINE_H
#define KILN_PIPELINE_PIPELINE_H

#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <vector>

namespace kiln::rt {
struct Manifest;
class ArtifactWriter;
} // namespace kiln::rt

namespace kiln {

/// kiln graph ops -> linalg / tensor / arith / math on tensors (kiln.param stays).
void buildLowerToLinalgPipeline(mlir::OpPassManager &pm);

/// Registers `kiln-to-linalg` as a kiln-opt pass pipeline.
void registerKilnPipelines();

/// How one buffer binding of an entry-point dispatch is filled by the runtime.
struct BindingInfo {
  enum Kind { Input, Parameter, Output, State } kind = Input;
  std::string name;
  /// The binding's shape: a size, or -1 for a dynamic size given by scalar `dimScalars[i]`.
  std::vector<int64_t> shape;
  std::vector<int> dimScalars;
  unsigned elementBytes = 4;
};

/// One compiled entry point: a single dispatch implementing it.
struct EntryPointInfo {
  std::string name;       ///< the entry point (`forward`)
  std::string dispatch;   ///< the dispatch implementing it
  std::vector<BindingInfo> bindings;
  /// Symbolic dimension passed as each scalar, in ABI order (`batch`, `seq`).
  std::vector<std::string> scalars;
};

/// Keeps the entry points named in `entries` (all public functions when empty) and turns each
/// into the in-place ABI: inputs and state (in argument order), then the parameters it reads
/// (module order of kiln.param), then its outputs become memref arguments; outputs are written
/// in place. State arguments (`kiln.state`) are read-write: the result of the same state name
/// is written back into the argument's buffer. Run after the lowering to linalg. The
/// kiln.param declarations are removed.
mlir::LogicalResult bindEntryPoints(mlir::ModuleOp module, llvm::ArrayRef<std::string> entries,
                                    std::vector<EntryPointInfo> &infos);

/// linalg on tensors (after bindEntryPoints) -> LLVM dialect, with each entry point's ABI
/// wrapper `@<dispatch>(ptr buffers..., i64 scalars..., i64 wg_begin, i64 wg_end)`. Each op
/// is a function of its own, one per distinct op (dispatch::outlineBufferOps); the dynamic-M
/// matmuls call tuned 64-row chunk dispatches (chunkDynamicMatmuls), compiled for `options`
/// into the same module and appended to `chunkInfos` (dispatch table entries); causal
/// attention runs over its triangle (restrictCausalAttention, boundTriangularLoops), the other
/// ops in slices on the runtime's threads (prepareThreadedOps, spreadThreadedOps).
mlir::LogicalResult lowerEntryPointsToLLVM(mlir::ModuleOp module,
                                           llvm::ArrayRef<EntryPointInfo> infos,
                                           const cpu::CPUTargetOptions &options,
                                           std::vector<cpu::DispatchInfo> &chunkInfos);

/// Moves each `memref.dealloc` of a bufferized function up to just after the last op of its
/// block that uses the buffer or a view of it (ownership-based deallocation frees at the end
/// of the block: a whole entry point kept every layer's temporaries until it returned).
/// Buffers whose address may escape keep their dealloc (BufferLifetimes.cpp).
void shortenBufferLifetimes(mlir::func::FuncOp function);

/// Rewrites each outlined matmul of a bufferized whole entry point whose rows are dynamic and
/// whose weight, K and N are static (f32; the weight f32, bf16 or i8; dense buffers) into a loop
/// over 64-row chunks, each a call of a static chunk dispatch compiled by the CPU target with
/// its tuned schedule (all its workgroups on the calling thread). More than 4 rows left over
/// are copied into a zeroed chunk; up to 4 run as one-row calls of a matrix-vector dispatch.
/// The dispatches, two per distinct (K, N, weight layout and type), are compiled to the LLVM
/// dialect into `chunks` (unset when there are none) and their dispatch table entries
/// appended to `chunkInfos` (MatmulChunks.cpp).
mlir::LogicalResult chunkDynamicMatmuls(mlir::ModuleOp module,
                                        const cpu::CPUTargetOptions &options,
                                        mlir::OwningOpRef<mlir::ModuleOp> &chunks,
                                        std::vector<cpu::DispatchInfo> &chunkInfos);

/// On buffers, before outlining: marks each matmul whose accumulator the op just before it
/// fills with zero, so that its chunks write their products straight into the accumulator's
/// rows (no scratch to add from). Returns how many (MatmulChunks.cpp).
unsigned markZeroInitMatmuls(mlir::func::FuncOp function);

/// After the lowering to the LLVM dialect: each call of a chunk dispatch's ABI entry made by
/// chunkDynamicMatmuls goes through `@kiln_run_workgroups`, which hands the workgroups to the
/// runtime's `kiln_cpu_host_v2.run_workgroups` (its threads) when the runtime filled it in,
/// and runs them on the calling thread otherwise.
mlir::LogicalResult routeChunkCallsThroughHost(mlir::ModuleOp module);

/// `@kiln_run_workgroups(ptr %fn, ptr %buffers, ptr %scalars, i32 %count)` of `module` (LLVM
/// dialect), built with the host services' declaration on first use: the workgroups of `%fn`
/// through the runtime's `run_workgroups`, or all on the calling thread without a runtime.
mlir::LLVM::LLVMFuncOp getOrBuildRunWorkgroups(mlir::ModuleOp module);

/// The LLVM arguments a function argument of type `t` lowers to: a memref's descriptor
/// (allocated and aligned pointers, offset, sizes, strides), else one.
inline int64_t loweredArgumentSlots(mlir::Type t) {
  if (auto m = llvm::dyn_cast<mlir::MemRefType>(t))
    return 3 + 2 * m.getRank();
  return 1;
}

/// On buffers, before the lowering to LLVM: each outlined op with a parallel loop its outputs
/// are indexed by (and no `linalg.index` reads) takes argument types that a slice along that
/// loop can be passed as, and records its split (ThreadedOps.cpp).
void prepareThreadedOps(mlir::ModuleOp module);

/// LLVM dialect: each call of a prepared op from the functions `entryFunctions` runs it in
/// slices along its split loop on the runtime's threads (through `kiln_run_workgroups`) when
/// the loop has at least 2 indices and the output enough elements (ThreadedOps.cpp).
mlir::LogicalResult spreadThreadedOps(mlir::ModuleOp module,
                                      llvm::ArrayRef<std::string> entryFunctions);

/// On buffers, after bufferization: each `linalg.copy` of a buffer that holds nothing but a
/// `linalg.fill` becomes that fill of its destination (bufferization copies one shared zero
/// fill per use). Returns how many copies (CopiesOfFills.cpp).
unsigned fillInsteadOfCopy(mlir::func::FuncOp function);

/// On tensors, before bufferization: each causal attention without a padding mask (the six
/// generics of LowerAttention.cpp) has every generic yield `select(key < query + shift + 1,
/// value, out)`, exact for the chain as a whole since nothing outside the causal triangle
/// matters to it. Returns how many attentions were restricted (CausalAttention.cpp).
unsigned restrictCausalAttention(mlir::func::FuncOp function);

/// On buffers, before the lowering to LLVM: each outlined generic whose yield has that form
/// becomes loops with the key loop stopped at query + shift + 1. Returns how many.
unsigned boundTriangularLoops(mlir::ModuleOp module);

/// On buffers, before the lowering to LLVM: each outlined op's argument that at every call
/// is a view of an allocation of its own, which no other argument of the call shares, is
/// recorded; addNoAliasToDistinctArguments (LLVM dialect) then marks its aligned pointer
/// `noalias` (DistinctArguments.cpp).
void markDistinctArguments(mlir::ModuleOp module);
void addNoAliasToDistinctArguments(mlir::ModuleOp module);

/// Moves every operation of `from` into `into` (both in the LLVM dialect). An external
/// function declared in both is kept once; any other symbol of `from` that `into` already
/// defines is renamed first.
mlir::LogicalResult mergeLLVMModules(mlir::ModuleOp into, mlir::ModuleOp from);

/// The CPU target's dispatch table entries for the entry points.
std::vector<cpu::DispatchInfo> cpuDispatchInfos(llvm::ArrayRef<EntryPointInfo> infos);

/// The schedule section of one entry point (JSON, docs/artifact.md).
std::string scheduleJson(const EntryPointInfo &info);

/// The entry points compiled to native code when the module has them (the others are in the
/// manifest only): `forward`, `prefill` / `decode` for decoders and `encode` for
/// encoder-decoder models.
llvm::ArrayRef<std::string> compiledEntryPoints();

/// Lowers `module` (kiln dialect) in place to the stage kilnc prints with --emit=linalg
/// (`toLLVM = false`) or --emit=llvm (`toLLVM = true`, the compiled entry points only; the
/// matmul chunk dispatches compiled for `options`, as in the artifact).
mlir::LogicalResult lowerForEmit(mlir::ModuleOp module, bool toLLVM,
                                 const cpu::CPUTargetOptions &options);

/// Compiles the entry points of `module` (kiln dialect; left unchanged) for the CPU and adds
/// the code section `code/cpu-x86_64` and one `schedule/cpu-x86_64/<entry>` section per entry
/// point to an artifact being written (the AddTargetsFn of kiln::writeArtifact). With
/// `specialize` (symbolic dimension -> size), `forward` is specialized to those sizes and cut
/// into per-op dispatches compiled into the same code section; its schedule carries
/// `static_dims`, `temporaries` and `arena_bytes` (docs/artifact.md).
mlir::LogicalResult addCPUTarget(mlir::ModuleOp module, kiln::rt::Manifest &manifest,
                                 kiln::rt::ArtifactWriter &writer,
                                 const cpu::CPUTargetOptions &options = {},
                                 const llvm::StringMap<int64_t> *specialize = nullptr);

} // namespace kiln

#endif // KILN_PIPELINE_PIPELINE_H
