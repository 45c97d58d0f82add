//go:build amd64 && !purego

#include "textflag.h"

// func kernel4x16FMA(k int, a *float32, lda int, p *float32, c *float32, ldc int, bias *float32)
//
// Rows a[0..3] (stride lda floats) times the packed panel p (k rows of 16
// float16 values) into c[0..3][0:16] (stride ldc floats), plus bias. Accumulators:
// Y0..Y7, two per row. Each output sums its products in k order with FMA.
TEXT ·kernel4x16FMA(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	MOVQ p+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R12
	MOVQ bias+48(FP), BX

	SHLQ $2, R11          // lda in bytes
	LEAQ (SI)(R11*1), R8  // row 1
	LEAQ (R8)(R11*1), R9  // row 2
	LEAQ (R9)(R11*1), R10 // row 3

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   AX, AX

loop:
	VCVTPH2PS    (DI), Y8
	VCVTPH2PS    16(DI), Y9
	VBROADCASTSS (SI)(AX*1), Y10
	VBROADCASTSS (R8)(AX*1), Y11
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (R9)(AX*1), Y12
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (R10)(AX*1), Y13
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         $4, AX
	ADDQ         $32, DI
	DECQ         CX
	JNZ          loop

	VMOVUPS (BX), Y8
	VMOVUPS 32(BX), Y9
	SHLQ    $2, R12 // ldc in bytes
	VADDPS  Y8, Y0, Y0
	VADDPS  Y9, Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    R12, DX
	VADDPS  Y8, Y2, Y2
	VADDPS  Y9, Y3, Y3
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ    R12, DX
	VADDPS  Y8, Y4, Y4
	VADDPS  Y9, Y5, Y5
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ    R12, DX
	VADDPS  Y8, Y6, Y6
	VADDPS  Y9, Y7, Y7
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func kernel4x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)
//
// 4 rows times the packed panel p (k rows of 16 float16 values) into
// c[0..3][0:16] (stride ldc floats), plus bias. a is the rows packed k
// major: a[kk*4+r] is row r's kk-th value. One accumulator per row; each
// output sums its products in k order with FMA, exactly as kernel4x16FMA.
TEXT ·kernel4x16AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ p+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R12
	MOVQ bias+40(FP), BX

	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

loop4:
	VCVTPH2PS (DI), Z16
	VFMADD231PS.BCST 0(SI), Z16, Z0
	VFMADD231PS.BCST 4(SI), Z16, Z1
	VFMADD231PS.BCST 8(SI), Z16, Z2
	VFMADD231PS.BCST 12(SI), Z16, Z3
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop4

	VMOVUPS (BX), Z16
	SHLQ    $2, R12 // ldc in bytes
	VADDPS Z16, Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z1, Z1
	VMOVUPS Z1, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z2, Z2
	VMOVUPS Z2, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z3, Z3
	VMOVUPS Z3, (DX)
	VZEROUPPER
	RET

// func kernel8x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)
//
// 8 rows times the packed panel p (k rows of 16 float16 values) into
// c[0..7][0:16] (stride ldc floats), plus bias. a is the rows packed k
// major: a[kk*8+r] is row r's kk-th value. One accumulator per row; each
// output sums its products in k order with FMA, exactly as kernel4x16FMA.
TEXT ·kernel8x16AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ p+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R12
	MOVQ bias+40(FP), BX

	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

