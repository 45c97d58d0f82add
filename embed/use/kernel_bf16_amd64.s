//go:build amd64 && !purego

#include "textflag.h"

// The bfloat16 kernels use VDPBF16PS (AVX512_BF16), which the Go
// assembler does not know; DPBF16_LO (r < 8) and DPBF16_HI (r ≥ 8)
// encode it by hand:
//
//	VDPBF16PS Zr, Z16, [SI + 4·r]{1to16}
//
// EVEX.512.F3.0F38.W0 52 /r with an embedded 32-bit broadcast: 62, P0
// (inverted R for r ≥ 8, map 0F38), P1 (W0, vvvv = ¬16, pp = F3), P2
// (L'L = 512, b = broadcast, V' = ¬16's bit 4), opcode 52, ModRM (mod 01:
// a disp8 scaled by 4, reg = r mod 8, rm = SI: 0x46 | (r mod 8)<<3),
// disp8 = r. Each lane i of
// Zr gains Z16's bf16 pair (2i, 2i+1) times the bf16 pair at SI+4r,
// with float32 accumulation. The bytes were checked against GNU as.
#define DPBF16_LO(modrm, d8) BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x50; BYTE $0x52; BYTE $modrm; BYTE $d8
#define DPBF16_HI(modrm, d8) BYTE $0x62; BYTE $0x72; BYTE $0x7e; BYTE $0x50; BYTE $0x52; BYTE $modrm; BYTE $d8

// func kernel16x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)
//
// 16 rows times the bf16 panel p (kp pairs of rows of the weight matrix,
// each 16 columns × a bf16 pair) into c[0..15][0:16] (stride ldc floats),
// plus bias. a holds the rows' bf16 pairs k-pair major: a[kp*16+r] is row
// r's pair kp. One accumulator per row, summed in k order whatever the
// row count, so a row's result never depends on its neighbours.
TEXT ·kernel16x16BF16(SB), NOSPLIT, $0-48
	MOVQ kp+0(FP), CX
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

loopbf16:
	VMOVUPS (DI), Z16
	DPBF16_LO(0x46, 0x00) // VDPBF16PS Z0, Z16, 0(SI){1to16}
	DPBF16_LO(0x4e, 0x01) // VDPBF16PS Z1, Z16, 4(SI){1to16}
	DPBF16_LO(0x56, 0x02) // VDPBF16PS Z2, Z16, 8(SI){1to16}
	DPBF16_LO(0x5e, 0x03) // VDPBF16PS Z3, Z16, 12(SI){1to16}
	DPBF16_LO(0x66, 0x04) // VDPBF16PS Z4, Z16, 16(SI){1to16}
	DPBF16_LO(0x6e, 0x05) // VDPBF16PS Z5, Z16, 20(SI){1to16}
	DPBF16_LO(0x76, 0x06) // VDPBF16PS Z6, Z16, 24(SI){1to16}
	DPBF16_LO(0x7e, 0x07) // VDPBF16PS Z7, Z16, 28(SI){1to16}
	DPBF16_HI(0x46, 0x08) // VDPBF16PS Z8, Z16, 32(SI){1to16}
	DPBF16_HI(0x4e, 0x09) // VDPBF16PS Z9, Z16, 36(SI){1to16}
	DPBF16_HI(0x56, 0x0a) // VDPBF16PS Z10, Z16, 40(SI){1to16}
	DPBF16_HI(0x5e, 0x0b) // VDPBF16PS Z11, Z16, 44(SI){1to16}
	DPBF16_HI(0x66, 0x0c) // VDPBF16PS Z12, Z16, 48(SI){1to16}
	DPBF16_HI(0x6e, 0x0d) // VDPBF16PS Z13, Z16, 52(SI){1to16}
	DPBF16_HI(0x76, 0x0e) // VDPBF16PS Z14, Z16, 56(SI){1to16}
	DPBF16_HI(0x7e, 0x0f) // VDPBF16PS Z15, Z16, 60(SI){1to16}
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loopbf16

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

// func kernel12x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)
//
// 12 rows times the bf16 panel p (kp pairs of rows of the weight matrix,
// each 16 columns × a bf16 pair) into c[0..11][0:16] (stride ldc floats),
// plus bias. a holds the rows' bf16 pairs k-pair major: a[kp*12+r] is row
// r's pair kp. One accumulator per row, summed in k order whatever the
// row count, so a row's result never depends on its neighbours.
TEXT ·kernel12x16BF16(SB), NOSPLIT, $0-48
	MOVQ kp+0(FP), CX
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

