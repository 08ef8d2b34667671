;; diffopt's GEMM micro-kernel in WebAssembly SIMD (f64x2). Assembled by scripts/build-wasm.ts into gemm-module.ts.
;;
;; P += Apacked · Bpacked on packed operands laid out by src/core/wasm/gemm.ts:
;;   A: row quads. Quad q holds rows 4q..4q+3 for every depth p, interleaved: A[q][p][r] at pa + ((q·k + p)·4 + r)·8
;;   B: column panels. Panel j holds columns 4j..4j+3 for every depth p: B[j][p][c] at pb + ((j·k + p)·4 + c)·8
;;   P: row-major, 4·mq rows of ldp doubles (ldp = 4·np), zeroed by the caller.
;; The loops block the depth into slabs of 256 and the panels into groups of 64 (a 256×256 slab of B, 512 KiB,
;; stays in L2) and, for each quad of rows and each panel, run a 4×4 register-blocked kernel: eight f64x2
;; accumulators, two loads of B and four broadcast loads of A per depth step, for 32 flops.
(module
  (memory (export "memory") 1)

  ;; The 4×4 tile: P[4 rows × 4 columns at pc, row stride ldpBytes] += Σ_{p<kb} A[·][p] ⊗ B[p][·].
  (func $tile (param $a i32) (param $b i32) (param $pc i32) (param $kb i32) (param $ldpBytes i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $end i32) (local $row i32)
    (local.set $end (i32.add (local.get $b) (i32.shl (local.get $kb) (i32.const 5))))
    (block $done
      (br_if $done (i32.ge_u (local.get $b) (local.get $end)))
      (loop $depth
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load64_splat offset=0 (local.get $a)))
        (local.set $c00 (f64x2.add (local.get $c00) (f64x2.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load64_splat offset=8 (local.get $a)))
        (local.set $c10 (f64x2.add (local.get $c10) (f64x2.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f64x2.add (local.get $c11) (f64x2.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load64_splat offset=16 (local.get $a)))
        (local.set $c20 (f64x2.add (local.get $c20) (f64x2.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f64x2.add (local.get $c21) (f64x2.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load64_splat offset=24 (local.get $a)))
        (local.set $c30 (f64x2.add (local.get $c30) (f64x2.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f64x2.add (local.get $c31) (f64x2.mul (local.get $x) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (i32.const 32)))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (br_if $depth (i32.lt_u (local.get $b) (local.get $end)))))
    ;; P tile += accumulators, row by row.
    (local.set $row (local.get $pc))
    (v128.store offset=0 (local.get $row) (f64x2.add (v128.load offset=0 (local.get $row)) (local.get $c00)))
    (v128.store offset=16 (local.get $row) (f64x2.add (v128.load offset=16 (local.get $row)) (local.get $c01)))
    (local.set $row (i32.add (local.get $row) (local.get $ldpBytes)))
    (v128.store offset=0 (local.get $row) (f64x2.add (v128.load offset=0 (local.get $row)) (local.get $c10)))
    (v128.store offset=16 (local.get $row) (f64x2.add (v128.load offset=16 (local.get $row)) (local.get $c11)))
    (local.set $row (i32.add (local.get $row) (local.get $ldpBytes)))
    (v128.store offset=0 (local.get $row) (f64x2.add (v128.load offset=0 (local.get $row)) (local.get $c20)))
    (v128.store offset=16 (local.get $row) (f64x2.add (v128.load offset=16 (local.get $row)) (local.get $c21)))
    (local.set $row (i32.add (local.get $row) (local.get $ldpBytes)))
    (v128.store offset=0 (local.get $row) (f64x2.add (v128.load offset=0 (local.get $row)) (local.get $c30)))
    (v128.store offset=16 (local.get $row) (f64x2.add (v128.load offset=16 (local.get $row)) (local.get $c31))))

  ;; P += A·B for mq row quads, depth k and np column panels (layouts above).
  (func (export "gemm") (param $pa i32) (param $pb i32) (param $pc i32) (param $mq i32) (param $k i32) (param $np i32)
    (local $p0 i32) (local $kb i32) (local $j0 i32) (local $jEnd i32) (local $q i32) (local $j i32)
    (local $ldpBytes i32) (local $quadBytes i32) (local $panelBytes i32)
    (local.set $ldpBytes (i32.shl (local.get $np) (i32.const 5)))      ;; 4·np doubles per row of P
    (local.set $quadBytes (i32.shl (local.get $k) (i32.const 5)))      ;; 4·k doubles per quad of A / panel of B
    (local.set $panelBytes (local.get $quadBytes))
    (block $pDone
      (loop $pLoop
        (br_if $pDone (i32.ge_u (local.get $p0) (local.get $k)))
        (local.set $kb (i32.sub (local.get $k) (local.get $p0)))
        (if (i32.gt_u (local.get $kb) (i32.const 256)) (then (local.set $kb (i32.const 256))))
        (local.set $j0 (i32.const 0))
        (block $jDone
          (loop $jLoop
            (br_if $jDone (i32.ge_u (local.get $j0) (local.get $np)))
            (local.set $jEnd (i32.add (local.get $j0) (i32.const 64)))
            (if (i32.gt_u (local.get $jEnd) (local.get $np)) (then (local.set $jEnd (local.get $np))))
            (local.set $q (i32.const 0))
            (block $qDone
              (loop $qLoop
                (br_if $qDone (i32.ge_u (local.get $q) (local.get $mq)))
                (local.set $j (local.get $j0))
                (block $panelDone
                  (loop $panelLoop
                    (br_if $panelDone (i32.ge_u (local.get $j) (local.get $jEnd)))
                    (call $tile
                      ;; A quad q at depth p0
                      (i32.add (local.get $pa)
                        (i32.add (i32.mul (local.get $q) (local.get $quadBytes)) (i32.shl (local.get $p0) (i32.const 5))))
                      ;; B panel j at depth p0
                      (i32.add (local.get $pb)
                        (i32.add (i32.mul (local.get $j) (local.get $panelBytes)) (i32.shl (local.get $p0) (i32.const 5))))
                      ;; P rows 4q.., columns 4j..
                      (i32.add (local.get $pc)
                        (i32.add (i32.mul (i32.shl (local.get $q) (i32.const 2)) (local.get $ldpBytes))
                          (i32.shl (local.get $j) (i32.const 5))))
                      (local.get $kb)
                      (local.get $ldpBytes))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $panelLoop)))
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (br $qLoop)))
            (local.set $j0 (local.get $jEnd))
            (br $jLoop)))
        (local.set $p0 (i32.add (local.get $p0) (i32.const 256)))
        (br $pLoop))))
)