loop8:
	VCVTPH2PS (DI), Z16
	VFMADD231PS.BCST 0(SI), Z16, Z0
	VFMADD231PS.BCST 4(SI), Z16, Z1
	VFMADD231PS.BCST 8(SI), Z16, Z2
	VFMADD231PS.BCST 12(SI), Z16, Z3
	VFMADD231PS.BCST 16(SI), Z16, Z4
	VFMADD231PS.BCST 20(SI), Z16, Z5
	VFMADD231PS.BCST 24(SI), Z16, Z6
	VFMADD231PS.BCST 28(SI), Z16, Z7
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop8

	VMOVUPS (BX), Z16
	SHLQ    $2, R12 // ldc in bytes
	VADDPS Z16, Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z1, Z1
	VMOVUPS Z1, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z2, Z2
	VMOVUPS Z2, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z3, Z3
	VMOVUPS Z3, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z4, Z4
	VMOVUPS Z4, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z5, Z5
	VMOVUPS Z5, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z6, Z6
	VMOVUPS Z6, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z7, Z7
	VMOVUPS Z7, (DX)
	VZEROUPPER
	RET

// func kernel12x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)
//
// 12 rows times the packed panel p (k rows of 16 float16 values) into
// c[0..11][0:16] (stride ldc floats), plus bias. a is the rows packed k
// major: a[kk*12+r] is row r's kk-th value. One accumulator per row; each
// output sums its products in k order with FMA, exactly as kernel4x16FMA.
TEXT ·kernel12x16AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ p+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R12
	MOVQ bias+40(FP), BX

	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11

loop12:
	VCVTPH2PS (DI), Z16
	VFMADD231PS.BCST 0(SI), Z16, Z0
	VFMADD231PS.BCST 4(SI), Z16, Z1
	VFMADD231PS.BCST 8(SI), Z16, Z2
	VFMADD231PS.BCST 12(SI), Z16, Z3
	VFMADD231PS.BCST 16(SI), Z16, Z4
	VFMADD231PS.BCST 20(SI), Z16, Z5
	VFMADD231PS.BCST 24(SI), Z16, Z6
	VFMADD231PS.BCST 28(SI), Z16, Z7
	VFMADD231PS.BCST 32(SI), Z16, Z8
	VFMADD231PS.BCST 36(SI), Z16, Z9
	VFMADD231PS.BCST 40(SI), Z16, Z10
	VFMADD231PS.BCST 44(SI), Z16, Z11
	ADDQ $48, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop12

	VMOVUPS (BX), Z16
	SHLQ    $2, R12 // ldc in bytes
	VADDPS Z16, Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z1, Z1
	VMOVUPS Z1, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z2, Z2
	VMOVUPS Z2, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z3, Z3
	VMOVUPS Z3, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z4, Z4
	VMOVUPS Z4, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z5, Z5
	VMOVUPS Z5, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z6, Z6
	VMOVUPS Z6, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z7, Z7
	VMOVUPS Z7, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z8, Z8
	VMOVUPS Z8, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z9, Z9
	VMOVUPS Z9, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z10, Z10
	VMOVUPS Z10, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z11, Z11
	VMOVUPS Z11, (DX)
	VZEROUPPER
	RET

// func kernel16x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)
//
// 16 rows times the packed panel p (k rows of 16 float16 values) into
// c[0..15][0:16] (stride ldc floats), plus bias. a is the rows packed k
// major: a[kk*16+r] is row r's kk-th value. One accumulator per row; each
// output sums its products in k order with FMA, exactly as kernel4x16FMA.
TEXT ·kernel16x16AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ p+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R12
	MOVQ bias+40(FP), BX

	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15

