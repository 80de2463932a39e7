// Norm dispatches (layer norm, RMS norm, as the kiln lowering writes them), end to end: compiled
// to a shared object, run through the HAL's CPU driver and compared with numpy (float64, from
// the definitions) on random inputs: prefill rows over two batch entries, one decode row, and
// an RMS norm over 5 rows of 2048.
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch ln_rows --ref layer_norm --inputs 2x64x768,768,768 --output 2x64x768 --tol 1e-4 | FileCheck %s --check-prefix=LNROWS
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch ln_decode --ref layer_norm --inputs 1x1x768,768,768 --output 1x1x768 --tol 1e-4 --threads 1 | FileCheck %s --check-prefix=LNDEC
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch rms_rows --ref rms_norm --inputs 1x5x2048,2048 --output 1x5x2048 --tol 1e-4 | FileCheck %s --check-prefix=RMS

// LNROWS: ln_rows: max abs error
// LNDEC: ln_decode: max abs error
// RMS: rms_rows: max abs error

#stat = affine_map<(d0, d1, d2) -> (d0, d1)>
#row = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#col = affine_map<(d0, d1, d2) -> (d2)>

  func.func @ln_rows(%arg0: tensor<2x64x768xf32>, %arg1: tensor<768xf32>, %arg2: tensor<768xf32>) -> tensor<2x64x768xf32> {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<2x64xf32>) -> tensor<2x64xf32>
    %2 = linalg.generic {indexing_maps = [#row, #stat], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0 : tensor<2x64x768xf32>) outs(%1 : tensor<2x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %7 = arith.addf %in, %out : f32
      linalg.yield %7 : f32
    } -> tensor<2x64xf32>
    %3 = tensor.empty() : tensor<2x64x768xf32>
    %cst_0 = arith.constant 7.680000e+02 : f32
    %4 = linalg.generic {indexing_maps = [#row, #stat, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %2 : tensor<2x64x768xf32>, tensor<2x64xf32>) outs(%3 : tensor<2x64x768xf32>) {
    ^bb0(%in: f32, %in_3: f32, %out: f32):
      %7 = arith.divf %in_3, %cst_0 : f32
      %8 = arith.subf %in, %7 : f32
      linalg.yield %8 : f32
    } -> tensor<2x64x768xf32>
    %5 = linalg.generic {indexing_maps = [#row, #stat], iterator_types = ["parallel", "parallel", "reduction"]} ins(%4 : tensor<2x64x768xf32>) outs(%1 : tensor<2x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %7 = arith.mulf %in, %in : f32
      %8 = arith.addf %7, %out : f32
      linalg.yield %8 : f32
    } -> tensor<2x64xf32>
    %cst_1 = arith.constant 9.99999974E-6 : f32
    %cst_2 = arith.constant 1.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [#row, #stat, #col, #col, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%4, %5, %arg1, %arg2 : tensor<2x64x768xf32>, tensor<2x64xf32>, tensor<768xf32>, tensor<768xf32>) outs(%3 : tensor<2x64x768xf32>) {
    ^bb0(%in: f32, %in_3: f32, %in_4: f32, %in_5: f32, %out: f32):
      %7 = arith.divf %in_3, %cst_0 : f32
      %8 = arith.addf %7, %cst_1 : f32
      %9 = math.sqrt %8 : f32
      %10 = arith.divf %cst_2, %9 : f32
      %11 = arith.mulf %in, %10 : f32
      %12 = arith.mulf %11, %in_4 : f32
      %13 = arith.addf %12, %in_5 : f32
      linalg.yield %13 : f32
    } -> tensor<2x64x768xf32>
    return %6 : tensor<2x64x768xf32>
  }

  func.func @ln_decode(%arg0: tensor<1x1x768xf32>, %arg1: tensor<768xf32>, %arg2: tensor<768xf32>) -> tensor<1x1x768xf32> {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x1xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x1xf32>) -> tensor<1x1xf32>
    %2 = linalg.generic {indexing_maps = [#row, #stat], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x1x768xf32>) outs(%1 : tensor<1x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %7 = arith.addf %in, %out : f32
      linalg.yield %7 : f32
    } -> tensor<1x1xf32>
    %3 = tensor.empty() : tensor<1x1x768xf32>
    %cst_0 = arith.constant 7.680000e+02 : f32
    %4 = linalg.generic {indexing_maps = [#row, #stat, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %2 : tensor<1x1x768xf32>, tensor<1x1xf32>) outs(%3 : tensor<1x1x768xf32>) {
    ^bb0(%in: f32, %in_3: f32, %out: f32):
      %7 = arith.divf %in_3, %cst_0 : f32
      %8 = arith.subf %in, %7 : f32
      linalg.yield %8 : f32
    } -> tensor<1x1x768xf32>
    %5 = linalg.generic {indexing_maps = [#row, #stat], iterator_types = ["parallel", "parallel", "reduction"]} ins(%4 : tensor<1x1x768xf32>) outs(%1 : tensor<1x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %7 = arith.mulf %in, %in : f32
      %8 = arith.addf %7, %out : f32
      linalg.yield %8 : f32
    } -> tensor<1x1xf32>
    %cst_1 = arith.constant 9.99999974E-6 : f32
    %cst_2 = arith.constant 1.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [#row, #stat, #col, #col, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%4, %5, %arg1, %arg2 : tensor<1x1x768xf32>, tensor<1x1xf32>, tensor<768xf32>, tensor<768xf32>) outs(%3 : tensor<1x1x768xf32>) {
    ^bb0(%in: f32, %in_3: f32, %in_4: f32, %in_5: f32, %out: f32):
      %7 = arith.divf %in_3, %cst_0 : f32
      %8 = arith.addf %7, %cst_1 : f32
      %9 = math.sqrt %8 : f32
      %10 = arith.divf %cst_2, %9 : f32
      %11 = arith.mulf %in, %10 : f32
      %12 = arith.mulf %11, %in_4 : f32
      %13 = arith.addf %12, %in_5 : f32
      linalg.yield %13 : f32
    } -> tensor<1x1x768xf32>
    return %6 : tensor<1x1x768xf32>
  }

  func.func @rms_rows(%arg0: tensor<1x5x2048xf32>, %arg1: tensor<2048xf32>) -> tensor<1x5x2048xf32> {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x5xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x5xf32>) -> tensor<1x5xf32>
    %2 = linalg.generic {indexing_maps = [#row, #stat], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x5x2048xf32>) outs(%1 : tensor<1x5xf32>) {
    ^bb0(%in: f32, %out: f32):
      %5 = arith.mulf %in, %in : f32
      %6 = arith.addf %5, %out : f32
      linalg.yield %6 : f32
    } -> tensor<1x5xf32>
    %3 = tensor.empty() : tensor<1x5x2048xf32>
    %cst_0 = arith.constant 2.048000e+03 : f32
    %cst_1 = arith.constant 9.99999974E-6 : f32
    %cst_2 = arith.constant 1.000000e+00 : f32
    %4 = linalg.generic {indexing_maps = [#row, #stat, #col, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %2, %arg1 : tensor<1x5x2048xf32>, tensor<1x5xf32>, tensor<2048xf32>) outs(%3 : tensor<1x5x2048xf32>) {
    ^bb0(%in: f32, %in_3: f32, %in_4: f32, %out: f32):
      %5 = arith.divf %in_3, %cst_0 : f32
      %6 = arith.addf %5, %cst_1 : f32
      %7 = math.sqrt %6 : f32
      %8 = arith.divf %cst_2, %7 : f32
      %9 = arith.mulf %in, %8 : f32
      %10 = arith.mulf %9, %in_4 : f32
      linalg.yield %10 : f32
    } -> tensor<1x5x2048xf32>
    return %4 : tensor<1x5x2048xf32>
  }
