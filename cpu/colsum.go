package cpu

import "gan/nn"

// colSumRowBlock is the number of rows whose column sums ColSum (and the
// fused ops ending in one) accumulates on its own: a taller matrix is cut
// into blocks of this many rows, summed in parallel, each column of a
// block in float64 from its first row to its last, and the blocks' sums
// are added in block order. The order depends on the shape alone, so the
// result does not depend on the worker count; a matrix of at most this
// many rows is one block (every layer of the seed GAN and the VAE).
const colSumRowBlock = 2048

// colStage is the elementwise stage a rowBlockSumJob runs on each chunk of
// rows before adding the chunk's result to the block's column sums.
type colStage uint8

const (
	stageNone             colStage = iota // sum dy itself (ColSum)
	stageActBackward                      // out = dy·act′(ya) (ActBackwardColSum)
	stageAxpbyActBackward                 // out = α·a + β·(dy·act′(ya)) (AxpbyActBackward with db)
)

// rowBlockSumJob does row blocks [lo, hi): the stage on each chunk of a
// block's rows, writing out, then the chunk's columns added into the
// block's float64 sums in part (cols per block).
type rowBlockSumJob struct {
	stage       colStage
	out, dy, ya []float32 // out is dy itself for stageNone
	a           []float32
	alpha, beta float32
	act         nn.Act
	rows, cols  int
	part        []float64
}

func (j *rowBlockSumJob) run(lo, hi int) {
	var d [fusedChunk]float32
	step := max(1, min(colSumRows, fusedChunk/j.cols)) // rows per chunk
	for blk := lo; blk < hi; blk++ {
		part := j.part[blk*j.cols : (blk+1)*j.cols]
		clear(part)
		r1 := min(j.rows, (blk+1)*colSumRowBlock)
		for r := blk * colSumRowBlock; r < r1; r += step {
			e0, e1 := r*j.cols, min(r+step, r1)*j.cols
			switch j.stage {
			case stageActBackward:
				actBackSlice(j.out[e0:e1], j.dy[e0:e1], j.ya[e0:e1], j.act)
			case stageAxpbyActBackward:
				axpbyActBackSlice(j.out[e0:e1], j.a[e0:e1], j.dy[e0:e1], j.ya[e0:e1], j.alpha, j.beta, j.act, &d)
			}
			addColSums(part, j.out[e0:], min(step, r1-r), j.cols, 0)
		}
	}
}

// rowBlockSums runs j over the row blocks of a j.rows × j.cols matrix and
// stores the column sums into db (fl(beta·db) added when beta ≠ 0).
func (b *Backend) rowBlockSums(j *rowBlockSumJob, db []float32, beta float32) {
	blocks := (j.rows + colSumRowBlock - 1) / colSumRowBlock
	j.part = b.scratch(blocks * j.cols)
	b.parallel(blocks, colSumRowBlock*j.cols, j)
	for c := range j.cols {
		var s float64
		for blk := range blocks {
			s += j.part[blk*j.cols+c]
		}
		if beta == 0 {
			db[c] = float32(s)
		} else {
			db[c] = float32(beta*db[c]) + float32(s)
		}
	}
}