loop16:
	VCVTPH2PS (DI), Z16
	VFMADD231PS.BCST 0(SI), Z16, Z0
	VFMADD231PS.BCST 4(SI), Z16, Z1
	VFMADD231PS.BCST 8(SI), Z16, Z2
	VFMADD231PS.BCST 12(SI), Z16, Z3
	VFMADD231PS.BCST 16(SI), Z16, Z4
	VFMADD231PS.BCST 20(SI), Z16, Z5
	VFMADD231PS.BCST 24(SI), Z16, Z6
	VFMADD231PS.BCST 28(SI), Z16, Z7
	VFMADD231PS.BCST 32(SI), Z16, Z8
	VFMADD231PS.BCST 36(SI), Z16, Z9
	VFMADD231PS.BCST 40(SI), Z16, Z10
	VFMADD231PS.BCST 44(SI), Z16, Z11
	VFMADD231PS.BCST 48(SI), Z16, Z12
	VFMADD231PS.BCST 52(SI), Z16, Z13
	VFMADD231PS.BCST 56(SI), Z16, Z14
	VFMADD231PS.BCST 60(SI), Z16, Z15
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop16

	VMOVUPS (BX), Z16
	SHLQ    $2, R12 // ldc in bytes
	VADDPS Z16, Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z1, Z1
	VMOVUPS Z1, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z2, Z2
	VMOVUPS Z2, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z3, Z3
	VMOVUPS Z3, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z4, Z4
	VMOVUPS Z4, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z5, Z5
	VMOVUPS Z5, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z6, Z6
	VMOVUPS Z6, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z7, Z7
	VMOVUPS Z7, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z8, Z8
	VMOVUPS Z8, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z9, Z9
	VMOVUPS Z9, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z10, Z10
	VMOVUPS Z10, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z11, Z11
	VMOVUPS Z11, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z12, Z12
	VMOVUPS Z12, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z13, Z13
	VMOVUPS Z13, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z14, Z14
	VMOVUPS Z14, (DX)
	ADDQ R12, DX
	VADDPS Z16, Z15, Z15
	VMOVUPS Z15, (DX)
	VZEROUPPER
	RET

// func dotsFMA(q *float32, k *float32, ld int, n int, t int, out *float32)
//
// out[j] = Σ q[x]·k[j·ld+x] over x < n (a positive multiple of 16), for
// j < t (positive): attention's logits of one query, each summed in
// two 8-lane accumulators.
TEXT ·dotsFMA(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), R8
	MOVQ k+8(FP), DI
	MOVQ ld+16(FP), R9
	MOVQ n+24(FP), R10
	MOVQ t+32(FP), R11
	MOVQ out+40(FP), DX
	SHLQ $2, R9  // ld in bytes
	SHRQ $4, R10 // blocks of 16

dotsrow:
	MOVQ   R8, SI
	MOVQ   DI, AX
	MOVQ   R10, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

dotsloop:
	VMOVUPS     (SI), Y2
	VMOVUPS     32(SI), Y3
	VFMADD231PS (AX), Y2, Y0
	VFMADD231PS 32(AX), Y3, Y1
	ADDQ        $64, SI
	ADDQ        $64, AX
	DECQ        CX
	JNZ         dotsloop

	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, (DX)
	ADDQ         $4, DX
	ADDQ         R9, DI
	DECQ         R11
	JNZ          dotsrow
	VZEROUPPER
	RET

// func wsumFMA(out *float32, v *float32, ld int, n int, t int, w *float32)
//
// out[x] = Σ w[j]·v[j·ld+x] over j < t (positive), for x < n (a positive
// multiple of 32): attention's weighted values. Each output accumulates
// from 0 in j order with FMA.
TEXT ·wsumFMA(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ v+8(FP), DI
	MOVQ ld+16(FP), R9
	MOVQ n+24(FP), R10
	MOVQ t+32(FP), R11
	MOVQ w+40(FP), R8
	SHLQ $2, R9  // ld in bytes
	SHRQ $5, R10 // chunks of 32

wsumchunk:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   DI, AX
	MOVQ   R8, SI
	MOVQ   R11, CX

wsumloop:
	VBROADCASTSS (SI), Y4
	VFMADD231PS  (AX), Y4, Y0
	VFMADD231PS  32(AX), Y4, Y1
	VFMADD231PS  64(AX), Y4, Y2
	VFMADD231PS  96(AX), Y4, Y3
	ADDQ         $4, SI
	ADDQ         R9, AX
	DECQ         CX
	JNZ          wsumloop

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	ADDQ    $128, DX
	ADDQ    $128, DI
	DECQ    R10
	JNZ     wsumchunk
	VZEROUPPER
	RET
