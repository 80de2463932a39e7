// RUN: kiln-opt %s --kiln-test-infer-types --verify-diagnostics --split-input-file
//
// The result types inferred from operands and attributes alone (the builders without a
// result type use this), with static and dynamic (`?`) batch and sequence sizes.

func.func @lookups(%ids: tensor<?x?xi32>, %ids2: tensor<2x?xi32>, %t: tensor<32x8xf32>, %th: tensor<32x8xf16>) {
  // expected-remark @+1 {{inferred 'tensor<?x?x8xf32>'}}
  %0 = kiln.embedding %ids, %t : tensor<?x?xi32>, tensor<32x8xf32> -> tensor<?x?x8xf32>
  // expected-remark @+1 {{inferred 'tensor<2x?x8xf16>'}}
  %1 = kiln.embedding %ids2, %th : tensor<2x?xi32>, tensor<32x8xf16> -> tensor<2x?x8xf16>
  // expected-remark @+1 {{inferred 'tensor<2x?x8xf32>'}}
  %2 = kiln.position_embedding %ids2, %t : tensor<2x?xi32>, tensor<32x8xf32> -> tensor<2x?x8xf32>
  // expected-remark @+1 {{inferred 'tensor<?x?x6xf32>'}}
  %3 = kiln.sinusoidal_positions %ids {dim = 6} : tensor<?x?xi32> -> tensor<?x?x6xf32>
  return
}

// -----

func.func @same_type(%x: tensor<?x5x16xf32>, %g: tensor<16xf32>, %kv: tensor<?x7x8xf32>) {
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %0 = kiln.add %x, %x : tensor<?x5x16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %1 = kiln.mul %x, %x : tensor<?x5x16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %2 = kiln.scale %x {factor = 2.0} : tensor<?x5x16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %3 = kiln.activation silu %x : tensor<?x5x16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %4 = kiln.dropout %x {rate = 0.1} : tensor<?x5x16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %5 = kiln.layer_norm %x, %g, %g {eps = 1.0e-5} : tensor<?x5x16xf32>, tensor<16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %6 = kiln.rms_norm %x, %g {eps = 1.0e-5} : tensor<?x5x16xf32>, tensor<16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %7 = kiln.rotary %x {num_heads = 4, head_dim = 4} : tensor<?x5x16xf32>
  // expected-remark @+1 {{inferred 'tensor<?x5x16xf32>'}}
  %8 = kiln.attention %x, %kv, %kv {num_heads = 4, num_kv_heads = 2, head_dim = 4, scale = 0.5} : tensor<?x5x16xf32>, tensor<?x7x8xf32>
  return
}

// -----

func.func @shape_changing(%x: tensor<?x5x16xf32>, %w: tensor<3x16xf32>, %kv: tensor<?x7x8xf32>, %t: tensor<32x4xf32>, %y2: tensor<?xi32>, %l2: tensor<?x3xf32>, %y3: tensor<?x5xi32>) {
  // expected-remark @+1 {{inferred 'tensor<?x5x3xf32>'}}
  %0 = kiln.linear %x, %w : tensor<?x5x16xf32>, tensor<3x16xf32> -> tensor<?x5x3xf32>
  // expected-remark @+1 {{inferred 'tensor<4x5x7xf32>'}}
  %1 = kiln.relative_position_bias %x, %kv, %t {num_buckets = 32, max_distance = 128, num_heads = 4} : tensor<?x5x16xf32>, tensor<?x7x8xf32>, tensor<32x4xf32> -> tensor<4x5x7xf32>
  // expected-remark @+1 {{inferred 'tensor<?x16xf32>'}}
  %2 = kiln.pool first %x : tensor<?x5x16xf32> -> tensor<?x16xf32>
  // expected-remark @+1 {{inferred 'tensor<f32>'}}
  %3 = kiln.cross_entropy %l2, %y2 : tensor<?x3xf32>, tensor<?xi32> -> tensor<f32>
  // expected-remark @+1 {{inferred 'tensor<f32>'}}
  %4 = kiln.cross_entropy %x, %y3 {shift} : tensor<?x5x16xf32>, tensor<?x5xi32> -> tensor<f32>
  return
}
