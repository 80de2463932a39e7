// RUN: kiln-opt %s --split-input-file --verify-diagnostics
//
// One case per user-facing verifier error of the kiln dialect; the constraint ids
// (`param_c3`, ...) are those of docs/dialect.md.

// dialect_c1
// expected-error @+1 {{'kiln.config' belongs on a builtin.module, not on 'func.func'}}
func.func @config_on_func() attributes {kiln.config = {n_embd = 8 : i64}} {
  return
}

// -----

// dialect_c2
// expected-error @+1 {{'kiln.config' must be a dictionary, got 8 : i64}}
module attributes {kiln.config = 8 : i64} {}

// -----

// dialect_c3
// expected-error @+1 {{'kiln.config' entry 'sizes' must be an integer, float, boolean or string, got [1, 2]}}
module attributes {kiln.config = {sizes = [1, 2]}} {}

// -----

// dialect_c4
// expected-error @+1 {{'kiln.input' belongs on a function argument}}
module attributes {kiln.input = "ids"} {}

// -----

// dialect_c5
// expected-error @+1 {{unknown kiln attribute 'kiln.confg'}}
module attributes {kiln.confg = {}} {}

// -----

// dialect_c6
// expected-error @+1 {{'kiln.output' is not valid on a function argument (only 'kiln.input' is)}}
func.func @output_on_argument(%ids: tensor<?x?xi32> {kiln.output = "ids"}) {
  return
}

// -----

// dialect_c6
// expected-error @+1 {{'kiln.input' is not valid on a function result (only 'kiln.output' is)}}
func.func @input_on_result(%x: tensor<2xf32>) -> (tensor<2xf32> {kiln.input = "x"}) {
  return %x : tensor<2xf32>
}

// -----

// dialect_c7
// expected-error @+1 {{'kiln.input' on argument 0 must be a non-empty string, got 3 : i64}}
func.func @input_not_a_string(%ids: tensor<?x?xi32> {kiln.input = 3}) {
  return
}

// -----

// dialect_c7
// expected-error @+1 {{'kiln.output' on result 0 must be a non-empty string, got ""}}
func.func @empty_output_name(%x: tensor<2xf32>) -> (tensor<2xf32> {kiln.output = ""}) {
  return %x : tensor<2xf32>
}

// -----

