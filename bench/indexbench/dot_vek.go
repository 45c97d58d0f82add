//go:build !purego

package main

const dotImpl = "vek32 (AVX2/FMA)"
