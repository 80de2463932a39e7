//===- KilnOps.td - kiln dialect ops -----------------------*- tablegen -*-===//
//
// The agreed op set the Kiln front-end emits. docs/dialect.md gives each op's semantics,
// formulae and constraints; constraint ids (e.g. `attention_c3`) tag the verifier checks.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_OPS
#define KILN_OPS

include "kiln/Dialect/Kiln/KilnDialect.td"
include "kiln/Dialect/Kiln/KilnEnums.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

/// Activations, parameters and losses.
def Kiln_FloatTensor : RankedTensorOf<[AnyFloat], [], "ranked tensor">;
/// A float tensor with at least one dimension (the feature dimension is the last).
def Kiln_FeatureTensor : RankedTensorOf<[AnyFloat], [HasRankGreaterOrEqualPred<1>],
                                        "ranked tensor with rank >= 1">;
/// [batch, seq, features] activations.
def Kiln_SeqTensor : TensorRankOf<[AnyFloat], [3]>;
/// [B, S] token ids, type ids, masks, labels.
def Kiln_Int2DTensor : TensorRankOf<[I32], [2]>;
/// A float vector: norm scales and shifts, biases.
def Kiln_FloatVector : TensorRankOf<[AnyFloat], [1]>;
/// A float matrix: embedding tables, weights.
def Kiln_FloatMatrix : TensorRankOf<[AnyFloat], [2]>;
/// An int8 matrix with one scale per row: quantized linear weights [N, K], a tied head's
/// table [V, D].
def Kiln_I8Matrix : TensorRankOf<[I8], [2]>;
/// Per-row scales of an int8 matrix.
def Kiln_F32Vector : TensorRankOf<[F32], [1]>;
/// A tensor whose dims 0 and 1 are [batch, seq].
/// A run-time position: `tensor<1xi32>` (the number of tokens already in a KV cache).
def Kiln_PositionTensor : 1DTensorOf<[I32]>;
/// A KV cache: [layers, batch, positions, kv_heads * head_dim].
def Kiln_CacheTensor : TensorRankOf<[AnyFloat], [4]>;
def Kiln_BatchSeqTensor : RankedTensorOf<[AnyType], [HasRankGreaterOrEqualPred<2>],
                                         "ranked tensor with rank >= 2">;

/// Result type inference for ops whose result shape differs from their operands'. The
/// interface's own result check is replaced by the one at the end of each verifier
/// (`verifyInferredResultType`), which runs after the operand checks and names both types.
def Kiln_InferResultType : TraitList<[
    DeclareOpInterfaceMethods<InferTypeOpInterface, ["refineReturnTypes"]>,
    NativeOpTrait<"InferTypeOpAdaptor", [], [{
      static ::llvm::LogicalResult
      inferReturnTypes(::mlir::MLIRContext *context, std::optional<::mlir::Location> location,
                       Adaptor adaptor,
                       ::llvm::SmallVectorImpl<::mlir::Type> &inferredReturnTypes);
    }], [{
      ::llvm::LogicalResult
      $cppClass::inferReturnTypes(::mlir::MLIRContext *context,
                                  std::optional<::mlir::Location> location,
                                  ::mlir::ValueRange operands, ::mlir::DictionaryAttr attributes,
                                  ::mlir::OpaqueProperties properties, ::mlir::RegionRange regions,
                                  ::llvm::SmallVectorImpl<::mlir::Type> &inferredReturnTypes) {
        $cppClass::Adaptor adaptor(operands, attributes, properties, regions);
        return $cppClass::inferReturnTypes(context, location, adaptor, inferredReturnTypes);
      }
      ::llvm::LogicalResult
      $cppClass::refineReturnTypes(::mlir::MLIRContext *, std::optional<::mlir::Location>,
                                   ::mlir::ValueRange, ::mlir::DictionaryAttr,
                                   ::mlir::OpaqueProperties, ::mlir::RegionRange,
                                   ::llvm::SmallVectorImpl<::mlir::Type> &) {
        return ::mlir::success();
      }
    }]>
  ]>;