loopbf12:
	VMOVUPS (DI), Z16
	DPBF16_LO(0x46, 0x00) // VDPBF16PS Z0, Z16, 0(SI){1to16}
	DPBF16_LO(0x4e, 0x01) // VDPBF16PS Z1, Z16, 4(SI){1to16}
	DPBF16_LO(0x56, 0x02) // VDPBF16PS Z2, Z16, 8(SI){1to16}
	DPBF16_LO(0x5e, 0x03) // VDPBF16PS Z3, Z16, 12(SI){1to16}
	DPBF16_LO(0x66, 0x04) // VDPBF16PS Z4, Z16, 16(SI){1to16}
	DPBF16_LO(0x6e, 0x05) // VDPBF16PS Z5, Z16, 20(SI){1to16}
	DPBF16_LO(0x76, 0x06) // VDPBF16PS Z6, Z16, 24(SI){1to16}
	DPBF16_LO(0x7e, 0x07) // VDPBF16PS Z7, Z16, 28(SI){1to16}
	DPBF16_HI(0x46, 0x08) // VDPBF16PS Z8, Z16, 32(SI){1to16}
	DPBF16_HI(0x4e, 0x09) // VDPBF16PS Z9, Z16, 36(SI){1to16}
	DPBF16_HI(0x56, 0x0a) // VDPBF16PS Z10, Z16, 40(SI){1to16}
	DPBF16_HI(0x5e, 0x0b) // VDPBF16PS Z11, Z16, 44(SI){1to16}
	ADDQ $48, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loopbf12

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

// func kernel8x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)
//
// 8 rows times the bf16 panel p (kp pairs of rows of the weight matrix,
// each 16 columns × a bf16 pair) into c[0..7][0:16] (stride ldc floats),
// plus bias. a holds the rows' bf16 pairs k-pair major: a[kp*8+r] is row
// r's pair kp. One accumulator per row, summed in k order whatever the
// row count, so a row's result never depends on its neighbours.
TEXT ·kernel8x16BF16(SB), NOSPLIT, $0-48
	MOVQ kp+0(FP), CX
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

loopbf8:
	VMOVUPS (DI), Z16
	DPBF16_LO(0x46, 0x00) // VDPBF16PS Z0, Z16, 0(SI){1to16}
	DPBF16_LO(0x4e, 0x01) // VDPBF16PS Z1, Z16, 4(SI){1to16}
	DPBF16_LO(0x56, 0x02) // VDPBF16PS Z2, Z16, 8(SI){1to16}
	DPBF16_LO(0x5e, 0x03) // VDPBF16PS Z3, Z16, 12(SI){1to16}
	DPBF16_LO(0x66, 0x04) // VDPBF16PS Z4, Z16, 16(SI){1to16}
	DPBF16_LO(0x6e, 0x05) // VDPBF16PS Z5, Z16, 20(SI){1to16}
	DPBF16_LO(0x76, 0x06) // VDPBF16PS Z6, Z16, 24(SI){1to16}
	DPBF16_LO(0x7e, 0x07) // VDPBF16PS Z7, Z16, 28(SI){1to16}
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loopbf8

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

// func kernel4x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)
//
// 4 rows times the bf16 panel p (kp pairs of rows of the weight matrix,
// each 16 columns × a bf16 pair) into c[0..3][0:16] (stride ldc floats),
// plus bias. a holds the rows' bf16 pairs k-pair major: a[kp*4+r] is row
// r's pair kp. One accumulator per row, summed in k order whatever the
// row count, so a row's result never depends on its neighbours.
TEXT ·kernel4x16BF16(SB), NOSPLIT, $0-48
	MOVQ kp+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ p+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R12
	MOVQ bias+40(FP), BX

	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

loopbf4:
	VMOVUPS (DI), Z16
	DPBF16_LO(0x46, 0x00) // VDPBF16PS Z0, Z16, 0(SI){1to16}
	DPBF16_LO(0x4e, 0x01) // VDPBF16PS Z1, Z16, 4(SI){1to16}
	DPBF16_LO(0x56, 0x02) // VDPBF16PS Z2, Z16, 8(SI){1to16}
	DPBF16_LO(0x5e, 0x03) // VDPBF16PS Z3, Z16, 12(SI){1to16}
	ADDQ $16, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loopbf4

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
