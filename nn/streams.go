package nn

// The one table of random stream purposes.
//
// Every random number of a run is element i of a stream {Seed, Stream}
// (see rand.go), and Stream = StreamID(purpose, index): the purpose says
// who draws, the index which draw. Two consumers can only see the same
// numbers if they share a purpose and an index, so each purpose below says
// how its index is laid out, and a new consumer gets a new purpose here
// rather than reusing one.
//
// Indices of random ops inside a compiled graph (package graph) are
// step<<16 | slot, where the slot (< 2¹⁶) is given to each random op of a
// model family by one allocator ([StreamSlots]), so that two ops of one run
// never share a stream; the seed GAN keeps the layouts it always had, so
// that its runs stay bit-identical (the "legacy" lines below).
const (
	// PurposeInit: parameter initialisation. Index = the tensor's number:
	// legacy bases 0 (seed G), 1000 (seed D), 2000 (reference classifier)
	// plus the tensor's position in its set; other families number all
	// their tensors consecutively from 1<<32 through one [InitStreams].
	PurposeInit = 1
	// PurposeNoise: the generator input z of training steps. Index = step
	// (legacy, seed GAN) or step<<16 | slot.
	PurposeNoise = 2
	// PurposeDropout: dropout masks. Index = step<<16 | slot; legacy (seed
	// GAN): (2·step + pass)<<8 | layer, pass 0 for the D step and 1 for the
	// G step, layer the position of the dropout in D's fused layer list (1
	// and 3); the reference classifier: step<<8 | layer.
	PurposeDropout = 3
	// PurposeShuffle: the permutation of the training set. Index = epoch.
	PurposeShuffle = 4
	// PurposeFixed: the fixed noise batch behind the per-epoch sample grids.
	// Index = 0.
	PurposeFixed = 5
	// PurposeSample: gan sample and gan eval. Index = chunk of 64 samples.
	PurposeSample = 6
	// PurposeRandom: any other random op of a graph (interpolation
	// coefficients, reparameterisation noise, binarisation, …). Index =
	// step<<16 | slot.
	PurposeRandom = 7
	// PurposeLabel: the class labels of a conditional model's generated
	// images in training, drawn on the host. Index = step.
	PurposeLabel = 8
	// PurposeLikelihood: the importance-sampling noise of a likelihood
	// evaluation (nn/likelihood). Index = run<<16 | slot, one run per chunk
	// of samples.
	PurposeLikelihood = 9
	// PurposeBinarize: the fixed binarisation of an evaluation set, drawn
	// on the host (pixel j of the set is 1 when uniform j < its grey
	// level). Index = 0.
	PurposeBinarize = 10
	// PurposeTextBlocks: the start positions of a text model's random
	// blocks, drawn on the host (nn/text). Index = step for the training
	// batches, 1<<40 | i for validation batch i of an evaluation.
	PurposeTextBlocks = 11
	// PurposeAugment: the reference classifier's training shifts. Index =
	// step.
	PurposeAugment = 0x100
	// PurposeEvalSubset: the evaluator's subsets of real data. Index = which
	// subset.
	PurposeEvalSubset = 0x101
)

// StepShift is the number of low bits of a graph random op's stream index
// that hold its slot; the training step fills the bits above.
const StepShift = 16

// StreamSlots hands out the slots of one model family's random ops, so
// that no two ops of a run share a stream. The zero value is ready to use.
type StreamSlots struct{ next uint64 }

// Next returns a fresh slot; it panics after 2¹⁶ slots (a model with that
// many random ops is a bug).
func (s *StreamSlots) Next() uint64 {
	if s.next >= 1<<StepShift {
		panic("nn: more than 65536 random ops in one model family")
	}
	s.next++
	return s.next - 1
}

// InitStreams numbers the parameter tensors of one model family for
// their initialisation streams: every tensor of every network of the
// family gets its own number. The zero value starts at 1<<32, above the
// legacy bases of the seed GAN and the classifier.
type InitStreams struct{ next uint64 }

// Next returns the next tensor number.
func (s *InitStreams) Next() uint64 {
	if s.next == 0 {
		s.next = 1 << 32
	}
	s.next++
	return s.next - 1
}

// StreamID packs a purpose (16 bits) and an index (48 bits) into a stream id.
func StreamID(purpose, index uint64) uint64 {
	return purpose<<48 | index&(1<<48-1)
}
