//go:build purego

package main

const dotImpl = "Go loop (unrolled)"
