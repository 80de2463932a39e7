// The workgroup loop becomes a loop over [wg_begin, wg_end), two index arguments appended to
// the dispatch; the workgroup count is recorded. A dispatch without one has one workgroup.
// RUN: %kiln_cpu_compile %s --emit=distributed --mcpu=x86-64-v3 --print-dispatches 2>%t.err | FileCheck %s
// RUN: FileCheck %s --check-prefix=COUNT < %t.err

// COUNT: dispatch mm: buffers 3, workgroups 3x1x1
// COUNT: dispatch add: buffers 3, workgroups 1x1x1

// CHECK-LABEL: func.func @mm(
// CHECK-SAME:    %{{.*}}: memref<64x96xf32>, %{{.*}}: memref<96x192xf32>, %{{.*}}: memref<64x192xf32>, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-NOT:     scf.forall
// CHECK:         scf.for %[[WG:.*]] = %[[BEGIN]] to %[[END]] step %{{.*}} {
// CHECK:           affine.apply {{.*}}(%[[WG]])
func.func @mm(%a: tensor<64x96xf32>, %b: tensor<96x192xf32>) -> tensor<64x192xf32> {
  %e = tensor.empty() : tensor<64x192xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x192xf32>) -> tensor<64x192xf32>
  %m = linalg.matmul ins(%a, %b : tensor<64x96xf32>, tensor<96x192xf32>) outs(%f : tensor<64x192xf32>) -> tensor<64x192xf32>
  return %m : tensor<64x192xf32>
}

// CHECK-LABEL: func.func @add(
// CHECK-SAME:    %{{.*}}: index, %{{.*}}: index)
func.func @add(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.add ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