// param_c1
// expected-error @+1 {{'kiln.param' op type must have a static shape, got 'tensor<?x8xf32>'}}
kiln.param @dynamic : tensor<?x8xf32> {init = #kiln.init<zeros>}

// -----

// param_c2
// expected-error @+1 {{'kiln.param' op element type must be a float, got 'i32'}}
kiln.param @ints : tensor<8xi32> {init = #kiln.init<zeros>}

// -----

// param_c3
// expected-error @+1 {{'kiln.param' op init normal needs a 'std'}}
kiln.param @no_std : tensor<8xf32> {init = #kiln.init<normal>}

// -----

// param_c4
// expected-error @+1 {{'kiln.param' op 'std' must be positive and finite, got -2.000000e-02}}
kiln.param @negative_std : tensor<8xf32> {init = #kiln.init<normal>, std = -0.02}

// -----

// param_c5
// expected-error @+1 {{'kiln.param' op 'std' is only meaningful with init normal, not init ones}}
kiln.param @std_with_ones : tensor<8xf32> {init = #kiln.init<ones>, std = 0.02}

// -----

// param_c6
// expected-error @+1 {{'kiln.param' op 'hf_name' must not be empty}}
kiln.param @empty_hf_name : tensor<8xf32> {init = #kiln.init<zeros>, hf_name = ""}

// -----

// param_c7
// expected-error @+1 {{'kiln.param' op 'hf_transpose' needs an 'hf_name'}}
kiln.param @transpose_without_name : tensor<8x8xf32> {init = #kiln.init<zeros>, hf_transpose}

// -----

// param_c7
// expected-error @+1 {{'kiln.param' op 'hf_slice' needs an 'hf_name'}}
kiln.param @slice_without_name : tensor<8x8xf32> {init = #kiln.init<zeros>, hf_slice = array<i64: 0, 3, 1>}

// -----

// param_c8
// expected-error @+1 {{'kiln.param' op 'hf_transpose' needs a 2-D parameter, got rank 1}}
kiln.param @transpose_vector : tensor<8xf32> {init = #kiln.init<zeros>, hf_name = "b", hf_transpose}

// -----

// param_c9
// expected-error @+1 {{'kiln.param' op 'hf_slice' must be [index, count, axis], got 2 values}}
kiln.param @short_slice : tensor<8x8xf32> {init = #kiln.init<zeros>, hf_name = "w", hf_slice = array<i64: 0, 3>}

// -----

// param_c10
// expected-error @+1 {{'kiln.param' op 'hf_slice' index 3 must be in [0, count) with count 3 >= 1}}
kiln.param @slice_index : tensor<8x8xf32> {init = #kiln.init<zeros>, hf_name = "w", hf_slice = array<i64: 3, 3, 1>}

// -----

// param_c10
// expected-error @+1 {{'kiln.param' op 'hf_slice' index 0 must be in [0, count) with count 0 >= 1}}
kiln.param @slice_count : tensor<8x8xf32> {init = #kiln.init<zeros>, hf_name = "w", hf_slice = array<i64: 0, 0, 1>}

// -----

// param_c11
// expected-error @+1 {{'kiln.param' op 'hf_slice' axis 2 is out of range for rank 2}}
kiln.param @slice_axis : tensor<8x8xf32> {init = #kiln.init<zeros>, hf_name = "w", hf_slice = array<i64: 0, 3, 2>}

// -----

func.func @param_in_function() {
  // expected-error @+1 {{'kiln.param' op expects parent op 'builtin.module'}}
  kiln.param @inner : tensor<8xf32> {init = #kiln.init<zeros>}
  return
}

// -----

// expected-error @+2 {{expected ::kiln::InitKind to be one of: normal, zeros, ones}}
// expected-error @+1 {{failed to parse Kiln_InitKindAttr parameter 'value'}}
kiln.param @bad_init : tensor<8xf32> {init = #kiln.init<uniform>}

// -----

func.func @missing_param() -> tensor<8xf32> {
  // param_ref_c1
  // expected-error @+1 {{'kiln.param_ref' op '@missing' does not name a kiln.param}}
  %0 = kiln.param_ref @missing : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @not_a_param() -> tensor<8xf32> {
  // param_ref_c2
  // expected-error @+1 {{'kiln.param_ref' op '@not_a_param' names a 'func.func', not a kiln.param}}
  %0 = kiln.param_ref @not_a_param : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

kiln.param @w : tensor<8x4xf32> {init = #kiln.init<zeros>}
func.func @param_type_mismatch() -> tensor<4x8xf32> {
  // param_ref_c3
  // expected-error @+1 {{'kiln.param_ref' op type 'tensor<4x8xf32>' differs from the type 'tensor<8x4xf32>' of kiln.param '@w'}}
  %0 = kiln.param_ref @w : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @embedding_float_ids(%ids: tensor<?x?xf32>, %t: tensor<16x8xf32>) {
  // expected-error @+1 {{'kiln.embedding' op operand #0 must be 2D tensor of 32-bit signless integer values}}
  %0 = kiln.embedding %ids, %t : tensor<?x?xf32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @embedding_wrong_result(%ids: tensor<?x?xi32>, %t: tensor<16x8xf32>) {
  // expected-error @+1 {{'kiln.embedding' op result type 'tensor<?x?x16xf32>' differs from the inferred 'tensor<?x?x8xf32>'}}
  %0 = kiln.embedding %ids, %t : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @position_embedding_too_long(%ids: tensor<2x10xi32>, %t: tensor<16x8xf32>) {
  // position_embedding_c1
  // expected-error @+1 {{'kiln.position_embedding' op offset 8 plus sequence length 10 exceeds the table's 16 positions}}
  %0 = kiln.position_embedding %ids, %t {offset = 8} : tensor<2x10xi32>, tensor<16x8xf32> -> tensor<2x10x8xf32>
  return
}

// -----

func.func @position_embedding_huge_offset(%ids: tensor<2x10xi32>, %t: tensor<16x8xf32>) {
  // position_embedding_c1
  // expected-error @+1 {{'kiln.position_embedding' op offset 9223372036854775807 plus sequence length 10 exceeds the table's 16 positions}}
  %0 = kiln.position_embedding %ids, %t {offset = 9223372036854775807} : tensor<2x10xi32>, tensor<16x8xf32> -> tensor<2x10x8xf32>
  return
}

// -----

func.func @position_embedding_negative_offset(%ids: tensor<2x10xi32>, %t: tensor<16x8xf32>) {
  // expected-error @+1 {{'kiln.position_embedding' op attribute 'offset' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = kiln.position_embedding %ids, %t {offset = -1} : tensor<2x10xi32>, tensor<16x8xf32> -> tensor<2x10x8xf32>
  return
}

// -----

func.func @sinusoidal_odd_dim(%ids: tensor<?x?xi32>) {
  // sinusoidal_positions_c1
  // expected-error @+1 {{'kiln.sinusoidal_positions' op 'dim' must be even (sin/cos pairs), got 7}}
  %0 = kiln.sinusoidal_positions %ids {dim = 7} : tensor<?x?xi32> -> tensor<?x?x7xf32>
  return
}

// -----

func.func @sinusoidal_zero_dim(%ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'kiln.sinusoidal_positions' op attribute 'dim' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = kiln.sinusoidal_positions %ids {dim = 0} : tensor<?x?xi32> -> tensor<?x?x0xf32>
  return
}

// -----

func.func @sinusoidal_bad_base(%ids: tensor<?x?xi32>) {
  // sinusoidal_positions_c2
  // expected-error @+1 {{'kiln.sinusoidal_positions' op 'base' must be positive and finite, got 0.000000e+00}}
  %0 = kiln.sinusoidal_positions %ids {dim = 8, base = 0.0} : tensor<?x?xi32> -> tensor<?x?x8xf32>
  return
}

// -----

// expected-note @+1 {{prior use here}}
func.func @add_type_mismatch(%a: tensor<2x8xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{use of value '%b' expects different type than prior uses: 'tensor<2x8xf32>' vs 'tensor<2x4xf32>'}}
  %0 = kiln.add %a, %b : tensor<2x8xf32>
  return
}

// -----

func.func @mul_ints(%a: tensor<2x8xi32>) {
  // expected-error @+1 {{'kiln.mul' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<2x8xi32>'}}
  %0 = kiln.mul %a, %a : tensor<2x8xi32>
  return
}

// -----

func.func @scale_infinite(%x: tensor<2x8xf32>) {
  // scale_c1
  // expected-error @+1 {{'kiln.scale' op 'factor' must be finite, got INF}}
  %0 = kiln.scale %x {factor = 0x7FF0000000000000 : f64} : tensor<2x8xf32>
  return
}

// -----

func.func @dropout_rate_one(%x: tensor<2x8xf32>) {
  // dropout_c1
  // expected-error @+1 {{'kiln.dropout' op 'rate' must be in [0, 1), got 1.000000e+00}}
  %0 = kiln.dropout %x {rate = 1.0} : tensor<2x8xf32>
  return
}

// -----

func.func @dropout_negative_rate(%x: tensor<2x8xf32>) {
  // dropout_c1
  // expected-error @+1 {{'kiln.dropout' op 'rate' must be in [0, 1), got -1.000000e-01}}
  %0 = kiln.dropout %x {rate = -0.1} : tensor<2x8xf32>
  return
}

// -----

func.func @layer_norm_gamma_size(%x: tensor<?x?x8xf32>, %g: tensor<4xf32>) {
  // layer_norm_c1
  // expected-error @+1 {{'kiln.layer_norm' op gamma has 4 elements but the input's last dimension is 8}}
  %0 = kiln.layer_norm %x, %g, %g {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @layer_norm_gamma_type(%x: tensor<?x?x8xf32>, %g: tensor<8xf16>) {
  // layer_norm_c2
  // expected-error @+1 {{'kiln.layer_norm' op gamma element type 'f16' differs from the input element type 'f32'}}
  %0 = kiln.layer_norm %x, %g, %g {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<8xf16>
  return
}

// -----

func.func @layer_norm_eps(%x: tensor<?x?x8xf32>, %g: tensor<8xf32>) {
  // layer_norm_c3
  // expected-error @+1 {{'kiln.layer_norm' op 'eps' must be positive and finite, got 0.000000e+00}}
  %0 = kiln.layer_norm %x, %g, %g {eps = 0.0} : tensor<?x?x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @layer_norm_scalar_input(%x: tensor<f32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op operand #0 must be ranked tensor with rank >= 1 of floating-point values, but got 'tensor<f32>'}}
  %0 = kiln.layer_norm %x, %g, %g {eps = 1.0e-5} : tensor<f32>, tensor<8xf32>
  return
}

// -----

func.func @rms_norm_gamma_size(%x: tensor<?x?x8xf32>, %g: tensor<4xf32>) {
  // rms_norm_c1
  // expected-error @+1 {{'kiln.rms_norm' op gamma has 4 elements but the input's last dimension is 8}}
  %0 = kiln.rms_norm %x, %g {eps = 1.0e-6} : tensor<?x?x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @rms_norm_gamma_type(%x: tensor<?x?x8xf32>, %g: tensor<8xbf16>) {
  // rms_norm_c2
  // expected-error @+1 {{'kiln.rms_norm' op gamma element type 'bf16' differs from the input element type 'f32'}}
  %0 = kiln.rms_norm %x, %g {eps = 1.0e-6} : tensor<?x?x8xf32>, tensor<8xbf16>
  return
}

// -----

func.func @rms_norm_eps(%x: tensor<?x?x8xf32>, %g: tensor<8xf32>) {
  // rms_norm_c3
  // expected-error @+1 {{'kiln.rms_norm' op 'eps' must be positive and finite, got -1.000000e-06}}
  %0 = kiln.rms_norm %x, %g {eps = -1.0e-6} : tensor<?x?x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @linear_k_mismatch(%x: tensor<?x?x8xf32>, %w: tensor<16x4xf32>) {
  // linear_c1
  // expected-error @+1 {{'kiln.linear' op weight 'tensor<16x4xf32>' is [N, K] with K = 4 but the input's last dimension is 8}}
  %0 = kiln.linear %x, %w : tensor<?x?x8xf32>, tensor<16x4xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_weight_type(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf16>) {
  // linear_c2
  // expected-error @+1 {{'kiln.linear' op weight element type 'f16' differs from the input element type 'f32'}}
  %0 = kiln.linear %x, %w : tensor<?x?x8xf32>, tensor<16x8xf16> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_bf16_weight_f16_input(%x: tensor<?x?x8xf16>, %w: tensor<16x8xbf16>) {
  // linear_c2: bf16 weights widen to f32 inputs only
  // expected-error @+1 {{'kiln.linear' op weight element type 'bf16' differs from the input element type 'f16'}}
  %0 = kiln.linear %x, %w : tensor<?x?x8xf16>, tensor<16x8xbf16> -> tensor<?x?x16xf16>
  return
}

// -----

func.func @linear_bias_size(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>) {
  // linear_c3
  // expected-error @+1 {{'kiln.linear' op bias has 8 elements but the weight has N = 16}}
  %0 = kiln.linear %x, %w, %b : tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<8xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_bias_type(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf64>) {
  // linear_c4
  // expected-error @+1 {{'kiln.linear' op bias element type 'f64' differs from the input element type 'f32'}}
  %0 = kiln.linear %x, %w, %b : tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<16xf64> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_wrong_result(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'kiln.linear' op result type 'tensor<?x?x8xf32>' differs from the inferred 'tensor<?x?x16xf32>'}}
  %0 = kiln.linear %x, %w : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @linear_q_input_type(%x: tensor<?x?x8xf16>, %w: tensor<16x8xi8>, %s: tensor<16xf32>) {
  // linear_q_c1
  // expected-error @+1 {{'kiln.linear_q' op input element type must be f32, got 'f16'}}
  %0 = kiln.linear_q %x, %w, %s : tensor<?x?x8xf16>, tensor<16x8xi8>, tensor<16xf32> -> tensor<?x?x16xf16>
  return
}

// -----

func.func @linear_q_k_mismatch(%x: tensor<?x?x8xf32>, %w: tensor<16x4xi8>, %s: tensor<16xf32>) {
  // linear_q_c2
  // expected-error @+1 {{'kiln.linear_q' op weight 'tensor<16x4xi8>' is [N, K] with K = 4 but the input's last dimension is 8}}
  %0 = kiln.linear_q %x, %w, %s : tensor<?x?x8xf32>, tensor<16x4xi8>, tensor<16xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_q_scale_size(%x: tensor<?x?x8xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>) {
  // linear_q_c3
  // expected-error @+1 {{'kiln.linear_q' op scale has 8 elements but the weight has N = 16}}
  %0 = kiln.linear_q %x, %w, %s : tensor<?x?x8xf32>, tensor<16x8xi8>, tensor<8xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @embedding_q_scale_size(%ids: tensor<?x?xi32>, %t: tensor<16x8xi8>, %s: tensor<8xf32>) {
  // embedding_q_c1
  // expected-error @+1 {{'kiln.embedding_q' op scale has 8 elements but the table has 16 rows}}
  %0 = kiln.embedding_q %ids, %t, %s : tensor<?x?xi32>, tensor<16x8xi8>, tensor<8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @linear_q_bias_size(%x: tensor<?x?x8xf32>, %w: tensor<16x8xi8>, %s: tensor<16xf32>, %b: tensor<4xf32>) {
  // linear_q_c4
  // expected-error @+1 {{'kiln.linear_q' op bias has 4 elements but the weight has N = 16}}
  %0 = kiln.linear_q %x, %w, %s, %b : tensor<?x?x8xf32>, tensor<16x8xi8>, tensor<16xf32>, tensor<4xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_q_bias_type(%x: tensor<?x?x8xf32>, %w: tensor<16x8xi8>, %s: tensor<16xf32>, %b: tensor<16xbf16>) {
  // linear_q_c4
  // expected-error @+1 {{'kiln.linear_q' op bias element type must be f32, got 'bf16'}}
  %0 = kiln.linear_q %x, %w, %s, %b : tensor<?x?x8xf32>, tensor<16x8xi8>, tensor<16xf32>, tensor<16xbf16> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_q_weight_type(%x: tensor<?x?x8xf32>, %w: tensor<16x8xbf16>, %s: tensor<16xf32>) {
  // expected-error @+1 {{'kiln.linear_q' op operand #1 must be 2D tensor of 8-bit signless integer values}}
  %0 = kiln.linear_q %x, %w, %s : tensor<?x?x8xf32>, tensor<16x8xbf16>, tensor<16xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @linear_q_wrong_result(%x: tensor<?x?x8xf32>, %w: tensor<16x8xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{'kiln.linear_q' op result type 'tensor<?x?x8xf32>' differs from the inferred 'tensor<?x?x16xf32>'}}
  %0 = kiln.linear_q %x, %w, %s : tensor<?x?x8xf32>, tensor<16x8xi8>, tensor<16xf32> -> tensor<?x?x8xf32>
  return
}

// -----

module {
  // param_c12
  // expected-error @+1 {{'kiln.param' op an i8 parameter needs a 'scale' (its rows' scales), got 'tensor<4x8xi8>'}}
  kiln.param @w : tensor<4x8xi8> {init = #kiln.init<zeros>}
}

// -----

module {
  // param_c12
  // expected-error @+1 {{'kiln.param' op 'scale' needs an i8 parameter, got 'tensor<4x8xf32>'}}
  kiln.param @w : tensor<4x8xf32> {init = #kiln.init<zeros>, scale = @s}
  kiln.param @s : tensor<4xf32> {init = #kiln.init<ones>, scale_of = @w}
}

// -----

module {
  // param_c13
  // expected-error @+1 {{'kiln.param' op the scales of @w are computed when it is loaded: no 'hf_name' or 'scale'}}
  kiln.param @s : tensor<4xf32> {init = #kiln.init<ones>, scale_of = @w, hf_name = "s"}
  kiln.param @w : tensor<4x8xi8> {init = #kiln.init<zeros>, scale = @s}
}

// -----

module {
  // param_c14
  // expected-error @+1 {{'kiln.param' op has 4 rows but its scale @s has 3 elements}}
  kiln.param @w : tensor<4x8xi8> {init = #kiln.init<zeros>, scale = @s}
  kiln.param @s : tensor<3xf32> {init = #kiln.init<ones>, scale_of = @w}
}

// -----

module {
  // param_c14
  // expected-error @+1 {{'kiln.param' op 'scale' @s does not name this parameter back (its 'scale_of' is v)}}
  kiln.param @w : tensor<4x8xi8> {init = #kiln.init<zeros>, scale = @s}
  kiln.param @s : tensor<4xf32> {init = #kiln.init<ones>, scale_of = @v}
  kiln.param @v : tensor<4x8xi8> {init = #kiln.init<zeros>, scale = @s}
}

// -----

func.func @activation_unknown_kind(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{expected one of: gelu, gelu_tanh, relu, silu, tanh; got 'swish'}}
  %0 = kiln.activation swish %x : tensor<2x8xf32>
  return
}

// -----

func.func @rotary_odd_head_dim(%x: tensor<?x?x12xf32>) {
  // rotary_c1
  // expected-error @+1 {{'kiln.rotary' op 'head_dim' must be even (rotate-half pairs), got 3}}
  %0 = kiln.rotary %x {num_heads = 4, head_dim = 3} : tensor<?x?x12xf32>
  return
}

// -----

func.func @rotary_width(%x: tensor<?x?x12xf32>) {
  // rotary_c2
  // expected-error @+1 {{'kiln.rotary' op input's last dimension 12 is not num_heads (4) * head_dim (4) = 16}}
  %0 = kiln.rotary %x {num_heads = 4, head_dim = 4} : tensor<?x?x12xf32>
  return
}

// -----

func.func @rotary_overflow(%x: tensor<?x?x16xf32>) {
  // rotary_c2
  // expected-error @+1 {{'kiln.rotary' op num_heads (4611686018427387904) * head_dim (4) overflows}}
  %0 = kiln.rotary %x {num_heads = 4611686018427387904, head_dim = 4} : tensor<?x?x16xf32>
  return
}

// -----

func.func @rotary_theta(%x: tensor<?x?x16xf32>) {
  // rotary_c3
  // expected-error @+1 {{'kiln.rotary' op 'theta' must be positive and finite, got -1.000000e+00}}
  %0 = kiln.rotary %x {num_heads = 4, head_dim = 4, theta = -1.0} : tensor<?x?x16xf32>
  return
}

// -----

func.func @rotary_zero_heads(%x: tensor<?x?x16xf32>) {
  // expected-error @+1 {{'kiln.rotary' op attribute 'num_heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = kiln.rotary %x {num_heads = 0, head_dim = 4} : tensor<?x?x16xf32>
  return
}

// -----

func.func @attention_groups(%q: tensor<?x?x24xf32>, %kv: tensor<?x?x16xf32>) {
  // attention_c1
  // expected-error @+1 {{'kiln.attention' op num_heads (6) must be a multiple of num_kv_heads (4)}}
  %0 = kiln.attention %q, %kv, %kv {num_heads = 6, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<?x?x24xf32>, tensor<?x?x16xf32>
  return
}

// -----

func.func @attention_overflow(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x16xf32>) {
  // attention_c2
  // expected-error @+1 {{'kiln.attention' op num_heads (4611686018427387904) * head_dim (4) overflows}}
  %0 = kiln.attention %q, %kv, %kv {num_heads = 4611686018427387904, num_kv_heads = 4611686018427387904, head_dim = 4, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return
}

// -----

func.func @attention_query_width(%q: tensor<?x?x24xf32>, %kv: tensor<?x?x8xf32>) {
  // attention_c2
  // expected-error @+1 {{'kiln.attention' op query's last dimension 24 is not num_heads (4) * head_dim (4) = 16}}
  %0 = kiln.attention %q, %kv, %kv {num_heads = 4, num_kv_heads = 2, head_dim = 4, scale = 0.5} : tensor<?x?x24xf32>, tensor<?x?x8xf32>
  return
}

// -----

func.func @attention_kv_width(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x16xf32>) {
  // attention_c3
  // expected-error @+1 {{'kiln.attention' op key/value's last dimension 16 is not num_kv_heads (2) * head_dim (4) = 8}}
  %0 = kiln.attention %q, %kv, %kv {num_heads = 4, num_kv_heads = 2, head_dim = 4, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return
}

// -----

func.func @attention_batch(%q: tensor<2x?x16xf32>, %kv: tensor<3x?x16xf32>) {
  // attention_c4
  // expected-error @+1 {{'kiln.attention' op query batch 2 differs from key batch 3}}
  %0 = kiln.attention %q, %kv, %kv {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<2x?x16xf32>, tensor<3x?x16xf32>
  return
}

// -----

func.func @attention_element_types(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x16xf16>) {
  // attention_c5
  // expected-error @+1 {{'kiln.attention' op query element type 'f32' differs from the key/value element type 'f16'}}
  %0 = kiln.attention %q, %kv, %kv {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x16xf16>
  return
}

// -----

// expected-note @+1 {{prior use here}}
func.func @attention_key_value_differ(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x5x16xf32>) {
  // expected-error @+1 {{use of value '%v' expects different type than prior uses: 'tensor<?x?x16xf32>' vs 'tensor<?x5x16xf32>'}}
  %0 = kiln.attention %q, %k, %v {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return
}

// -----

func.func @attention_mask_shape(%q: tensor<2x3x16xf32>, %kv: tensor<2x5x16xf32>, %m: tensor<2x3xi32>) {
  // attention_c6
  // expected-error @+1 {{'kiln.attention' op mask 'tensor<2x3xi32>' must be [B, T] = [2, 5]}}
  %0 = kiln.attention %q, %kv, %kv mask(%m : tensor<2x3xi32>) {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<2x3x16xf32>, tensor<2x5x16xf32>
  return
}

// -----

func.func @attention_mask_type(%q: tensor<2x3x16xf32>, %kv: tensor<2x5x16xf32>, %m: tensor<2x5xi1>) {
  // expected-error @+1 {{'kiln.attention' op operand #3 must be 2D tensor of 32-bit signless integer values}}
  %0 = kiln.attention %q, %kv, %kv mask(%m : tensor<2x5xi1>) {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<2x3x16xf32>, tensor<2x5x16xf32>
  return
}

// -----

func.func @attention_bias_shape(%q: tensor<?x3x16xf32>, %kv: tensor<?x5x16xf32>, %b: tensor<4x5x3xf32>) {
  // attention_c7
  // expected-error @+1 {{'kiln.attention' op bias 'tensor<4x5x3xf32>' must be [H, S, T] = [4, 3, 5]}}
  %0 = kiln.attention %q, %kv, %kv bias(%b : tensor<4x5x3xf32>) {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<?x3x16xf32>, tensor<?x5x16xf32>
  return
}

// -----

func.func @attention_bias_type(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x16xf32>, %b: tensor<4x?x?xf16>) {
  // attention_c8
  // expected-error @+1 {{'kiln.attention' op bias element type 'f16' differs from the query element type 'f32'}}
  %0 = kiln.attention %q, %kv, %kv bias(%b : tensor<4x?x?xf16>) {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x16xf32>) {
  // attention_c9
  // expected-error @+1 {{'kiln.attention' op 'scale' must be positive and finite, got 0.000000e+00}}
  %0 = kiln.attention %q, %kv, %kv {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 0.0} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return
}

// -----

func.func @relative_bias_table(%x: tensor<?x?x16xf32>, %t: tensor<32x4xf32>) {
  // relative_position_bias_c1
  // expected-error @+1 {{'kiln.relative_position_bias' op table 'tensor<32x4xf32>' must be [num_buckets, num_heads] = [32, 8]}}
  %0 = kiln.relative_position_bias %x, %x, %t {num_buckets = 32, max_distance = 128, num_heads = 8} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<32x4xf32> -> tensor<8x?x?xf32>
  return
}

// -----

func.func @relative_bias_odd_buckets(%x: tensor<?x?x16xf32>, %t: tensor<33x8xf32>) {
  // relative_position_bias_c2
  // expected-error @+1 {{'kiln.relative_position_bias' op bidirectional buckets are split in two halves; num_buckets 33 must be even}}
  %0 = kiln.relative_position_bias %x, %x, %t {num_buckets = 33, max_distance = 128, bidirectional, num_heads = 8} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<33x8xf32> -> tensor<8x?x?xf32>
  return
}

// -----

func.func @relative_bias_too_few_buckets(%x: tensor<?x?x16xf32>, %t: tensor<2x8xf32>) {
  // relative_position_bias_c3
  // expected-error @+1 {{'kiln.relative_position_bias' op num_buckets 2 leaves no exact buckets (needs >= 4)}}
  %0 = kiln.relative_position_bias %x, %x, %t {num_buckets = 2, max_distance = 128, bidirectional, num_heads = 8} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<2x8xf32> -> tensor<8x?x?xf32>
  return
}

// -----

func.func @relative_bias_max_distance(%x: tensor<?x?x16xf32>, %t: tensor<32x8xf32>) {
  // relative_position_bias_c4
  // expected-error @+1 {{'kiln.relative_position_bias' op max_distance 8 must exceed the number of exact buckets 8}}
  %0 = kiln.relative_position_bias %x, %x, %t {num_buckets = 32, max_distance = 8, bidirectional, num_heads = 8} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<32x8xf32> -> tensor<8x?x?xf32>
  return
}

// -----

func.func @relative_bias_position(%x: tensor<?x?x16xf32>, %t: tensor<32x8xf32>, %p: tensor<2xi32>) {
  // relative_position_bias_c5
  // expected-error @+1 {{'kiln.relative_position_bias' op position must hold one value (tensor<1xi32>), got 'tensor<2xi32>'}}
  %0 = kiln.relative_position_bias %x, %x, %t position(%p : tensor<2xi32>) {num_buckets = 32, max_distance = 128, num_heads = 8} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<32x8xf32> -> tensor<8x?x?xf32>
  return
}

// -----

func.func @relative_bias_wrong_result(%x: tensor<?x?x16xf32>, %t: tensor<32x8xf32>) {
  // expected-error @+1 {{'kiln.relative_position_bias' op result type 'tensor<?x?x8xf32>' differs from the inferred 'tensor<8x?x?xf32>'}}
  %0 = kiln.relative_position_bias %x, %x, %t {num_buckets = 32, max_distance = 128, num_heads = 8} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<32x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @pool_mask_shape(%x: tensor<2x7x16xf32>, %m: tensor<2x6xi32>) {
  // pool_c1
  // expected-error @+1 {{'kiln.pool' op mask 'tensor<2x6xi32>' must be [B, S] = [2, 7]}}
  %0 = kiln.pool mean %x mask(%m : tensor<2x6xi32>) : tensor<2x7x16xf32> -> tensor<2x16xf32>
  return
}

// -----

func.func @pool_unknown_mode(%x: tensor<2x7x16xf32>) {
  // expected-error @+1 {{expected one of: first, mean; got 'max'}}
  %0 = kiln.pool max %x : tensor<2x7x16xf32> -> tensor<2x16xf32>
  return
}

// -----

func.func @pool_wrong_result(%x: tensor<2x7x16xf32>) {
  // expected-error @+1 {{'kiln.pool' op result type 'tensor<7x16xf32>' differs from the inferred 'tensor<2x16xf32>'}}
  %0 = kiln.pool first %x : tensor<2x7x16xf32> -> tensor<7x16xf32>
  return
}

// -----

func.func @cross_entropy_rank(%logits: tensor<?x?x32xf32>, %labels: tensor<?xi32>) {
  // cross_entropy_c1
  // expected-error @+1 {{'kiln.cross_entropy' op labels 'tensor<?xi32>' must have rank 2 for logits 'tensor<?x?x32xf32>' ([B, S, V] with [B, S], or [B, C] with [B])}}
  %0 = kiln.cross_entropy %logits, %labels : tensor<?x?x32xf32>, tensor<?xi32> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_dims(%logits: tensor<2x5x32xf32>, %labels: tensor<2x4xi32>) {
  // cross_entropy_c2
  // expected-error @+1 {{'kiln.cross_entropy' op labels dimension 1 is 4 but logits dimension 1 is 5}}
  %0 = kiln.cross_entropy %logits, %labels : tensor<2x5x32xf32>, tensor<2x4xi32> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_shift_classification(%logits: tensor<?x3xf32>, %labels: tensor<?xi32>) {
  // cross_entropy_c3
  // expected-error @+1 {{'kiln.cross_entropy' op 'shift' needs [B, S, V] logits, got 'tensor<?x3xf32>'}}
  %0 = kiln.cross_entropy %logits, %labels {shift} : tensor<?x3xf32>, tensor<?xi32> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_float_labels(%logits: tensor<?x3xf32>, %labels: tensor<?xf32>) {
  // expected-error @+1 {{'kiln.cross_entropy' op operand #1 must be 1D/2D tensor of 32-bit signless integer values, but got 'tensor<?xf32>'}}
  %0 = kiln.cross_entropy %logits, %labels : tensor<?x3xf32>, tensor<?xf32> -> tensor<f32>
  return
}

// -----

func.func @position_embedding_wrong_result(%ids: tensor<2x10xi32>, %t: tensor<16x8xf32>) {
  // expected-error @+1 {{'kiln.position_embedding' op result type 'tensor<?x10x8xf32>' differs from the inferred 'tensor<2x10x8xf32>'}}
  %0 = kiln.position_embedding %ids, %t : tensor<2x10xi32>, tensor<16x8xf32> -> tensor<?x10x8xf32>
  return
}

// -----

func.func @sinusoidal_wrong_result(%ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'kiln.sinusoidal_positions' op result type 'tensor<?x?x8xf16>' differs from the inferred 'tensor<?x?x8xf32>'}}
  %0 = kiln.sinusoidal_positions %ids {dim = 8} : tensor<?x?xi32> -> tensor<?x?x8xf16>
  return
}

// -----

func.func @cross_entropy_wrong_result(%logits: tensor<?x3xf32>, %labels: tensor<?xi32>) {
  // expected-error @+1 {{'kiln.cross_entropy' op result type 'tensor<f16>' differs from the inferred 'tensor<f32>'}}
  %0 = kiln.cross_entropy %logits, %labels : tensor<?x3xf32>, tensor<?xi32> -> tensor<f16>
  return
}

// -----

// dialect_c8
// expected-error @+1 {{'kiln.hf_prefixes' belongs on a builtin.module, not on 'func.func'}}
func.func @prefixes_on_func() attributes {kiln.hf_prefixes = ["model."]} {
  return
}

// -----

// dialect_c9
// expected-error @+1 {{'kiln.hf_ignore' must be an array of strings, got [1]}}
module attributes {kiln.hf_ignore = [1]} {}

// -----

// dialect_c10
// expected-error @+1 {{'kiln.hf_ignore' patterns must be non-empty}}
module attributes {kiln.hf_ignore = ["lm_head.weight", ""]} {}

// -----

// dialect_c4
// expected-error @+1 {{'kiln.dims' belongs on a function argument or result}}
module attributes {kiln.dims = ["batch"]} {}

// -----

// dialect_c11
// expected-error @+1 {{'kiln.dims' on argument 0 must be an array of non-empty strings, got ["batch", ""]}}
func.func @empty_dim_name(%ids: tensor<?x?xi32> {kiln.dims = ["batch", ""]}) {
  return
}

// -----

// dialect_c12
// expected-error @+1 {{'kiln.dims' on result 0 names 1 dimensions but 'tensor<?x?x8xf32>' has 2 dynamic ones}}
func.func @dims_count(%x: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32> {kiln.dims = ["batch"]}) {
  return %x : tensor<?x?x8xf32>
}

// -----

// dialect_c13
// expected-error @+1 {{'kiln.state' on argument 0 must be a non-empty string, got ""}}
func.func @state_empty(%c: tensor<1x1x4x4xf32> {kiln.state = ""}) {
  return
}

// -----

func.func @position_embedding_position_size(%ids: tensor<?x?xi32>, %t: tensor<16x8xf32>, %p: tensor<2xi32>) {
  // position_embedding_c2
  // expected-error @+1 {{'kiln.position_embedding' op position must hold one value (tensor<1xi32>), got 'tensor<2xi32>'}}
  %0 = kiln.position_embedding %ids, %t position(%p : tensor<2xi32>) : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @rotary_position_size(%x: tensor<?x?x16xf32>, %p: tensor<3xi32>) {
  // rotary_c4
  // expected-error @+1 {{'kiln.rotary' op position must hold one value (tensor<1xi32>), got 'tensor<3xi32>'}}
  %0 = kiln.rotary %x position(%p : tensor<3xi32>) {num_heads = 2, head_dim = 8} : tensor<?x?x16xf32>
  return
}

// -----

func.func @cache_layer(%k: tensor<?x?x16xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_c1
  // expected-error @+1 {{'kiln.kv_cache_append' op layer 2 is outside the cache's 2 layers}}
  %c, %r = kiln.kv_cache_append %k into %cache[2] at %p : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @cache_width(%k: tensor<?x?x8xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_c2
  // expected-error @+1 {{'kiln.kv_cache_append' op rows 'tensor<?x?x8xf32>' and prefix 'tensor<?x?x16xf32>' must have the cache's row width 16}}
  %c, %r = kiln.kv_cache_append %k into %cache[0] at %p : tensor<?x?x8xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @cache_batch(%k: tensor<3x?x16xf32>, %cache: tensor<2x2x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_c3
  // expected-error @+1 {{'kiln.kv_cache_append' op rows 'tensor<3x?x16xf32>' and prefix 'tensor<3x?x16xf32>' must have the cache's batch 2}}
  %c, %r = kiln.kv_cache_append %k into %cache[0] at %p : tensor<3x?x16xf32> into tensor<2x2x32x16xf32>, tensor<1xi32> -> tensor<3x?x16xf32>
  return
}

// -----

func.func @cache_element_type(%k: tensor<?x?x16xf16>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_c4
  // expected-error @+1 {{'kiln.kv_cache_append' op rows and prefix must have the cache's element type 'f32'}}
  %c, %r = kiln.kv_cache_append %k into %cache[0] at %p : tensor<?x?x16xf16> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf16>
  return
}

// -----

func.func @cache_too_many_rows(%k: tensor<?x40x16xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_c5
  // expected-error @+1 {{'kiln.kv_cache_append' op 40 new rows exceed the cache's 32 positions}}
  %c, %r = kiln.kv_cache_append %k into %cache[0] at %p : tensor<?x40x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @cache_static_prefix(%k: tensor<?x?x16xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_c6
  // expected-error @+1 {{'kiln.kv_cache_append' op prefix 'tensor<?x4x16xf32>' must have a dynamic length (position + new rows)}}
  %c, %r = kiln.kv_cache_append %k into %cache[0] at %p : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x4x16xf32>
  return
}

// -----

func.func @cache_position_size(%k: tensor<?x?x16xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<2xi32>) {
  // kv_cache_append_c7
  // expected-error @+1 {{'kiln.kv_cache_append' op position must hold one value (tensor<1xi32>), got 'tensor<2xi32>'}}
  %c, %r = kiln.kv_cache_append %k into %cache[0] at %p : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<2xi32> -> tensor<?x?x16xf32>
  return
}
