//===- CPUTarget.h - Native CPU code generation for dispatches -----------===//
//
// Turns dispatch functions written in linalg / tensor / arith / math on tensors into one native
// shared object (the CPU code blob) that the runtime's CPU driver loads from memory:
//
//   prepareDispatches    tensor functions -> in-place memref ABI (destination passing)
//   scheduleDispatches   tiling for workgroups, cache and registers; vectorization
//   bufferizeDispatches  one-shot bufferization with identity layouts at function boundaries
//   prefetchWeightPanels matmul workgroups read the next workgroup's weights ahead
//   distributeWorkgroups the outermost scf.forall becomes a loop over [wg_begin, wg_end)
//   lowerToLLVMDialect   vector / math / memref / scf -> LLVM dialect
//   emitSharedObject     per dispatch, on parallel threads: LLVM IR + ABI entry point, -O3
//                        for the target CPU (the host by default), object code; plus the
//                        descriptor table; linked into one shared object by ld.lld
//
// docs/cpu-backend.md describes the stages; docs/hal.md the ABI of the result.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TARGET_CPU_CPUTARGET_H
#define KILN_TARGET_CPU_CPUTARGET_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace kiln::cpu {

/// Options of the CPU target.
struct CPUTargetOptions {
  /// Target CPU: "host", the compiling machine (its name and every feature it has), or an
  /// LLVM CPU name (`x86-64-v3`, `x86-64-v4`, `znver4`, `sapphirerapids`, ...) with that CPU's
  /// features, whatever the compiling machine has.
  std::string cpu = "host";
  /// Features added to or removed from the CPU's ("+avx512f,-avx512bw"), applied last.
  std::string features;
  /// LLVM optimization level, 0..3.
  unsigned optLevel = 3;
  /// At most this level for dispatches with one workgroup (loops no schedule tiled: norms,
  /// softmax, gathers, whole entry points). -O3's aggressive unrolling made
  /// them many times slower to compile and no faster to run (docs/cpu-backend.md "Compile
  /// time"); the tiled matmul dispatches keep `optLevel`.
  unsigned singleWorkgroupOptLevel = 2;
  /// Linker that turns the object into a shared object (only the compiler needs it).
  std::string linker = "/usr/lib/llvm-19/bin/ld.lld";
  /// Dump the schedule (transform script) of each dispatch to stderr.
  bool dumpSchedules = false;
  /// Vector width in bits the schedules are made for (tile sizes, accumulator shapes); 0: the
  /// target CPU's (512 when it has AVX-512F, else 256). Code is still generated for the target, so a
  /// 512-bit schedule on an AVX2 target runs there, each vector split in two: the tests run
  /// the AVX-512 schedules' numerics on machines without AVX-512 this way.
  unsigned scheduleVectorBits = 0;
  /// Read the next workgroup's weight panel ahead in matmul workgroups (prefetchWeightPanels).
  bool prefetchPanels = true;
  /// Threads that optimize and generate code for the dispatches (each dispatch is its own LLVM
  /// module); 0 means one per hardware thread. The shared object is the same for any value.
  unsigned jobs = 0;
  /// Called once with done = 0 before the dispatches are compiled, then (from the compiling
  /// threads, one call at a time) after each dispatch's object code is done: the number done
  /// so far, the total and the dispatch's name.
  std::function<void(unsigned done, unsigned total, llvm::StringRef name)> onDispatchCompiled;
};

/// What the runtime needs to know about one compiled dispatch (mirrors kiln_cpu_dispatch_desc).
struct DispatchInfo {
  std::string name;
  /// Buffer bindings in ABI order: the function's memref arguments.
  std::vector<std::vector<int64_t>> bufferShapes;
  /// Bytes per element of each buffer binding.
  std::vector<uint32_t> bufferElementBytes;
  uint32_t numScalars = 0;
  std::array<uint32_t, 3> workgroupCount = {1, 1, 1};
  /// At most this LLVM optimization level (set by the dispatch's schedule): attention's
  /// contractions and softmax run no faster at -O3 and take twice as long to compile.
  unsigned maxOptLevel = 3;
};

/// The CPU the code is generated for, with "host" replaced by what the compiling machine is.
struct ResolvedCPU {
  std::string triple;   ///< the process's target triple (x86_64-...-linux-gnu)
  std::string cpu;      ///< an LLVM CPU name, never "host"
  std::string features; ///< the feature string given to LLVM, "+f1,-f2,..." (may be empty)
};

/// Checks that `cpu` is "host" or an LLVM CPU name of the process's architecture, and that
/// `features` is a comma-separated list of +name / -name of LLVM features. On failure `error`
/// names what is unknown (LLVM itself would only warn on stderr and compile for something else).
mlir::LogicalResult validateCPUTarget(llvm::StringRef cpu, llvm::StringRef features,
                                      std::string &error);

