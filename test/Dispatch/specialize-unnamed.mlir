// Dynamic dimensions without kiln.dims are named <input>_<axis>, as in the artifact manifest.
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=f dims=x_0=3" | FileCheck %s

// CHECK-LABEL: func.func @f
// CHECK-SAME: tensor<3x4xf32> {kiln.input = "x"}
// CHECK-SAME: attributes {kiln_static_dims = {x_0 = 3 : i64}}
// CHECK: kiln.activation gelu %{{.*}} : tensor<3x4xf32>
func.func @f(%x: tensor<?x4xf32> {kiln.input = "x"}) -> (tensor<?x4xf32> {kiln.output = "y"}) {
  %y = kiln.activation gelu %x : tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
