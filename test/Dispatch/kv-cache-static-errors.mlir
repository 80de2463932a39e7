// A KV-cache prefix is made static only where attention's position-aware causal mask hides the
// unwritten slots; a schedule never lets a dispatch read a state after it was updated in place.
// RUN: not kiln-opt %s --split-input-file --kiln-specialize-shapes="entry=decode dims=batch=1" 2>&1 | FileCheck %s --check-prefix=SPEC
// RUN: not kiln-opt %s --split-input-file --kiln-print-dispatch-schedule=entries=step -o /dev/null 2>&1 | FileCheck %s --check-prefix=SCHED

// SPEC: error: the prefix of a KV cache can be made static only when it is the key or value of a causal attention that is given the same position, without bias or with a relative position bias at that position (its mask then hides the unwritten cache slots); 'kiln.attention' reads it
func.func @decode(%x: tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.input = "x"},
                  %pos: tensor<1xi32> {kiln.input = "position"},
                  %cache: tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"})
    -> (tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.output = "y"},
        tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"}) {
  %c1, %keys = kiln.kv_cache_append %x into %cache[1] at %pos : tensor<?x1x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
  %y = kiln.attention %x, %keys, %keys {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>
  return %y, %c1 : tensor<?x1x8xf32>, tensor<2x?x16x8xf32>
}

// -----

// A bias that is not placed at the position (its keys are not the cache's) keeps the prefix
// dynamic.
// SPEC: error: the prefix of a KV cache can be made static only when it is the key or value of a causal attention that is given the same position, without bias or with a relative position bias at that position (its mask then hides the unwritten cache slots); 'kiln.attention' reads it
func.func @decode(%x: tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.input = "x"},
                  %pos: tensor<1xi32> {kiln.input = "position"},
                  %bias: tensor<2x1x16xf32> {kiln.input = "bias"},
                  %cache: tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"})
    -> (tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.output = "y"},
        tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"}) {
  %c1, %keys = kiln.kv_cache_append %x into %cache[1] at %pos : tensor<?x1x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
  %b = tensor.cast %bias : tensor<2x1x16xf32> to tensor<2x1x?xf32>
  %y = kiln.attention %x, %keys, %keys bias(%b : tensor<2x1x?xf32>) position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>
  return %y, %c1 : tensor<?x1x8xf32>, tensor<2x?x16x8xf32>
}

// -----

// SCHED: error: entry point 'step': dispatch 'step_dispatch_1' reads state 'cache' after dispatch 'step_dispatch_0' wrote it in place; it would see the new value
func.func private @step_dispatch_0(%x: tensor<1x4xf32>, %c: tensor<8x4xf32>) -> tensor<8x4xf32> attributes {kiln_dispatch = "step"} {
  %u = tensor.insert_slice %x into %c[0, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<8x4xf32>
  return %u : tensor<8x4xf32>
}
func.func private @step_dispatch_1(%c: tensor<8x4xf32>) -> tensor<8x4xf32> attributes {kiln_dispatch = "step"} {
  return %c : tensor<8x4xf32>
}
func.func @step(%x: tensor<1x4xf32> {kiln.input = "x"}, %cache: tensor<8x4xf32> {kiln.state = "cache"})
    -> (tensor<8x4xf32> {kiln.output = "old"}, tensor<8x4xf32> {kiln.state = "cache"}) {
  %new = call @step_dispatch_0(%x, %cache) : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %old = call @step_dispatch_1(%cache) : (tensor<8x4xf32>) -> tensor<8x4xf32>
  return %old, %new : tensor<8x4xf32>, tensor<8x4xf32>
}

// -----

// A dispatch reading layer 0 of the state after another wrote layer 1 in place reads an old
// version of the state (the slab of %cache, not of %c1).
// SCHED: error: entry point 'step': dispatch 'step_dispatch_1' reads state 'cache' after dispatch 'step_dispatch_0' wrote it in place; it would see the new value
func.func private @step_dispatch_0(%x: tensor<1x4xf32>, %l: tensor<8x4xf32>) -> tensor<8x4xf32> attributes {kiln_dispatch = "step"} {
  %u = tensor.insert_slice %x into %l[0, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<8x4xf32>
  return %u : tensor<8x4xf32>
}
func.func private @step_dispatch_1(%l: tensor<8x4xf32>) -> tensor<8x4xf32> attributes {kiln_dispatch = "step"} {
  %e = tensor.empty() : tensor<8x4xf32>
  %c = linalg.copy ins(%l : tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %c : tensor<8x4xf32>
}
func.func @step(%x: tensor<1x4xf32> {kiln.input = "x"}, %cache: tensor<2x8x4xf32> {kiln.state = "cache"})
    -> (tensor<8x4xf32> {kiln.output = "old"}, tensor<2x8x4xf32> {kiln.state = "cache"}) {
  %s1 = tensor.extract_slice %cache[1, 0, 0] [1, 8, 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<8x4xf32>
  %n1 = call @step_dispatch_0(%x, %s1) : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %c1 = tensor.insert_slice %n1 into %cache[1, 0, 0] [1, 8, 4] [1, 1, 1] : tensor<8x4xf32> into tensor<2x8x4xf32>
  %s0 = tensor.extract_slice %cache[0, 0, 0] [1, 8, 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<8x4xf32>
  %old = call @step_dispatch_1(%s0) : (tensor<8x4xf32>) -> tensor<8x4xf32>
  return %old, %c1 : tensor<8x4xf32>, tensor<2x8x4xf32>
}

// -----

// A layer is put back into the state only where the dispatch updated it in place: here the
// append wrote layer 0 and the entry point writes it back as layer 1.
// SCHED: error: entry point 'step' puts a layer back into state 'cache' that no dispatch updated in place there
func.func private @step_dispatch_0(%x: tensor<1x4xf32>, %l: tensor<8x4xf32>) -> tensor<8x4xf32> attributes {kiln_dispatch = "step"} {
  %u = tensor.insert_slice %x into %l[0, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<8x4xf32>
  return %u : tensor<8x4xf32>
}
func.func @step(%x: tensor<1x4xf32> {kiln.input = "x"}, %cache: tensor<2x8x4xf32> {kiln.state = "cache"})
    -> (tensor<2x8x4xf32> {kiln.state = "cache"}) {
  %s0 = tensor.extract_slice %cache[0, 0, 0] [1, 8, 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<8x4xf32>
  %n0 = call @step_dispatch_0(%x, %s0) : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %c1 = tensor.insert_slice %n0 into %cache[1, 0, 0] [1, 8, 4] [1, 1, 1] : tensor<8x4xf32> into tensor<2x8x4xf32>
  return %c1 : tensor<2x8x4xf32>
}