def Kiln_PositiveI64 : ConfinedAttr<I64Attr, [IntPositive]>;
def Kiln_NonNegativeI64 : ConfinedAttr<I64Attr, [IntNonNegative]>;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Kiln_ParamOp : Kiln_Op<"param", [Symbol, HasParent<"::mlir::ModuleOp">,
                                     DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Declares a model parameter (a module-level symbol).";
  let description = [{
    Declares a trainable parameter with a stable hierarchical name, its static tensor type,
    how it is initialised, and optionally where it comes from in the model family's Hugging
    Face checkpoint:

    - `init`: `#kiln.init<normal>` (needs `std`), `#kiln.init<zeros>`, `#kiln.init<ones>`.
    - `hf_name`: checkpoint tensor name without a `transformer.`/`model.`-style prefix.
    - `hf_transpose`: the checkpoint stores the tensor transposed (GPT-2 `Conv1D`).
    - `hf_slice = array<i64: index, count, axis>`: the parameter is chunk `index` of `count`
      equal chunks along `axis` of the (transposed if `hf_transpose`) checkpoint tensor
      (fused QKV).
    - `scale = @s` (only on an i8 matrix `[N, K]`): the parameter is the checkpoint tensor
      quantized symmetrically per output row, and the f32 parameter `@s` (`[N]`) holds the
      rows' scales: `w[n, k] ~ scale[n] * q[n, k]` (`kiln-store-weights`, docs/weights.md).
    - `scale_of = @w`: this f32 vector is the scales of the quantized matrix `@w`; it has no
      checkpoint tensor (the loader computes it while quantizing `@w`).

    Example:

    ```mlir
    kiln.param @"h.0.attn.q.weight" : tensor<768x768xf32> {
        init = #kiln.init<normal>, std = 2.000000e-02,
        hf_name = "h.0.attn.c_attn.weight", hf_transpose, hf_slice = array<i64: 0, 3, 1>}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<AnyRankedTensor>:$type,
                       Kiln_InitKindAttr:$init,
                       OptionalAttr<F64Attr>:$std,
                       OptionalAttr<StrAttr>:$hf_name,
                       UnitAttr:$hf_transpose,
                       OptionalAttr<DenseI64ArrayAttr>:$hf_slice,
                       OptionalAttr<FlatSymbolRefAttr>:$scale,
                       OptionalAttr<FlatSymbolRefAttr>:$scale_of);
  let assemblyFormat = "$sym_name `:` $type attr-dict";
  let hasVerifier = 1;
}

def Kiln_ParamRefOp : Kiln_Op<"param_ref",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "The value of a module-level kiln.param.";
  let description = [{
    Yields the tensor held by the `kiln.param` named `name`. The symbol must exist, name a
    `kiln.param`, and the result type must equal the parameter's type.

    ```mlir
    %w = kiln.param_ref @"wte.weight" : tensor<50257x768xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Embeddings and positions
//===----------------------------------------------------------------------===//

def Kiln_EmbeddingOp : Kiln_Op<"embedding", [Pure, Kiln_InferResultType]> {
  let summary = "Table lookup: token or token-type (segment) embeddings.";
  let description = [{
    `result[b, s, :] = table[ids[b, s], :]`. `ids` is `[B, S]` i32, `table` is `[V, D]`;
    the result is `[B, S, D]` with the table's element type. Ids outside `[0, V)` are
    undefined behaviour.

    ```mlir
    %x = kiln.embedding %ids, %wte : tensor<?x?xi32>, tensor<50257x768xf32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Kiln_Int2DTensor:$ids, Kiln_FloatMatrix:$table);
  let results = (outs Kiln_SeqTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` type($ids) `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_EmbeddingQOp : Kiln_Op<"embedding_q", [Pure, Kiln_InferResultType]> {
  let summary = "kiln.embedding from an int8 table with one f32 scale per row.";
  let description = [{
    `result[b, s, :] = scale[ids[b, s]] * float(table[ids[b, s], :])`: `table` is i8 `[V, D]`
    (signed), `scale` is f32 `[V]`; the result is f32 `[B, S, D]`. Only passes build it
    (`kiln-store-weights` with `dtype=int8`, for a tied head's weight, whose rows are the
    table's rows and share their scales).

    ```mlir
    %x = kiln.embedding_q %ids, %wte, %s : tensor<?x?xi32>, tensor<50257x768xi8>, tensor<50257xf32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Kiln_Int2DTensor:$ids, Kiln_I8Matrix:$table, Kiln_F32Vector:$scale);
  let results = (outs Kiln_SeqTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table `,` $scale attr-dict `:` type($ids) `,` type($table) `,` type($scale)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_PositionEmbeddingOp : Kiln_Op<"position_embedding", [Pure, Kiln_InferResultType]> {
  let summary = "Learned absolute position embeddings for positions offset..offset+S-1.";
  let description = [{
    `result[b, s, :] = table[p + offset + s, :]`. Only the shape of `ids` (`[B, S]`) is used.
    `table` is `[P, D]`; `offset` (default 0) shifts the positions statically; the optional
    `position` operand (`tensor<1xi32>`, `p`, 0 when absent) shifts them by a value known only
    at run time (the number of tokens already in a KV cache). Rows past the table are undefined:
    whoever supplies `position` bounds it.

    ```mlir
    %p = kiln.position_embedding %ids, %wpe : tensor<?x?xi32>, tensor<1024x768xf32> -> tensor<?x?x768xf32>
    %p = kiln.position_embedding %ids, %wpe position(%pos : tensor<1xi32>) : tensor<?x1xi32>, tensor<1024x768xf32> -> tensor<?x1x768xf32>
    ```
  }];
  let arguments = (ins Kiln_Int2DTensor:$ids, Kiln_FloatMatrix:$table,
                       Optional<Kiln_PositionTensor>:$position,
                       DefaultValuedAttr<Kiln_NonNegativeI64, "0">:$offset);
  let results = (outs Kiln_SeqTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table (`position` `(` $position^ `:` type($position) `)`)? attr-dict `:` type($ids)
    `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_SinusoidalPositionsOp : Kiln_Op<"sinusoidal_positions", [Pure, Kiln_InferResultType]> {
  let summary = "Fixed sinusoidal position encodings (Vaswani et al. 2017).";
  let description = [{
    For position `p = s` and `i` in `[0, dim/2)`:
    `result[b, s, 2i] = sin(p / base^(2i/dim))`, `result[b, s, 2i+1] = cos(p / base^(2i/dim))`.
    Only the shape of `ids` (`[B, S]`) is used; the result is `[B, S, dim]` f32.

    ```mlir
    %p = kiln.sinusoidal_positions %ids {dim = 512 : i64, base = 1.000000e+04} : tensor<?x?xi32> -> tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins Kiln_Int2DTensor:$ids, Kiln_PositiveI64:$dim,
                       DefaultValuedAttr<F64Attr, "10000.0">:$base);
  let results = (outs Kiln_SeqTensor:$result);
  let assemblyFormat = "$ids attr-dict `:` type($ids) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Kiln_BinaryOp<string mnemonic, list<Trait> traits = []> :
    Kiln_Op<mnemonic, !listconcat(traits, [Pure, SameOperandsAndResultType,
                                          InferTypeOpInterface])> {
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Kiln_AddOp : Kiln_BinaryOp<"add", [Commutative]> {
  let summary = "Elementwise addition (residual connections).";
  let description = [{
    `result = lhs + rhs`; both operands and the result have one type.

    ```mlir
    %y = kiln.add %x, %h : tensor<?x?x768xf32>
    ```
  }];
}

def Kiln_MulOp : Kiln_BinaryOp<"mul", [Commutative]> {
  let summary = "Elementwise multiplication (gated feed-forward).";
  let description = [{
    `result = lhs * rhs`; both operands and the result have one type.

    ```mlir
    %y = kiln.mul %gate, %up : tensor<?x?x11008xf32>
    ```
  }];
}

def Kiln_ScaleOp : Kiln_Op<"scale", [Pure, AllTypesMatch<["input", "result"]>,
                                     DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Multiplication by a constant factor.";
  let description = [{
    `result = input * factor` (e.g. T5's tied head scaling by `d_model^-0.5`). A factor of
    1.0 folds away; a scale of a scale becomes one scale.

    ```mlir
    %y = kiln.scale %x {factor = 4.419417e-02} : tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, F64Attr:$factor);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Kiln_ActivationOp : Kiln_Op<"activation", [Pure, AllTypesMatch<["input", "result"]>,
                                               DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Pointwise activation: gelu, gelu_tanh, relu, silu, tanh.";
  let description = [{
    - `gelu`: `0.5 x (1 + erf(x / sqrt(2)))` (exact, Hendrycks & Gimpel).
    - `gelu_tanh`: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (GPT-2's "gelu_new").
    - `relu`: `max(x, 0)`; `silu`: `x * sigmoid(x)`; `tanh`: `tanh(x)`.

    ```mlir
    %y = kiln.activation gelu_tanh %x : tensor<?x?x3072xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_ActivationKindAttr:$kind);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "custom<EnumKeyword>($kind) $input attr-dict `:` type($result)";
}

def Kiln_DropoutOp : Kiln_Op<"dropout", [Pure, AllTypesMatch<["input", "result"]>,
                                         DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Dropout: identity at inference, rate in [0, 1).";
  let description = [{
    At inference `result = input`. In training, each element is zeroed with probability
    `rate` and the survivors are scaled by `1 / (1 - rate)`. A rate of 0 folds away; the
    `kiln-strip-dropout` pass removes every dropout for inference entry points.

    ```mlir
    %y = kiln.dropout %x {rate = 1.000000e-01} : tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, F64Attr:$rate);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Normalisation and linear layers
//===----------------------------------------------------------------------===//

def Kiln_LayerNormOp : Kiln_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>,
                                              AllTypesMatch<["gamma", "beta"]>,
                                              DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Layer normalisation over the last dimension (Ba et al. 2016).";
  let description = [{
    With `mu = mean(x)` and `var = mean((x - mu)^2)` over the last dimension `D` (biased
    variance): `result = (x - mu) / sqrt(var + eps) * gamma + beta`. `gamma` and `beta`
    are `[D]`.

    ```mlir
    %y = kiln.layer_norm %x, %g, %b {eps = 1.000000e-05} : tensor<?x?x768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins Kiln_FeatureTensor:$input, Kiln_FloatVector:$gamma,
                       Kiln_FloatVector:$beta, F64Attr:$eps);
  let results = (outs Kiln_FeatureTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta attr-dict `:` type($input) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

def Kiln_RMSNormOp : Kiln_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>,
                                          DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Root-mean-square normalisation over the last dimension (Zhang & Sennrich 2019).";
  let description = [{
    `result = x / sqrt(mean(x^2) + eps) * gamma` over the last dimension `D` (LLaMA, T5);
    `gamma` is `[D]`.

    ```mlir
    %y = kiln.rms_norm %x, %g {eps = 1.000000e-06} : tensor<?x?x4096xf32>, tensor<4096xf32>
    ```
  }];
  let arguments = (ins Kiln_FeatureTensor:$input, Kiln_FloatVector:$gamma, F64Attr:$eps);
  let results = (outs Kiln_FeatureTensor:$result);
  let assemblyFormat = "$input `,` $gamma attr-dict `:` type($input) `,` type($gamma)";
  let hasVerifier = 1;
}

def Kiln_LinearOp : Kiln_Op<"linear", [Pure, Kiln_InferResultType]> {
  let summary = "Affine map over the last dimension, PyTorch nn.Linear layout.";
  let description = [{
    `result[..., n] = sum_k input[..., k] * weight[n, k] + bias[n]`. `input` is `[..., K]`,
    `weight` is `[N, K]`, the optional `bias` is `[N]`; the result is `[..., N]`.

    ```mlir
    %y = kiln.linear %x, %w, %b : tensor<?x?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32> -> tensor<?x?x3072xf32>
    ```
  }];
  let arguments = (ins Kiln_FeatureTensor:$input, Kiln_FloatMatrix:$weight,
                       Optional<Kiln_FloatVector>:$bias);
  let results = (outs Kiln_FeatureTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,` type($weight)
    (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_LinearQOp : Kiln_Op<"linear_q", [Pure, Kiln_InferResultType]> {
  let summary = "kiln.linear with an int8 weight and one f32 scale per output row.";
  let description = [{
    `result[..., n] = scale[n] * sum_k input[..., k] * float(weight[n, k]) + bias[n]`:
    `input` is f32 `[..., K]`, `weight` is i8 `[N, K]` (signed), `scale` is f32 `[N]`, the
    optional `bias` is f32 `[N]`; the result is f32 `[..., N]`. Only passes build it
    (`kiln-store-weights` with `dtype=int8`); every product and sum is f32.

    ```mlir
    %y = kiln.linear_q %x, %w, %s, %b : tensor<?x?x768xf32>, tensor<3072x768xi8>, tensor<3072xf32>, tensor<3072xf32> -> tensor<?x?x3072xf32>
    ```
  }];
  let arguments = (ins Kiln_FeatureTensor:$input, Kiln_I8Matrix:$weight,
                       Kiln_F32Vector:$scale, Optional<Kiln_FloatVector>:$bias);
  let results = (outs Kiln_FeatureTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $scale (`,` $bias^)? attr-dict `:` type($input) `,` type($weight)
    `,` type($scale) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Kiln_RotaryOp : Kiln_Op<"rotary", [Pure, AllTypesMatch<["input", "result"]>,
                                       DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Rotary position embedding, rotate-half convention (HF LlamaRotaryEmbedding).";
  let description = [{
    `input` is `[B, S, H*Dh]` with `H = num_heads`, `Dh = head_dim` (even). Per head, with
    `h = Dh/2`, `inv_freq[i] = theta^(-2i/Dh)` and `a = (p + offset + s) * inv_freq[i]`:
    `out[i] = x[i] cos a - x[i+h] sin a`, `out[i+h] = x[i+h] cos a + x[i] sin a`
    for `i` in `[0, h)`. `p` is the optional run-time `position` operand (`tensor<1xi32>`,
    0 when absent): the absolute position of the first token when decoding with a KV cache.

    ```mlir
    %q = kiln.rotary %x {head_dim = 128 : i64, num_heads = 32 : i64, theta = 1.000000e+04} : tensor<?x?x4096xf32>
    %k = kiln.rotary %x position(%pos : tensor<1xi32>) {head_dim = 64 : i64, num_heads = 4 : i64} : tensor<?x1x256xf32>
    ```
  }];
  let arguments = (ins Kiln_SeqTensor:$input, Optional<Kiln_PositionTensor>:$position,
                       Kiln_PositiveI64:$num_heads,
                       Kiln_PositiveI64:$head_dim, DefaultValuedAttr<F64Attr, "10000.0">:$theta,
                       DefaultValuedAttr<Kiln_NonNegativeI64, "0">:$offset);
  let results = (outs Kiln_SeqTensor:$result);
  let assemblyFormat = [{
    $input (`position` `(` $position^ `:` type($position) `)`)? attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_AttentionOp : Kiln_Op<"attention", [Pure, AttrSizedOperandSegments,
                                             AllTypesMatch<["query", "result"]>,
                                             AllTypesMatch<["key", "value"]>,
                                             DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Scaled dot-product multi-head attention with grouped KV heads.";
  let description = [{
    `query` is `[B, S, H*Dh]`, `key` and `value` are `[B, T, KVH*Dh]` (`H % KVH == 0`; query
    head `h` reads KV head `h / (H / KVH)`: grouped-query and multi-query attention). Per
    head: `scores = scale * q k^T + bias[h]`; masked positions get the lowest finite float;
    `result = softmax(scores) v`, heads concatenated back to `[B, S, H*Dh]`.
    - `mask` (`[B, T]` i32): key `t` of batch `b` is visible iff `mask[b, t] != 0`.
    - `causal`: query `s` sees key `t` iff `t <= s + (T - S)` (aligned at the end, for decoding
      with a cache).
    - `bias` (`[H, S, T]`): additive, e.g. T5's relative position bias.
    - `position` (`tensor<1xi32>` holding `p`, only with `causal`): the queries are the tokens
      at absolute positions `p .. p + S - 1` and key `t` is the token at position `t`, so query
      `s` sees key `t` iff `t <= p + s`. This is the form for keys read from a KV cache's whole
      static capacity (`kiln.kv_cache_append ... capacity`): it also hides every cache slot not
      written yet. With `T = p + S` it is the same mask as the end-aligned rule above.
    A row with every key masked attends uniformly (as Hugging Face does).

    ```mlir
    %o = kiln.attention %q, %k, %v mask(%m : tensor<?x?xi32>)
        {causal, head_dim = 64 : i64, num_heads = 12 : i64, num_kv_heads = 12 : i64,
         scale = 1.250000e-01} : tensor<?x?x768xf32>, tensor<?x?x768xf32>
    %d = kiln.attention %q, %keys, %values position(%pos : tensor<1xi32>)
        {causal, head_dim = 64 : i64, num_heads = 12 : i64, num_kv_heads = 12 : i64,
         scale = 1.250000e-01} : tensor<1x1x768xf32>, tensor<1x1024x768xf32>
    ```
  }];
  let arguments = (ins Kiln_SeqTensor:$query, Kiln_SeqTensor:$key, Kiln_SeqTensor:$value,
                       Optional<Kiln_Int2DTensor>:$mask,
                       Optional<TensorRankOf<[AnyFloat], [3]>>:$bias,
                       Optional<Kiln_PositionTensor>:$position,
                       Kiln_PositiveI64:$num_heads, Kiln_PositiveI64:$num_kv_heads,
                       Kiln_PositiveI64:$head_dim, UnitAttr:$causal, F64Attr:$scale);
  let results = (outs Kiln_SeqTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`position` `(` $position^ `:` type($position) `)`)? attr-dict `:` type($query) `,`
    type($key)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Query heads per KV head.
    int64_t getGroupSize() { return getNumHeads() / getNumKvHeads(); }
  }];
}

def Kiln_KVCacheAppendOp : Kiln_Op<"kv_cache_append", [Pure, Kiln_InferResultType,
                                                       AllTypesMatch<["cache", "updated"]>]> {
  let summary = "Writes one layer's new keys or values into a KV cache and reads its prefix.";
  let description = [{
    `cache` is `[L, B, P, E]` (layers, batch, capacity, `kv_heads * head_dim`), `rows` is
    `[B, S, E]` (the projected keys or values of S new tokens, after rotary), `position` is
    `tensor<1xi32>` holding `p`, the number of tokens already cached. With `l = layer`:
    - `updated` is `cache` with `updated[l, b, p + s, :] = rows[b, s, :]` for `s < S`;
    - `prefix` is `updated[l, :, 0 : p + S, :]`, `[B, p + S, E]`: every cached key/value of
      layer `l`, the new ones included, ready to be the key or value of `kiln.attention`
      (causal attention aligns the S queries with the last S keys).
    `p + S > P` is undefined: the runtime refuses such a call before running it. The lowering
    writes the rows in place and reads the prefix without copying the cache.

    **Static form** (`capacity`, needs a static `P`): `prefix` is the layer's whole capacity
    `updated[l, :, 0 : P, :]`, `[B, P, E]`, whatever `p` is; slots `p + S .. P - 1` hold no
    valid key. Its users must hide them: `kiln.attention ... position(%pos) {causal}` with
    the same position does (query `s` sees key `t` iff `t <= p + s`). `kiln-specialize-shapes`
    turns the dynamic form into this one so that a decoder's `prefill` / `decode` get static
    shapes; the lowering reads the prefix as a view of the cache (no copy).

    Result types are inferred: `updated` is the cache's type, `prefix` is `[B, ?, E]`
    (static form: `[B, P, E]`), with `B` from the cache, or from `rows` when the cache's batch
    is dynamic.

    ```mlir
    %cache1, %keys = kiln.kv_cache_append %k into %cache[0] at %pos
        : tensor<?x?x256xf32> into tensor<2x?x2048x256xf32>, tensor<1xi32> -> tensor<?x?x256xf32>
    %cache2, %all = kiln.kv_cache_append %k1 into %cache[1] at %pos capacity
        : tensor<1x1x256xf32> into tensor<2x1x2048x256xf32>, tensor<1xi32> -> tensor<1x2048x256xf32>
    ```
  }];
  let arguments = (ins Kiln_CacheTensor:$cache, Kiln_SeqTensor:$rows,
                       Kiln_PositionTensor:$position, Kiln_NonNegativeI64:$layer,
                       UnitAttr:$capacity);
  let results = (outs Kiln_CacheTensor:$updated, Kiln_SeqTensor:$prefix);
  let assemblyFormat = [{
    $rows `into` $cache `[` $layer `]` `at` $position (`capacity` $capacity^)? attr-dict `:`
    type($rows) `into` type($cache) `,` type($position) `->` type($prefix)
  }];
  let hasVerifier = 1;
}

def Kiln_RelativePositionBiasOp : Kiln_Op<"relative_position_bias",
                                          [Pure, Kiln_InferResultType]> {
  let summary = "T5 bucketed relative position bias.";
  let description = [{
    For query position `i < S` (dim 1 of `query`) and key position `j < T` (dim 1 of `key`),
    `result[h, i, j] = table[bucket(j - i), h]`. `table` is `[num_buckets, num_heads]`.
    `bucket(r)` as in T5 (Raffel et al., HF `T5Attention._relative_position_bucket`): with
    `n = num_buckets`, if `bidirectional`: `n /= 2`, offset `n` when `r > 0`, `a = |r|`;
    else `a = max(-r, 0)`. With `e = n / 2`: `a < e` maps to `a`, otherwise to
    `min(e + floor(log(a / e) / log(max_distance / e) * (n - e)), n - 1)`.

    The optional `position` operand (`tensor<1xi32>` holding `p`) places the queries at
    absolute positions `p .. p + S - 1` (keys stay at `0 .. T - 1`): `r = j - (p + i)`. A
    decoder's `prefill` / `decode` pass it, with the layer's KV-cache prefix as `key`: the
    bias of the new tokens against every cached one, `[H, S, p + S]`, or `[H, S, capacity]`
    with the cache's static-capacity prefix (the attention's causal mask hides `j > p + i`).

    ```mlir
    %pb = kiln.relative_position_bias %x, %x, %table {bidirectional, max_distance = 128 : i64,
        num_buckets = 32 : i64, num_heads = 8 : i64}
        : tensor<?x?x512xf32>, tensor<?x?x512xf32>, tensor<32x8xf32> -> tensor<8x?x?xf32>
    %db = kiln.relative_position_bias %q, %keys, %table position(%pos : tensor<1xi32>)
        {max_distance = 128 : i64, num_buckets = 32 : i64, num_heads = 8 : i64}
        : tensor<1x1x512xf32>, tensor<1x512x512xf32>, tensor<32x8xf32> -> tensor<8x1x512xf32>
    ```
  }];
  let arguments = (ins Kiln_BatchSeqTensor:$query, Kiln_BatchSeqTensor:$key,
                       Kiln_FloatMatrix:$table, Optional<Kiln_PositionTensor>:$position,
                       Kiln_PositiveI64:$num_buckets,
                       Kiln_PositiveI64:$max_distance, UnitAttr:$bidirectional,
                       Kiln_PositiveI64:$num_heads);
  let results = (outs TensorRankOf<[AnyFloat], [3]>:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $table (`position` `(` $position^ `:` type($position) `)`)? attr-dict
    `:` type($query) `,` type($key) `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Heads and losses
//===----------------------------------------------------------------------===//

def Kiln_PoolOp : Kiln_Op<"pool", [Pure, Kiln_InferResultType]> {
  let summary = "Reduces [B, S, D] to [B, D]: first token or (masked) mean.";
  let description = [{
    - `first`: `result[b] = input[b, 0]` (BERT's [CLS]); a mask does not change it and is
      dropped by canonicalization.
    - `mean`: `result[b] = sum_s m[b, s] input[b, s] / max(sum_s m[b, s], 1e-9)` with
      `m = (mask != 0)`, or `m = 1` without a mask (sentence-transformers mean pooling).

    ```mlir
    %p = kiln.pool mean %x mask(%m : tensor<?x?xi32>) : tensor<?x?x384xf32> -> tensor<?x384xf32>
    ```
  }];
  let arguments = (ins Kiln_SeqTensor:$input, Optional<Kiln_Int2DTensor>:$mask,
                       Kiln_PoolModeAttr:$mode);
  let results = (outs TensorRankOf<[AnyFloat], [2]>:$result);
  let assemblyFormat = [{
    custom<EnumKeyword>($mode) $input (`mask` `(` $mask^ `:` type($mask) `)`)? attr-dict
    `:` type($input)
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def Kiln_CrossEntropyOp : Kiln_Op<"cross_entropy", [Pure, Kiln_InferResultType]> {
  let summary = "Mean softmax cross-entropy over the labels that are not ignored.";
  let description = [{
    `logits` `[B, S, V]` with `labels` `[B, S]`, or `[B, C]` with `[B]`. With `shift`
    (causal LM, rank 3 only) position `s` predicts `labels[b, s + 1]` and the last position
    is dropped. `loss = mean over (b, s) with label != ignore_index of
    logsumexp(logits[b, s, :]) - logits[b, s, label]`. With every label ignored the mean
    is 0/0 = NaN, as in PyTorch.

    ```mlir
    %l = kiln.cross_entropy %logits, %labels {shift} : tensor<?x?x50257xf32>, tensor<?x?xi32> -> tensor<f32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat], [HasAnyRankOfPred<[2, 3]>], "2D/3D tensor">:$logits,
                       RankedTensorOf<[I32], [HasAnyRankOfPred<[1, 2]>], "1D/2D tensor">:$labels,
                       UnitAttr:$shift, DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs TensorRankOf<[AnyFloat], [0]>:$result);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // KILN_OPS
