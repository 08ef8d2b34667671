;; diffopt's elementwise arithmetic in WebAssembly SIMD (f64x2). Assembled by scripts/build-wasm.ts into
;; elementwise-module.ts; called by src/core/wasm/elementwise.ts, which copies the operands into this memory and
;; the result out (the copies are memcpy, far faster per element than a JavaScript loop over typed arrays).
;;
;; Each function computes c[i] = a[i] ∘ b[i] for i < n on contiguous arrays of doubles at byte offsets a, b, c:
;; pairs of doubles by f64x2 instructions, then the last one when n is odd. IEEE results are the same as the
;; scalar operation's, element by element.
(module
  (memory (export "memory") 1)

  ;; c[i] = a[i] + b[i] over n doubles.
  (func (export "add") (param $a i32) (param $b i32) (param $c i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $c) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (v128.store (local.get $c) (f64x2.add (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $pairs)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then (f64.store (local.get $c) (f64.add (f64.load (local.get $a)) (f64.load (local.get $b)))))))

  ;; c[i] = a[i] − b[i] over n doubles.
  (func (export "sub") (param $a i32) (param $b i32) (param $c i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $c) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (v128.store (local.get $c) (f64x2.sub (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $pairs)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then (f64.store (local.get $c) (f64.sub (f64.load (local.get $a)) (f64.load (local.get $b)))))))

  ;; c[i] = a[i] · b[i] over n doubles.
  (func (export "mul") (param $a i32) (param $b i32) (param $c i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $c) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (v128.store (local.get $c) (f64x2.mul (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $pairs)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then (f64.store (local.get $c) (f64.mul (f64.load (local.get $a)) (f64.load (local.get $b)))))))

  ;; c[i] = a[i] / b[i] over n doubles.
  (func (export "div") (param $a i32) (param $b i32) (param $c i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $c) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (v128.store (local.get $c) (f64x2.div (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $pairs)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then (f64.store (local.get $c) (f64.div (f64.load (local.get $a)) (f64.load (local.get $b)))))))
)
