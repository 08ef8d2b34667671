;; diffopt's elementwise arithmetic in WebAssembly SIMD (f64x2). Assembled by scripts/build-wasm.ts into
;; elementwise-module.ts; called by src/core/wasm/elementwise.ts, which copies the operands into this memory and
;; the result out (the copies are memcpy, far faster per element than a JavaScript loop over typed arrays).
;;
;; Each arithmetic function computes c[i] = a[i] ∘ b[i] for i < n on contiguous arrays of doubles at byte offsets
;; a, b, c: pairs of doubles by f64x2 instructions, then the last one when n is odd. IEEE results are the same as
;; the scalar operation's, element by element. `tanh` computes c[i] = tanh(a[i]) the same way, within 2 ulp.
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

  ;; e^y − 1 in both lanes for y in [1, 44] (or NaN), to about one ulp: y = k·ln2 + r with k = round(y/ln2) ≥ 1 and
  ;; |r| ≤ ln2/2, ln2 split into a head of 32 significant bits (so k·head is exact, and y − k·head too) and a tail;
  ;; e^r − 1 = r + r²·Q(r), Q(r) = Σ r^i/(i + 2)! for i ≤ 11, its Taylor series to degree 13 (the first term left
  ;; out is below 0.1 ulp); then e^y − 1 = 2^k·(e^r − 1) + (2^k − 1), where the product is exact and 2^k − 1 exact
  ;; up to k = 53. From y = 1.1 on, k ≥ 2 wherever r < 0, so the sum cancels at most half of 2^k·(e^r − 1).
  ;; Q is evaluated by Estrin's scheme (pairs a + b·r, then pairs of pairs with r², r⁴, r⁸): four dependent
  ;; multiply–adds instead of Horner's eleven, so consecutive elements overlap in the pipeline.
  (func $expm1 (param $y v128) (result v128)
    (local $k v128) (local $r v128) (local $r2 v128) (local $r4 v128) (local $s v128)
    (local.set $k (f64x2.nearest (f64x2.mul (local.get $y) (f64x2.splat (f64.const 0x1.71547652b82fep+0))))) ;; 1/ln2
    (local.set $r (f64x2.sub
      (f64x2.sub (local.get $y) (f64x2.mul (local.get $k) (f64x2.splat (f64.const 0x1.62e42fee00000p-1)))) ;; head
      (f64x2.mul (local.get $k) (f64x2.splat (f64.const 0x1.a39ef35793c76p-33))))) ;; tail
    (local.set $r2 (f64x2.mul (local.get $r) (local.get $r)))
    (local.set $r4 (f64x2.mul (local.get $r2) (local.get $r2)))
    ;; 2^k: k + 1023 in the exponent field.
    (local.set $s (i64x2.shl
      (i64x2.add (i64x2.extend_low_i32x4_s (i32x4.trunc_sat_f64x2_s_zero (local.get $k))) (i64x2.splat (i64.const 1023)))
      (i32.const 52)))
    (f64x2.add
      (f64x2.mul (local.get $s)
        (f64x2.add (local.get $r) (f64x2.mul (local.get $r2)
          ;; Q(r) = (q0..q3) + r⁴·(q4..q7) + r⁸·(q8..q11), each group (qi + qi+1·r) + r²·(qi+2 + qi+3·r).
          (f64x2.add
            (f64x2.add
              (f64x2.add
                (f64x2.add (f64x2.splat (f64.const 0x1.0000000000000p-1)) ;; 1/2!
                  (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0x1.5555555555555p-3)))) ;; 1/3!
                (f64x2.mul (local.get $r2)
                  (f64x2.add (f64x2.splat (f64.const 0x1.5555555555555p-5)) ;; 1/4!
                    (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0x1.1111111111111p-7)))))) ;; 1/5!
              (f64x2.mul (local.get $r4)
                (f64x2.add
                  (f64x2.add (f64x2.splat (f64.const 0x1.6c16c16c16c17p-10)) ;; 1/6!
                    (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0x1.a01a01a01a01ap-13)))) ;; 1/7!
                  (f64x2.mul (local.get $r2)
                    (f64x2.add (f64x2.splat (f64.const 0x1.a01a01a01a01ap-16)) ;; 1/8!
                      (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0x1.71de3a556c734p-19)))))))) ;; 1/9!
            (f64x2.mul (f64x2.mul (local.get $r4) (local.get $r4))
              (f64x2.add
                (f64x2.add (f64x2.splat (f64.const 0x1.27e4fb7789f5cp-22)) ;; 1/10!
                  (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0x1.ae64567f544e4p-26)))) ;; 1/11!
                (f64x2.mul (local.get $r2)
                  (f64x2.add (f64x2.splat (f64.const 0x1.1eed8eff8d898p-29)) ;; 1/12!
                    (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0x1.6124613a86d09p-33))))))))))) ;; 1/13!
      (f64x2.sub (local.get $s) (f64x2.splat (f64.const 1)))))

  ;; tanh(x) in both lanes, within 2 ulp of the exact value (and never further from Math.tanh, the C library's, than
  ;; 3 ulp: it is itself up to 2 ulp off). With c = min(|x|, 22):
  ;;   c < 0.55: c + c·u·P(u), u = c², P the degree-10 polynomial nearest to (tanh(c)/c − 1)/u on [0, 0.55²]
  ;;             (Chebyshev fit, error below 0.05 ulp; evaluated by Estrin's scheme like Q above): the correction
  ;;             c·u·P(u) is below a tenth of c, so its rounding errors shrink tenfold, and tiny c (subnormal too)
  ;;             come out exact;
  ;;   c ≥ 0.55: 1 − 2/(t + 2) with t = e^(2c) − 1, which damps the error of t by 2/(t + 2) ≤ 1/2, and is 1 from
  ;;             c = 22 on (the clamp keeps t finite, so ±∞ gives ±1).
  ;; Each formula is computed only when one of the two lanes needs it. The sign of x is put back last: ±0 keeps its
  ;; sign, and NaN stays NaN (it takes the second formula).
  (func $tanh (param $x v128) (result v128)
    (local $c v128) (local $u v128) (local $u2 v128) (local $u4 v128) (local $small v128) (local $near v128)
    (local $far v128)
    (local.set $c (f64x2.min (f64x2.abs (local.get $x)) (f64x2.splat (f64.const 22))))
    (local.set $small (f64x2.lt (local.get $c) (f64x2.splat (f64.const 0.55))))
    (if (v128.any_true (local.get $small))
      (then
        (local.set $u (f64x2.mul (local.get $c) (local.get $c)))
        (local.set $u2 (f64x2.mul (local.get $u) (local.get $u)))
        (local.set $u4 (f64x2.mul (local.get $u2) (local.get $u2)))
        (local.set $near (f64x2.add (local.get $c) (f64x2.mul (local.get $c) (f64x2.mul (local.get $u)
          ;; P(u) = (p0..p3) + u⁴·(p4..p7) + u⁸·(p8..p10).
          (f64x2.add
            (f64x2.add
              (f64x2.add
                (f64x2.add (f64x2.splat (f64.const -0x1.5555555555555p-2))
                  (f64x2.mul (local.get $u) (f64x2.splat (f64.const 0x1.1111111111032p-3))))
                (f64x2.mul (local.get $u2)
                  (f64x2.add (f64x2.splat (f64.const -0x1.ba1ba1b9fec84p-5))
                    (f64x2.mul (local.get $u) (f64x2.splat (f64.const 0x1.664f487713373p-6))))))
              (f64x2.mul (local.get $u4)
                (f64x2.add
                  (f64x2.add (f64x2.splat (f64.const -0x1.226e32f00cf0cp-7))
                    (f64x2.mul (local.get $u) (f64x2.splat (f64.const 0x1.d6d339333f329p-9))))
                  (f64x2.mul (local.get $u2)
                    (f64x2.add (f64x2.splat (f64.const -0x1.7d97cfd138c28p-10))
                      (f64x2.mul (local.get $u) (f64x2.splat (f64.const 0x1.34c5a8a996cd4p-11))))))))
            (f64x2.mul (f64x2.mul (local.get $u4) (local.get $u4))
              (f64x2.add
                (f64x2.add (f64x2.splat (f64.const -0x1.ec1091436eb2ap-13))
                  (f64x2.mul (local.get $u) (f64x2.splat (f64.const 0x1.64fd88e9900a5p-14))))
                (f64x2.mul (local.get $u2) (f64x2.splat (f64.const -0x1.59a834187ce22p-16))))))))))))
    (if (i32.eqz (i64x2.all_true (local.get $small)))
      (then
        (local.set $far (f64x2.sub (f64x2.splat (f64.const 1))
          (f64x2.div (f64x2.splat (f64.const 2))
            (f64x2.add (call $expm1 (f64x2.add (local.get $c) (local.get $c))) (f64x2.splat (f64.const 2))))))))
    (v128.or
      (v128.bitselect (local.get $near) (local.get $far) (local.get $small))
      (v128.and (local.get $x) (f64x2.splat (f64.const -0x0p+0)))))

  ;; c[i] = tanh(a[i]) over n doubles (WebAssembly has no tanh instruction, and JavaScript's Math.tanh costs a call
  ;; into the runtime per element).
  (func (export "tanh") (param $a i32) (param $c i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $c) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (v128.store (local.get $c) (call $tanh (v128.load (local.get $a))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $pairs)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then (f64.store (local.get $c) (f64x2.extract_lane 0 (call $tanh (v128.load64_zero (local.get $a))))))))
)
