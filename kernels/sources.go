package kernels

import "embed"

// Sources are the CUDA sources of this directory. Embedding them makes the
// go command rebuild the package (and the packages importing it) when a .cu
// or .cuh file changes: it does not track the files that C code includes.
//
//go:embed *.cu *.cuh
var Sources embed.FS
