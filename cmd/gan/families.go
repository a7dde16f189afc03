package main

// The model families of nn/models register themselves when imported; the
// seed GAN (models.go) and the conditional GAN (conditional.go) are
// imported where the command uses them by name.
import (
	_ "gan/nn/models/dcgan"    // registers the DCGAN
	_ "gan/nn/models/made"     // registers MADE
	_ "gan/nn/models/pixelcnn" // registers PixelCNN
	_ "gan/nn/models/vae"      // registers the VAEs (vae, conv-vae)
)
