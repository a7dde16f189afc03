package main

// The model families of nn/models register themselves when imported; the
// seed GAN (models.go) and the conditional GAN (conditional.go) are
// imported where the command uses them by name.
import (
	_ "gan/nn/models/dcgan" // registers the DCGAN
)
