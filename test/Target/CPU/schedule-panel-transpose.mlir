// The tiled matmul's weight panel for a weight stored [N, K] (nn.Linear's layout, what
// kiln.linear reads): each workgroup transposes its weights in 8 x 8 blocks. On a CPU with AVX
// the blocks take the AVX2 recipe (unpack / shuffle / vblendps / lane permutes) instead of the
// element-wise lowering, with 512-bit schedules too (an AVX-512 CPU has AVX2; the element-wise
// lowering of 8 x 16 blocks had become ~60 vpermt2ps / vpermt2pd per block); CPUs without AVX
// keep vector.transpose for the generic lowering. The workgroup goes through its 64 columns
// one register block (16; 32 with 512-bit schedules) at a time: each group packs a K x 16
// panel (BLIS's micro-panel: one 64-byte line per K step; two with 512-bit schedules),
// walking K (256) for its weight rows, 8 x 8 blocks side by side, then runs the register
// blocks down the rows on it.
//
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v3 | FileCheck %s --check-prefix=AVX2
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=znver3 | FileCheck %s --check-prefix=AVX2
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v4 | FileCheck %s --check-prefix=AVX512
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v2 | FileCheck %s --check-prefix=GENERIC
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v4 -o %t.v4.so
// RUN: llvm-objdump -d %t.v4.so | FileCheck %s --check-prefix=ASM512
//
// AVX2-LABEL: func.func @panel_tb
// AVX2: scf.for %{{.*}} = %c0 to %c64 step %c16 {{.*}} -> (tensor<64x64xf32>)
// AVX2: scf.for %{{.*}} = %c0 to %c256 step %c8 {{.*}} -> (tensor<256x16xf32>)
// AVX2: scf.for %{{.*}} = %c0 to %c16 step %c8 {{.*}} -> (tensor<8x16xf32>)
// AVX2: vector.transfer_read {{.*}} : tensor<128x256xf32>, vector<8x8xf32>
// AVX2-NOT: vector.transpose {{.*}} vector<8x8xf32>
// AVX2-COUNT-8: vblendps
// AVX2: vector.transfer_write {{.*}} : vector<8x8xf32>, tensor<8x16xf32>
// AVX2: scf.for %{{.*}} = %c0 to %c60 step %c6 {{.*}} -> (tensor<64x16xf32>)
// AVX2: vector.transfer_read {{.*}} : tensor<256x16xf32>, vector<1x16xf32>
// AVX2: return
// AVX2-LABEL: func.func @panel_tb_bf16
// AVX2: arith.extf {{.*}} vector<8x8xbf16> to vector<8x8xf32>
// AVX2-NOT: vector.transpose {{.*}} vector<8x8xf32>
// AVX2-COUNT-8: vblendps
//
// AVX512-LABEL: func.func @panel_tb
// AVX512: scf.for %{{.*}} = %c0 to %c128 step %c32 {{.*}} -> (tensor<64x128xf32>)
// AVX512: scf.for %{{.*}} = %c0 to %c256 step %c8 {{.*}} -> (tensor<256x32xf32>)
// AVX512: scf.for %{{.*}} = %c0 to %c32 step %c8 {{.*}} -> (tensor<8x32xf32>)
// AVX512: vector.transfer_read {{.*}} : tensor<128x256xf32>, vector<8x8xf32>
// AVX512-NOT: vector.transpose {{.*}} vector<8x8xf32>
// AVX512-COUNT-8: vblendps
// AVX512: vector.transfer_write {{.*}} : vector<8x8xf32>, tensor<8x32xf32>
// AVX512: vector.outerproduct {{.*}} : vector<8xf32>, vector<32xf32>
// AVX512-LABEL: func.func @panel_tb_bf16
// AVX512: arith.extf {{.*}} vector<8x8xbf16> to vector<8x8xf32>
// AVX512-COUNT-8: vblendps
//
// The x86-64-v4 code: zmm FMAs, the panels' blends, no two-source permutes left.
// ASM512-NOT: vpermt2p
// ASM512: vblendps
// ASM512-NOT: vpermt2p
// ASM512: vfmadd{{.*}}zmm
// ASM512-NOT: vpermt2p
//
// GENERIC-LABEL: func.func @panel_tb
// GENERIC-NOT: vblendps
// GENERIC: vector.transpose
// GENERIC-NOT: vblendps
//
// Numerics against numpy on this machine's code (whichever path the host takes), at 1 and 2
// threads, f32 and bf16 weights; and the AVX2 code wherever it can run (every CI machine).
// RUN: %kiln_cpu_compile %s -o %t.host.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch panel_tb --ref matmul_tb --inputs 64x256,128x256 --output 64x128 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch panel_tb --ref matmul_tb --inputs 64x256,128x256 --output 64x128 --threads 1 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch panel_tb_bf16 --ref matmul_tb --inputs 64x256,128x256 --bf16 1 --output 64x128 | FileCheck %s --check-prefix=NUM
// The 512-bit schedules (32-column groups, 8 x 8 AVX2 blocks) on any x86-64 machine: each
// 512-bit vector is split in two when the host has AVX2 only.
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --schedule-vector-bits=512 -o %t.512.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.512.so --dispatch panel_tb --ref matmul_tb --inputs 64x256,128x256 --output 64x128 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.512.so --dispatch panel_tb_bf16 --ref matmul_tb --inputs 64x256,128x256 --bf16 1 --output 64x128 | FileCheck %s --check-prefix=NUM
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 -o %t.avx2.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.avx2.so --dispatch panel_tb --ref matmul_tb --inputs 64x256,128x256 --output 64x128 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.avx2.so --dispatch panel_tb_bf16 --ref matmul_tb --inputs 64x256,128x256 --bf16 1 --output 64x128 | FileCheck %s --check-prefix=NUM
// NUM: max abs error {{.*}} (tolerance 0.0001)

func.func @panel_tb(%a: tensor<64x256xf32>, %w: tensor<128x256xf32>) -> tensor<64x128xf32> {
  %e = tensor.empty() : tensor<64x128xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x128xf32>) -> tensor<64x128xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x256xf32>, tensor<128x256xf32>) outs(%f : tensor<64x128xf32>) -> tensor<64x128xf32>
  return %m : tensor<64x128xf32>
}

func.func @panel_tb_bf16(%a: tensor<64x256xf32>, %w: tensor<128x256xbf16>) -> tensor<64x128xf32> {
  %e = tensor.empty() : tensor<64x128xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x128xf32>) -> tensor<64x128xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x256xf32>, tensor<128x256xbf16>) outs(%f : tensor<64x128xf32>) -> tensor<64x128xf32>
  return %m : tensor<64x128xf32>
}
