// RUN: kiln-opt %s --split-input-file --kiln-store-weights | FileCheck %s
// RUN: kiln-opt %s --split-input-file "--kiln-store-weights=dtype=f32" | FileCheck %s --check-prefix=F32
// RUN: not kiln-opt %s --split-input-file "--kiln-store-weights=dtype=f16" 2>&1 | FileCheck %s --check-prefix=BAD

// Matrices read only as linear weights or embedding tables become bf16, in every function that
// reads them (the table here is also the tied output head's weight; its rows widen to f32); the
// position table, the norm and the bias stay f32.
// CHECK-LABEL: module @m
// CHECK-DAG: kiln.param @wte : tensor<16x8xbf16>
// CHECK-DAG: kiln.param @wpe : tensor<4x8xf32>
// CHECK-DAG: kiln.param @up : tensor<32x8xbf16>
// CHECK-DAG: kiln.param @up_bias : tensor<32xf32>
// CHECK-DAG: kiln.param @down : tensor<8x32xbf16>
// CHECK-DAG: kiln.param @g : tensor<8xf32>
// CHECK-LABEL: func.func @forward
// CHECK: %[[E:.*]] = kiln.param_ref @wte : tensor<16x8xbf16>
// CHECK: kiln.embedding %{{.*}}, %[[E]] : tensor<?x?xi32>, tensor<16x8xbf16> -> tensor<?x?x8xf32>
// CHECK: kiln.param_ref @wpe : tensor<4x8xf32>
// CHECK: %[[U:.*]] = kiln.param_ref @up : tensor<32x8xbf16>
// CHECK: kiln.linear %{{.*}}, %[[U]], %{{.*}} : tensor<?x?x8xf32>, tensor<32x8xbf16>, tensor<32xf32> -> tensor<?x?x32xf32>
// CHECK: %[[D:.*]] = kiln.param_ref @down : tensor<8x32xbf16>
// CHECK: kiln.linear %{{.*}}, %[[D]] : tensor<?x?x32xf32>, tensor<8x32xbf16> -> tensor<?x?x8xf32>
// CHECK: kiln.linear %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<16x8xbf16> -> tensor<?x?x16xf32>
// CHECK-LABEL: func.func @other
// CHECK: kiln.param_ref @down : tensor<8x32xbf16>
// F32-NOT: bf16
// BAD: error: kiln-store-weights: unknown dtype 'f16' (bf16, int8 or f32)
module @m {
  kiln.param @wte : tensor<16x8xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @wpe : tensor<4x8xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @up : tensor<32x8xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @up_bias : tensor<32xf32> {init = #kiln.init<zeros>}
  kiln.param @down : tensor<8x32xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @g : tensor<8xf32> {init = #kiln.init<ones>}
  func.func @forward(%ids: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
    %e = kiln.param_ref @wte : tensor<16x8xf32>
    %x0 = kiln.embedding %ids, %e : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
    %pe = kiln.param_ref @wpe : tensor<4x8xf32>
    %p = kiln.position_embedding %ids, %pe : tensor<?x?xi32>, tensor<4x8xf32> -> tensor<?x?x8xf32>
    %x = kiln.add %x0, %p : tensor<?x?x8xf32>
    %u = kiln.param_ref @up : tensor<32x8xf32>
    %b = kiln.param_ref @up_bias : tensor<32xf32>
    %h = kiln.linear %x, %u, %b : tensor<?x?x8xf32>, tensor<32x8xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
    %d = kiln.param_ref @down : tensor<8x32xf32>
    %y = kiln.linear %h, %d : tensor<?x?x32xf32>, tensor<8x32xf32> -> tensor<?x?x8xf32>
    %g = kiln.param_ref @g : tensor<8xf32>
    %n = kiln.rms_norm %y, %g {eps = 1.0e-05} : tensor<?x?x8xf32>, tensor<8xf32>
    %t = kiln.param_ref @wte : tensor<16x8xf32>
    %l = kiln.linear %n, %t : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
    return %l : tensor<?x?x16xf32>
  }
  func.func @other(%x: tensor<?x?x32xf32>) -> tensor<?x?x8xf32> {
    %d = kiln.param_ref @down : tensor<8x32xf32>
    %y = kiln.linear %x, %d : tensor<?x?x32xf32>, tensor<8x32xf32> -> tensor<?x?x8xf32>
    return %y : tensor<?x?x8xf32>
  }
}
