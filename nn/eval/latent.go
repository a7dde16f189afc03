package eval

import (
	"fmt"
	"math"

	"gan/nn"
)

// SeedNoise returns the dim-wide generator input of image 0 of "gan
// sample --seed seed": elements 0…dim−1 of stream (PurposeSample, 0) of
// that seed. A latent walk between seeds therefore starts and ends on
// images that gan sample shows.
func SeedNoise(seed uint64, dim int) []float32 {
	key := nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeSample, 0)}
	z := make([]float32, dim)
	for i := range z {
		z[i] = key.Normal(uint64(i))
	}
	return z
}

// Slerp interpolates spherically between a and b at t in [0, 1]: along the
// great circle for the angle, linearly for the norm, which keeps the
// points at the norms Gaussian noise has (a straight line between two
// Gaussian vectors passes through unusually short ones). Nearly parallel
// vectors are interpolated linearly.
func Slerp(a, b []float32, t float64) []float32 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	na, nb = math.Sqrt(na), math.Sqrt(nb)
	out := make([]float32, len(a))
	cos := dot / (na * nb)
	if !(na > 0 && nb > 0) || cos > 0.9995 {
		for i := range a {
			out[i] = float32((1-t)*float64(a[i]) + t*float64(b[i]))
		}
		return out
	}
	omega := math.Acos(math.Max(-1, math.Min(1, cos)))
	s := math.Sin(omega)
	wa, wb := math.Sin((1-t)*omega)/s, math.Sin(t*omega)/s
	// Directions along the great circle, then the interpolated norm.
	norm := (1-t)*na + t*nb
	for i := range a {
		dir := wa*float64(a[i])/na + wb*float64(b[i])/nb
		out[i] = float32(norm * dir)
	}
	return out
}

// LatentWalk returns the generator inputs of a walk through the seeds'
// noise vectors: for each leg seeds[i] → seeds[i+1], frames+1 points at
// t = 0, 1/frames, …, 1. The result is legs·(frames+1) rows of dim values,
// one leg per row of a grid of frames+1 columns.
func LatentWalk(seeds []uint64, frames, dim int) ([]float32, error) {
	if len(seeds) < 2 {
		return nil, fmt.Errorf("latent walk: %d seeds, need at least 2", len(seeds))
	}
	if frames < 1 {
		return nil, fmt.Errorf("latent walk: %d frames per leg, need at least 1", frames)
	}
	out := make([]float32, 0, (len(seeds)-1)*(frames+1)*dim)
	for i := 0; i+1 < len(seeds); i++ {
		a, b := SeedNoise(seeds[i], dim), SeedNoise(seeds[i+1], dim)
		for k := 0; k <= frames; k++ {
			out = append(out, Slerp(a, b, float64(k)/float64(frames))...)
		}
	}
	return out, nil
}
