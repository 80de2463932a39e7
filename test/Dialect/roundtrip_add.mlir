// RUN: kiln-opt %s | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @residual
func.func @residual(%x: tensor<2x4xf32>, %y: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // CHECK: kiln.add %{{.*}}, %{{.*}} : tensor<2x4xf32>
  %0 = kiln.add %x, %y : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
