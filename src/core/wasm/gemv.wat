;; diffopt's matrix–vector kernels in WebAssembly SIMD (f64x2). Assembled by scripts/build-wasm.ts into
;; gemv-module.ts; called by src/core/wasm/gemv.ts, which copies the operands into this memory.
;;
;; A is row-major, m rows of n doubles, contiguous at pa. x and y are contiguous vectors.
;;   gemv_n: y[i]  = Σ_j A[i][j]·x[j]   (y of length m, overwritten)
;;   gemv_t: y[j] += Σ_i A[i][j]·x[i]   (y of length n, accumulated: the caller zeroes it)
;;   ger:    A[i][j] += x[i]·y[j]        (the rank-1 update, e.g. the outer product of a matmul's gradient)
;; Both are bound by memory traffic (each entry of A is read once for two flops), so they work on four rows of A
;; at a time: gemv_n reads each pair of x once for four rows, gemv_t loads and stores each pair of y once for four
;; rows. Remaining rows go one at a time (dot, axpy).
(module
  (memory (export "memory") 1)

  ;; Σ_j a[j]·b[j] over n doubles: two f64x2 accumulators, then a scalar tail.
  (func $dot (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $s0 v128) (local $s1 v128) (local $end i32) (local $s f64)
    ;; The pairs of pairs: j < n − n mod 4.
    (local.set $end (i32.add (local.get $a) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 3))))
    (block $done4
      (loop $by4
        (br_if $done4 (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $s0 (f64x2.add (local.get $s0)
          (f64x2.mul (v128.load offset=0 (local.get $a)) (v128.load offset=0 (local.get $b)))))
        (local.set $s1 (f64x2.add (local.get $s1)
          (f64x2.mul (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 32)))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (br $by4)))
    (local.set $s0 (f64x2.add (local.get $s0) (local.get $s1)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))))
    ;; The last n mod 4 entries.
    (local.set $end (i32.add (local.get $a) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 3))))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $s (f64.add (local.get $s) (f64.mul (f64.load (local.get $a)) (f64.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 8)))
        (local.set $b (i32.add (local.get $b) (i32.const 8)))
        (br $tail)))
    (local.get $s))

  ;; y[j] += alpha·x[j] over n doubles.
  (func $axpy (export "axpy") (param $alpha f64) (param $x i32) (param $y i32) (param $n i32)
    (local $a v128) (local $end i32)
    (local.set $a (f64x2.splat (local.get $alpha)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done2
      (loop $by2
        (br_if $done2 (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $y)
          (f64x2.add (v128.load (local.get $y)) (f64x2.mul (local.get $a) (v128.load (local.get $x)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br $by2)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then (f64.store (local.get $y)
        (f64.add (f64.load (local.get $y)) (f64.mul (local.get $alpha) (f64.load (local.get $x))))))))

  ;; y = A·x.
  (func (export "gemv_n") (param $pa i32) (param $px i32) (param $py i32) (param $m i32) (param $n i32)
    (local $rowBytes i32) (local $i i32) (local $j i32) (local $pairs i32) (local $r i32) (local $xj v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $xs f64)
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 3)))
    (local.set $pairs (i32.shl (i32.shr_u (local.get $n) (i32.const 1)) (i32.const 4))) ;; bytes of the even part
    ;; Four rows at a time: s_r accumulates row r against x, pair by pair.
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
        (local.set $s0 (v128.const i64x2 0 0))
        (local.set $s1 (v128.const i64x2 0 0))
        (local.set $s2 (v128.const i64x2 0 0))
        (local.set $s3 (v128.const i64x2 0 0))
        (local.set $r (local.get $pa))
        (local.set $j (i32.const 0))
        (block $pairsDone
          (loop $pairLoop
            (br_if $pairsDone (i32.ge_u (local.get $j) (local.get $pairs)))
            (local.set $xj (v128.load (i32.add (local.get $px) (local.get $j))))
            (local.set $s0 (f64x2.add (local.get $s0)
              (f64x2.mul (v128.load (i32.add (local.get $r) (local.get $j))) (local.get $xj))))
            (local.set $s1 (f64x2.add (local.get $s1)
              (f64x2.mul (v128.load (i32.add (i32.add (local.get $r) (local.get $rowBytes)) (local.get $j)))
                (local.get $xj))))
            (local.set $s2 (f64x2.add (local.get $s2)
              (f64x2.mul
                (v128.load (i32.add (i32.add (local.get $r) (i32.shl (local.get $rowBytes) (i32.const 1))) (local.get $j)))
                (local.get $xj))))
            (local.set $s3 (f64x2.add (local.get $s3)
              (f64x2.mul
                (v128.load (i32.add (i32.add (local.get $r) (i32.mul (local.get $rowBytes) (i32.const 3))) (local.get $j)))
                (local.get $xj))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $pairLoop)))
        ;; Odd n: the last column.
        (if (i32.and (local.get $n) (i32.const 1))
          (then
            (local.set $xs (f64.load (i32.add (local.get $px) (local.get $pairs))))
            (local.set $j (i32.add (local.get $r) (local.get $pairs)))
            (local.set $s0 (f64x2.add (local.get $s0)
              (f64x2.replace_lane 0 (v128.const i64x2 0 0) (f64.mul (f64.load (local.get $j)) (local.get $xs)))))
            (local.set $j (i32.add (local.get $j) (local.get $rowBytes)))
            (local.set $s1 (f64x2.add (local.get $s1)
              (f64x2.replace_lane 0 (v128.const i64x2 0 0) (f64.mul (f64.load (local.get $j)) (local.get $xs)))))
            (local.set $j (i32.add (local.get $j) (local.get $rowBytes)))
            (local.set $s2 (f64x2.add (local.get $s2)
              (f64x2.replace_lane 0 (v128.const i64x2 0 0) (f64.mul (f64.load (local.get $j)) (local.get $xs)))))
            (local.set $j (i32.add (local.get $j) (local.get $rowBytes)))
            (local.set $s3 (f64x2.add (local.get $s3)
              (f64x2.replace_lane 0 (v128.const i64x2 0 0) (f64.mul (f64.load (local.get $j)) (local.get $xs)))))))
        (f64.store offset=0 (local.get $py)
          (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))))
        (f64.store offset=8 (local.get $py)
          (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1))))
        (f64.store offset=16 (local.get $py)
          (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2))))
        (f64.store offset=24 (local.get $py)
          (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3))))
        (local.set $pa (i32.add (local.get $pa) (i32.shl (local.get $rowBytes) (i32.const 2))))
        (local.set $py (i32.add (local.get $py) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads)))
    ;; The last m mod 4 rows.
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $m)))
        (f64.store (local.get $py) (call $dot (local.get $pa) (local.get $px) (local.get $n)))
        (local.set $pa (i32.add (local.get $pa) (local.get $rowBytes)))
        (local.set $py (i32.add (local.get $py) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; y += Aᵀ·x.
  (func (export "gemv_t") (param $pa i32) (param $px i32) (param $py i32) (param $m i32) (param $n i32)
    (local $rowBytes i32) (local $i i32) (local $j i32) (local $pairs i32) (local $r i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $yj i32)
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 3)))
    (local.set $pairs (i32.shl (i32.shr_u (local.get $n) (i32.const 1)) (i32.const 4)))
    ;; Four rows at a time: y[j..j+1] += x_0·A[0][j..j+1] + … + x_3·A[3][j..j+1].
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
        (local.set $x0 (v128.load64_splat offset=0 (local.get $px)))
        (local.set $x1 (v128.load64_splat offset=8 (local.get $px)))
        (local.set $x2 (v128.load64_splat offset=16 (local.get $px)))
        (local.set $x3 (v128.load64_splat offset=24 (local.get $px)))
        (local.set $j (i32.const 0))
        (block $pairsDone
          (loop $pairLoop
            (br_if $pairsDone (i32.ge_u (local.get $j) (local.get $pairs)))
            (local.set $r (i32.add (local.get $pa) (local.get $j)))
            (local.set $yj (i32.add (local.get $py) (local.get $j)))
            (v128.store (local.get $yj)
              (f64x2.add
                (f64x2.add
                  (v128.load (local.get $yj))
                  (f64x2.add
                    (f64x2.mul (local.get $x0) (v128.load (local.get $r)))
                    (f64x2.mul (local.get $x1) (v128.load (i32.add (local.get $r) (local.get $rowBytes))))))
                (f64x2.add
                  (f64x2.mul (local.get $x2)
                    (v128.load (i32.add (local.get $r) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                  (f64x2.mul (local.get $x3)
                    (v128.load (i32.add (local.get $r) (i32.mul (local.get $rowBytes) (i32.const 3))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $pairLoop)))
        ;; Odd n: the last column.
        (if (i32.and (local.get $n) (i32.const 1))
          (then
            (local.set $r (i32.add (local.get $pa) (local.get $pairs)))
            (local.set $yj (i32.add (local.get $py) (local.get $pairs)))
            (f64.store (local.get $yj)
              (f64.add (f64.load (local.get $yj))
                (f64.add
                  (f64.add
                    (f64.mul (f64x2.extract_lane 0 (local.get $x0)) (f64.load (local.get $r)))
                    (f64.mul (f64x2.extract_lane 0 (local.get $x1))
                      (f64.load (i32.add (local.get $r) (local.get $rowBytes)))))
                  (f64.add
                    (f64.mul (f64x2.extract_lane 0 (local.get $x2))
                      (f64.load (i32.add (local.get $r) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                    (f64.mul (f64x2.extract_lane 0 (local.get $x3))
                      (f64.load (i32.add (local.get $r) (i32.mul (local.get $rowBytes) (i32.const 3)))))))))))
        (local.set $pa (i32.add (local.get $pa) (i32.shl (local.get $rowBytes) (i32.const 2))))
        (local.set $px (i32.add (local.get $px) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads)))
    ;; The last m mod 4 rows.
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $m)))
        (call $axpy (f64.load (local.get $px)) (local.get $pa) (local.get $py) (local.get $n))
        (local.set $pa (i32.add (local.get $pa) (local.get $rowBytes)))
        (local.set $px (i32.add (local.get $px) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))
;; A += x·yᵀ: one axpy per row of A.
  (func (export "ger") (param $pa i32) (param $px i32) (param $py i32) (param $m i32) (param $n i32)
    (local $rowBytes i32) (local $end i32)
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 3)))
    (local.set $end (i32.add (local.get $px) (i32.shl (local.get $m) (i32.const 3))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $px) (local.get $end)))
        (call $axpy (f64.load (local.get $px)) (local.get $py) (local.get $pa) (local.get $n))
        (local.set $pa (i32.add (local.get $pa) (local.get $rowBytes)))
        (local.set $px (i32.add (local.get $px) (i32.const 8)))
        (br $rows))))
)
