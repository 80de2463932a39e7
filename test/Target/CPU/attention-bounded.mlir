// Attention bounded by the run-time position (a KV cache of capacity 1024, GPT-2's 12 heads of
// 64): the scores (QK^T + scale + mask), softmax statistics and PV dispatches the kiln lowering
// forms for decode (one query) and a prefill chunk of 64, as cut from GPT-2 by
// `kiln-opt --kiln-specialize-shapes --kiln-to-linalg --kiln-dispatch-fusion
// --kiln-form-dispatches` (renamed). Every loop over the key dimension stops at
// min(1024, roundUp(L, tile)) with L = position + queries, read inside each workgroup;
// decode's contractions get one workgroup per head (AVX2 here).
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --emit=bufferized -o - | FileCheck %s
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --print-dispatches -o %t.v3.so 2>&1 | FileCheck %s --check-prefix=WG
//
// CHECK-LABEL: func.func @decode_scores(
// CHECK-SAME: %[[POS:[a-z0-9]+]]: memref<1xi32>
// CHECK: scf.forall (%{{.*}}) in (12) {
// CHECK: %[[P:.*]] = memref.load %[[POS]]
// CHECK: %[[PI:.*]] = arith.index_cast %[[P]]
// roundUp(p + 1, 16) = ((p + 16) / 16) * 16
// CHECK: %[[UP:.*]] = arith.addi %[[PI]], %c16
// CHECK: %[[Q:.*]] = arith.divui %[[UP]], %c16
// CHECK: %[[R:.*]] = arith.muli %[[Q]], %c16
// CHECK: %[[B:.*]] = arith.minui %[[R]], %c1024
// The key operand's per-workgroup pack and the register blocks over keys.
// CHECK: scf.for %{{.*}} = %c0 to %[[B]] step %c8
// CHECK: scf.for %{{.*}} = %c0 to %[[B]] step %c16
// CHECK-NOT: to %c1024 step
// CHECK-LABEL: func.func @decode_softmax(
// CHECK: memref.load
// CHECK: %[[SB:.*]] = arith.minui %{{.*}}, %c1024
// CHECK: scf.for %{{.*}} = %c0 to %[[SB]] step %c8 iter_args
// CHECK: vector.multi_reduction <maximumf>
// CHECK: scf.for %{{.*}} = %c0 to %[[SB]] step %c8
// CHECK: math.exp
// CHECK: scf.for %{{.*}} = %c0 to %[[SB]] step %c8 iter_args
// CHECK: vector.multi_reduction <add>
// CHECK-LABEL: func.func @decode_pv(
// CHECK: scf.forall (%{{.*}}) in (12) {
// CHECK: memref.load
// CHECK: %[[PB:.*]] = arith.minui %{{.*}}, %c1024
// CHECK: scf.for %{{.*}} = %c0 to %[[PB]] step %c1 iter_args
// CHECK-LABEL: func.func @prefill_scores(
// CHECK: scf.forall
// CHECK: memref.load
// CHECK: %[[QB:.*]] = arith.minui %{{.*}}, %c1024
// CHECK: scf.for %{{.*}} = %c0 to %[[QB]] step %c16
// CHECK-LABEL: func.func @prefill_softmax(
// CHECK: arith.minui
// CHECK-LABEL: func.func @prefill_pv(
// CHECK: scf.forall
// CHECK: memref.load
// CHECK: %[[VB:.*]] = arith.minui %{{.*}}, %c1024
// CHECK: scf.for %{{.*}} = %c0 to %[[VB]] step %c1 iter_args
//
// WG: dispatch decode_scores: buffers 4, workgroups 12x1x1
// WG: dispatch decode_softmax: buffers 4, workgroups 1x1x1
// WG: dispatch decode_pv: buffers 5, workgroups 12x1x1
// WG: dispatch prefill_scores: buffers 4, workgroups 2x12x1
// WG: dispatch prefill_pv: buffers 5, workgroups 12x2x1
//
// Numerics against numpy at the first, a middle and the last position, with the unwritten cache
// slots and every result buffer holding NaN beforehand (Inputs/bounded_attention.py).
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.so --prefix decode --heads 12 --head-dim 64 --queries 1 --capacity 1024 --positions 0,517,1023 | FileCheck %s --check-prefix=NUM
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.so --prefix prefill --heads 12 --head-dim 64 --queries 64 --capacity 1024 --positions 0,333,960 | FileCheck %s --check-prefix=NUM
// NUM: position 0: max abs error
// NUM: max abs error {{.*}} (tolerance

  func.func @decode_scores(%arg0: tensor<1x1x12x64xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>) -> tensor<1x12x1x1024xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x12x1x1024xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x1x1024xf32>) -> tensor<1x12x1x1024xf32>
    %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %expanded : tensor<1x1x12x64xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x12x1x1024xf32>) {
    ^bb0(%in: f32, %in_2: f32, %out: f32):
      %6 = arith.mulf %in, %in_2 : f32
      %7 = arith.addf %out, %6 : f32
      linalg.yield %7 : f32
    } -> tensor<1x12x1x1024xf32>
    %cst_0 = arith.constant 1.250000e-01 : f32
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %3 = arith.index_cast %extracted : i32 to index
    %cst_1 = arith.constant -3.40282347E+38 : f32
    %c1 = arith.constant 1 : index
    %4 = arith.addi %3, %c1 : index
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%2 : tensor<1x12x1x1024xf32>) outs(%0 : tensor<1x12x1x1024xf32>) {
    ^bb0(%in: f32, %out: f32):
      %6 = arith.mulf %in, %cst_0 : f32
      %7 = linalg.index 2 : index
      %8 = linalg.index 3 : index
      %9 = arith.addi %7, %3 : index
      %10 = arith.cmpi sgt, %8, %9 : index
      %11 = arith.select %10, %cst_1, %6 : f32
      %12 = arith.cmpi ult, %8, %4 : index
      %13 = arith.select %12, %11, %cst_1 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x1x1024xf32>
    return %5 : tensor<1x12x1x1024xf32>
  }

  func.func @decode_softmax(%arg0: tensor<1x12x1x1024xf32>, %arg1: tensor<1xi32>) -> (tensor<1x12x1x1024xf32>, tensor<1x12x1xf32>) {
    %cst = arith.constant -3.40282347E+38 : f32
    %0 = tensor.empty() : tensor<1x12x1xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x1xf32>) -> tensor<1x12x1xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg1[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c1 = arith.constant 1 : index
    %3 = arith.addi %2, %c1 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x12x1x1024xf32>) outs(%1 : tensor<1x12x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst : f32
      %12 = arith.maximumf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x1xf32>
    %5 = tensor.empty() : tensor<1x12x1x1024xf32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0, %4 : tensor<1x12x1x1024xf32>, tensor<1x12x1xf32>) outs(%5 : tensor<1x12x1x1024xf32>) {
    ^bb0(%in: f32, %in_1: f32, %out: f32):
      %9 = arith.subf %in, %in_1 : f32
      %10 = math.exp %9 : f32
      %11 = linalg.index 3 : index
      %12 = arith.cmpi ult, %11, %3 : index
      %13 = arith.select %12, %10, %cst_0 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x1x1024xf32>
    %7 = linalg.fill ins(%cst_0 : f32) outs(%0 : tensor<1x12x1xf32>) -> tensor<1x12x1xf32>
    %8 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%6 : tensor<1x12x1x1024xf32>) outs(%7 : tensor<1x12x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst_0 : f32
      %12 = arith.addf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x1xf32>
    return %6, %8 : tensor<1x12x1x1024xf32>, tensor<1x12x1xf32>
  }

  func.func @decode_pv(%arg0: tensor<1x12x1x1024xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>, %arg3: tensor<1x12x1xf32>) -> tensor<1x1x12x64xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x1x12x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x1x12x64xf32>) -> tensor<1x1x12x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c1 = arith.constant 1 : index
    %3 = arith.addi %2, %c1 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%arg0, %expanded : tensor<1x12x1x1024xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x1x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.mulf %in, %in_0 : f32
      %7 = linalg.index 3 : index
      %8 = arith.cmpi ult, %7, %3 : index
      %9 = arith.select %8, %6, %cst : f32
      %10 = arith.addf %out, %9 : f32
      linalg.yield %10 : f32
    } -> tensor<1x1x12x64xf32>
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d2, d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%4, %arg3 : tensor<1x1x12x64xf32>, tensor<1x12x1xf32>) outs(%0 : tensor<1x1x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.divf %in, %in_0 : f32
      linalg.yield %6 : f32
    } -> tensor<1x1x12x64xf32>
    return %5 : tensor<1x1x12x64xf32>
  }

  func.func @prefill_scores(%arg0: tensor<1x64x12x64xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>) -> tensor<1x12x64x1024xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x12x64x1024xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x64x1024xf32>) -> tensor<1x12x64x1024xf32>
    %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %expanded : tensor<1x64x12x64xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x12x64x1024xf32>) {
    ^bb0(%in: f32, %in_2: f32, %out: f32):
      %6 = arith.mulf %in, %in_2 : f32
      %7 = arith.addf %out, %6 : f32
      linalg.yield %7 : f32
    } -> tensor<1x12x64x1024xf32>
    %cst_0 = arith.constant 1.250000e-01 : f32
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %3 = arith.index_cast %extracted : i32 to index
    %cst_1 = arith.constant -3.40282347E+38 : f32
    %c64 = arith.constant 64 : index
    %4 = arith.addi %3, %c64 : index
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%2 : tensor<1x12x64x1024xf32>) outs(%0 : tensor<1x12x64x1024xf32>) {
    ^bb0(%in: f32, %out: f32):
      %6 = arith.mulf %in, %cst_0 : f32
      %7 = linalg.index 2 : index
      %8 = linalg.index 3 : index
      %9 = arith.addi %7, %3 : index
      %10 = arith.cmpi sgt, %8, %9 : index
      %11 = arith.select %10, %cst_1, %6 : f32
      %12 = arith.cmpi ult, %8, %4 : index
      %13 = arith.select %12, %11, %cst_1 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x64x1024xf32>
    return %5 : tensor<1x12x64x1024xf32>
  }

  func.func @prefill_softmax(%arg0: tensor<1x12x64x1024xf32>, %arg1: tensor<1xi32>) -> (tensor<1x12x64x1024xf32>, tensor<1x12x64xf32>) {
    %cst = arith.constant -3.40282347E+38 : f32
    %0 = tensor.empty() : tensor<1x12x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x64xf32>) -> tensor<1x12x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg1[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c64 = arith.constant 64 : index
    %3 = arith.addi %2, %c64 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x12x64x1024xf32>) outs(%1 : tensor<1x12x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst : f32
      %12 = arith.maximumf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x64xf32>
    %5 = tensor.empty() : tensor<1x12x64x1024xf32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0, %4 : tensor<1x12x64x1024xf32>, tensor<1x12x64xf32>) outs(%5 : tensor<1x12x64x1024xf32>) {
    ^bb0(%in: f32, %in_1: f32, %out: f32):
      %9 = arith.subf %in, %in_1 : f32
      %10 = math.exp %9 : f32
      %11 = linalg.index 3 : index
      %12 = arith.cmpi ult, %11, %3 : index
      %13 = arith.select %12, %10, %cst_0 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x64x1024xf32>
    %7 = linalg.fill ins(%cst_0 : f32) outs(%0 : tensor<1x12x64xf32>) -> tensor<1x12x64xf32>
    %8 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%6 : tensor<1x12x64x1024xf32>) outs(%7 : tensor<1x12x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst_0 : f32
      %12 = arith.addf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x64xf32>
    return %6, %8 : tensor<1x12x64x1024xf32>, tensor<1x12x64xf32>
  }

  func.func @prefill_pv(%arg0: tensor<1x12x64x1024xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>, %arg3: tensor<1x12x64xf32>) -> tensor<1x64x12x64xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x64x12x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x64x12x64xf32>) -> tensor<1x64x12x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c64 = arith.constant 64 : index
    %3 = arith.addi %2, %c64 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%arg0, %expanded : tensor<1x12x64x1024xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x64x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.mulf %in, %in_0 : f32
      %7 = linalg.index 3 : index
      %8 = arith.cmpi ult, %7, %3 : index
      %9 = arith.select %8, %6, %cst : f32
      %10 = arith.addf %out, %9 : f32
      linalg.yield %10 : f32
    } -> tensor<1x64x12x64xf32>
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d2, d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%4, %arg3 : tensor<1x64x12x64xf32>, tensor<1x12x64xf32>) outs(%0 : tensor<1x64x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.divf %in, %in_0 : f32
      linalg.yield %6 : f32
    } -> tensor<1x64x12x64xf32>
    return %5 : tensor<1x64x12x64xf32>
  }
