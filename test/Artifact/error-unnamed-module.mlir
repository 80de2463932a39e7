// An artifact needs the model's name: a module without one is refused, naming the file.
// RUN: rm -f %t.kc
// RUN: not kiln-export %s -o %t.kc 2>&1 | FileCheck %s -DFILE=%s
// RUN: not test -e %t.kc

// CHECK: [[FILE]]:[[# @LINE + 1]]:1: error: the module has no name; the artifact needs the model's name (module @name)
module {
  kiln.param @w : tensor<4xf32> {init = #kiln.init<ones>}
}
