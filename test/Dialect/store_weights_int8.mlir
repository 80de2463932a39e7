// RUN: kiln-opt %s --split-input-file "--kiln-store-weights=dtype=int8" | FileCheck %s

// Matrices read as f32 linear weights become i8 with a new f32 scale parameter beside them (one
// scale per row, linked both ways), and their linears kiln.linear_q, in every function that
// reads them. The embedding table that is also the tied output head's weight is i8 too: its
// lookup becomes kiln.embedding_q with the same row scales. A table read only by an embedding
// (@tte) is bf16 as with dtype=bf16; the position table, the norm and the bias stay f32.
// @down.scale is taken by a model parameter, so down's scales are @down.scale.1.
// CHECK-LABEL: module @m
// CHECK: kiln.param @wte : tensor<16x8xi8> {init = #kiln.init<normal>, scale = @wte.scale, std = 2.000000e-02 : f64}
// CHECK-NEXT: kiln.param @wte.scale : tensor<16xf32> {init = #kiln.init<ones>, scale_of = @wte}
// CHECK-NEXT: kiln.param @tte : tensor<2x8xbf16>
// CHECK-NEXT: kiln.param @wpe : tensor<4x8xf32>
// CHECK-NEXT: kiln.param @up : tensor<32x8xi8> {hf_name = "h.up", hf_transpose, init = #kiln.init<normal>, scale = @up.scale, std = 2.000000e-02 : f64}
// CHECK-NEXT: kiln.param @up.scale : tensor<32xf32> {init = #kiln.init<ones>, scale_of = @up}
// CHECK-NEXT: kiln.param @up_bias : tensor<32xf32>
// CHECK-NEXT: kiln.param @down : tensor<8x32xi8> {init = #kiln.init<normal>, scale = @down.scale.1, std = 2.000000e-02 : f64}
// CHECK-NEXT: kiln.param @down.scale.1 : tensor<8xf32> {init = #kiln.init<ones>, scale_of = @down}
// CHECK-NEXT: kiln.param @g : tensor<8xf32>
// CHECK-NEXT: kiln.param @down.scale : tensor<8xf32>
// CHECK-LABEL: func.func @forward
// CHECK: %[[E:.*]] = kiln.param_ref @wte : tensor<16x8xi8>
// CHECK-NEXT: %[[ES:.*]] = kiln.param_ref @wte.scale : tensor<16xf32>
// CHECK-NEXT: kiln.embedding_q %{{.*}}, %[[E]], %[[ES]] : tensor<?x?xi32>, tensor<16x8xi8>, tensor<16xf32> -> tensor<?x?x8xf32>
// CHECK: %[[T:.*]] = kiln.param_ref @tte : tensor<2x8xbf16>
// CHECK-NEXT: kiln.embedding %{{.*}}, %[[T]] : tensor<?x?xi32>, tensor<2x8xbf16> -> tensor<?x?x8xf32>
// CHECK: kiln.param_ref @wpe : tensor<4x8xf32>
// CHECK: %[[U:.*]] = kiln.param_ref @up : tensor<32x8xi8>
// CHECK-NEXT: %[[US:.*]] = kiln.param_ref @up.scale : tensor<32xf32>
// CHECK: %[[B:.*]] = kiln.param_ref @up_bias : tensor<32xf32>
// CHECK: kiln.linear_q %{{.*}}, %[[U]], %[[US]], %[[B]] : tensor<?x?x8xf32>, tensor<32x8xi8>, tensor<32xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
// CHECK: %[[D:.*]] = kiln.param_ref @down : tensor<8x32xi8>
// CHECK-NEXT: %[[DS:.*]] = kiln.param_ref @down.scale.1 : tensor<8xf32>
// CHECK: kiln.linear_q %{{.*}}, %[[D]], %[[DS]] : tensor<?x?x32xf32>, tensor<8x32xi8>, tensor<8xf32> -> tensor<?x?x8xf32>
// CHECK: %[[H:.*]] = kiln.param_ref @wte : tensor<16x8xi8>
// CHECK-NEXT: %[[HS:.*]] = kiln.param_ref @wte.scale : tensor<16xf32>
// CHECK-NEXT: kiln.linear_q %{{.*}}, %[[H]], %[[HS]] : tensor<?x?x8xf32>, tensor<16x8xi8>, tensor<16xf32> -> tensor<?x?x16xf32>
// CHECK-LABEL: func.func @other
// CHECK: %[[D2:.*]] = kiln.param_ref @down : tensor<8x32xi8>
// CHECK-NEXT: %[[DS2:.*]] = kiln.param_ref @down.scale.1 : tensor<8xf32>
// CHECK-NEXT: kiln.linear_q %{{.*}}, %[[D2]], %[[DS2]] :
// CHECK-NOT: kiln.linear %
module @m {
  kiln.param @wte : tensor<16x8xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @tte : tensor<2x8xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @wpe : tensor<4x8xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @up : tensor<32x8xf32> {init = #kiln.init<normal>, std = 2.0e-02, hf_name = "h.up", hf_transpose}
  kiln.param @up_bias : tensor<32xf32> {init = #kiln.init<zeros>}
  kiln.param @down : tensor<8x32xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  kiln.param @g : tensor<8xf32> {init = #kiln.init<ones>}
  kiln.param @down.scale : tensor<8xf32> {init = #kiln.init<ones>}
  func.func @forward(%ids: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
    %e = kiln.param_ref @wte : tensor<16x8xf32>
    %x0 = kiln.embedding %ids, %e : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
    %te = kiln.param_ref @tte : tensor<2x8xf32>
    %tx = kiln.embedding %ids, %te : tensor<?x?xi32>, tensor<2x8xf32> -> tensor<?x?x8xf32>
    %pe = kiln.param_ref @wpe : tensor<4x8xf32>
    %p = kiln.position_embedding %ids, %pe : tensor<?x?xi32>, tensor<4x8xf32> -> tensor<?x?x8xf32>
    %x1 = kiln.add %x0, %tx : tensor<?x?x8xf32>
    %x = kiln.add %x1, %p : tensor<?x?x8xf32>
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

// -----

// A matrix also read by something other than a linear's weight (here an add) stays f32, and its
// linear stays kiln.linear.
// CHECK-LABEL: module @shared
// CHECK: kiln.param @w : tensor<8x8xf32>
// CHECK-NOT: scale
// CHECK: kiln.linear %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
// CHECK-NOT: linear_q
module @shared {
  kiln.param @w : tensor<8x8xf32> {init = #kiln.init<normal>, std = 2.0e-02}
  func.func @forward(%x: tensor<?x?x8xf32>, %r: tensor<8x8xf32>) -> (tensor<?x?x8xf32>, tensor<8x8xf32>) {
    %w = kiln.param_ref @w : tensor<8x8xf32>
    %y = kiln.linear %x, %w : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
    %s = kiln.add %w, %r : tensor<8x8xf32>
    return %y, %s : tensor<?x?x8xf32>, tensor<8x8xf32>
  }
}
