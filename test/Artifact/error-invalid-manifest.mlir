// A module the runtime's manifest validation would refuse (two parameters mapped to one
// checkpoint tensor without being slices of it) does not become an artifact.
// RUN: rm -f %t.kc
// RUN: not kiln-export %s -o %t.kc 2>&1 | FileCheck %s -DFILE=%s
// RUN: not test -e %t.kc

// CHECK: [[FILE]]:[[# @LINE + 2]]:1: error: model 'm': parameter "b" and parameter "a" both map to hf_name "w.weight"{{.*}}
// CHECK-NOT: note: see current operation
module @m {
  kiln.param @a : tensor<4xf32> {hf_name = "w.weight", init = #kiln.init<ones>}
  kiln.param @b : tensor<4xf32> {hf_name = "w.weight", init = #kiln.init<ones>}
}
