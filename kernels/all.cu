/* all.cu: the one translation unit that `make gpu` compiles into
   gpu/kernels.fatbin, so that one module holds every kernel. Each file
   below is one op family; see its opening comment. */
#include "matmul.cu"
#include "bias.cu"
#include "act.cu"
#include "dropout.cu"
#include "random.cu"
#include "loss.cu"
#include "adam.cu"
#include "gather.cu"
#include "reduce.cu"
#include "elementwise.cu"
#include "layernorm.cu"
#include "batchnorm.cu"
#include "conv.cu"
#include "attention.cu"
#include "fused.cu"