/// validateCPUTarget for a tool's two options (`cpuOption`, e.g. "--cpu", and
/// `featuresOption`): the CPU is checked first, and `error` starts with the option at fault.
mlir::LogicalResult validateCPUOptions(llvm::StringRef cpu, llvm::StringRef features,
                                       llvm::StringRef cpuOption, llvm::StringRef featuresOption,
                                       std::string &error);

/// Validates and resolves `options.cpu` / `options.features` ("host": the machine's CPU name
/// and its features, sorted, then the explicit ones).
mlir::LogicalResult resolveCPUTarget(const CPUTargetOptions &options, ResolvedCPU &out,
                                     std::string &error);

/// Whether code for `cpu` may use the LLVM feature `feature` ("avx512f"): the CPU's own
/// features and those they imply, after the explicit +/- ones.
bool hasCPUFeature(const ResolvedCPU &cpu, llvm::StringRef feature);

/// The ISA extensions of rt::cpu::kCheckedCPUFeatures that code for `cpu` may use, sorted:
/// what an artifact records for the runtime to check against the CPU it runs on.
std::vector<std::string> requiredCPUFeatures(const ResolvedCPU &cpu);

/// Registers the dialects and extensions the CPU target parses and produces.
void registerCPUTargetDialects(mlir::DialectRegistry &registry);

/// The destination-passing ABI, shared by dispatches and whole entry points. Retypes the tensor
/// arguments of `func`'s entry block to identity-layout memrefs read through
/// `bufferization.to_tensor restrict`, and appends their types to `argTypes`.
void readArgumentsFromBuffers(mlir::func::FuncOp func, llvm::SmallVectorImpl<mlir::Type> &argTypes);

/// Appends one identity-layout memref argument per type of `results` to `func`'s entry block (and
/// to `argTypes`), and makes every return write its operands into them in place
/// (`materialize_in_destination restrict writable`) and return nothing. The caller sets the new
/// function type from `argTypes`.
void writeResultsToBuffers(mlir::func::FuncOp func, mlir::TypeRange results,
                           llvm::SmallVectorImpl<mlir::Type> &argTypes);

/// The identity-layout memref type of a ranked tensor type.
mlir::MemRefType bufferTypeOf(mlir::Type rankedTensorType);

/// Rewrites every public func.func of `module` that takes or returns tensors into the in-place
/// ABI: inputs and then results become memref arguments, results are written in place. Functions
/// that already take memrefs are left as they are. Only static shapes are accepted.
mlir::LogicalResult prepareDispatches(mlir::ModuleOp module);

/// Tiles and vectorizes each dispatch (a transform-dialect schedule chosen per function).
mlir::LogicalResult scheduleDispatches(mlir::ModuleOp module, const CPUTargetOptions &options);

/// Bufferizes the module (after scheduling) into memrefs written in place.
mlir::LogicalResult bufferizeDispatches(mlir::ModuleOp module);

/// Makes each matmul workgroup read the next workgroup's weight panel ahead, spread over its
/// register kernels (the weights then come from cache when the next panel is packed).
mlir::LogicalResult prefetchWeightPanels(mlir::ModuleOp module);

/// Turns the outermost scf.forall of each dispatch into a loop over the workgroup range passed as
/// two trailing index arguments, and records the dispatches' ABI in `infos`.
mlir::LogicalResult distributeWorkgroups(mlir::ModuleOp module, std::vector<DispatchInfo> &infos);

/// Lowers the distributed, bufferized module to the LLVM dialect. Memrefs cross function
/// boundaries as bare pointers (static shapes only), or with `barePtrCallConv = false` as
/// expanded descriptors (pointers, offset, sizes, strides: dynamic shapes).
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module, bool barePtrCallConv = true);

/// All of the above up to the LLVM dialect.
mlir::LogicalResult compileToLLVMDialect(mlir::ModuleOp module, const CPUTargetOptions &options,
                                         std::vector<DispatchInfo> &infos);

/// The number of threads `CPUTargetOptions::jobs` stands for (0: one per hardware thread).
unsigned resolveJobs(unsigned jobs);

/// Translates an LLVM-dialect module to LLVM IR, adds the ABI entry points and the descriptor
/// table, optimizes, emits object code in memory and links a shared object. On success `blob`
/// holds the shared object's bytes; on failure an error is emitted on the module.
mlir::LogicalResult emitSharedObject(mlir::ModuleOp module, llvm::ArrayRef<DispatchInfo> infos,
                                     const CPUTargetOptions &options, std::string &blob,
                                     std::string *llvmIR = nullptr);

} // namespace kiln::cpu

#endif // KILN_TARGET_CPU_CPUTARGET_H
