package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"gan/nn/eval"
	"gan/nn/mnist"
)

func init() {
	register(command{"classifier", "train or test the reference classifier of gan eval: classifier train|test", runClassifier})
}

func runClassifier(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: gan classifier train [flags]   retrain the reference classifier's weights from a seed\n       gan classifier test [flags]    measure a classifier on the test set")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usagef("classifier: want a subcommand, train or test")
	}
	switch args[0] {
	case "train":
		return runClassifierTrain(args[1:], stdout, stderr)
	case "test":
		return runClassifierTest(args[1:], stdout, stderr)
	}
	return usagef("classifier: unknown subcommand %q (want train or test)", args[0])
}

func runClassifierTrain(args []string, stdout, stderr io.Writer) error {
	def := eval.DefaultTrainConfig()
	fs := newFlagSet("classifier train", stderr)
	dataset := fs.String("dataset", "mnist", "mnist or fashion")
	data := fs.String("data", "", "directory with the idx files (default: the built-in source of the dataset)")
	epochs := fs.Int("epochs", def.Epochs, "number of epochs")
	batch := fs.Int("batch", def.Batch, "batch size")
	lr := fs.Float64("lr", float64(def.LR), "Adam learning rate of the first epoch")
	decay := fs.Float64("decay", float64(def.Decay), "learning-rate factor applied after each epoch")
	shift := fs.Int("shift", def.Shift, "largest random translation of training images, in pixels")
	seed := fs.Uint64("seed", def.Seed, "seed of init, shuffle, dropout and augmentation")
	steps := fs.Int("steps", 0, "stop after this many steps (0: all epochs)")
	device := fs.String("device", "cpu", "cpu, cuda or auto")
	out := fs.String("out", "", "weights file to write (default: DATASET-mlp.safetensors; the shipped ones are nn/eval/"+eval.WeightsFile("DATASET")+")")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dataset != "mnist" && *dataset != "fashion" {
		return usagef("--dataset %q: must be mnist or fashion", *dataset)
	}
	cfg := eval.TrainConfig{Epochs: *epochs, Batch: *batch, LR: float32(*lr), Decay: float32(*decay), Shift: *shift, Seed: *seed, Steps: *steps}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	if *out == "" {
		*out = *dataset + "-mlp.safetensors"
	}
	train, err := mnist.Load(*dataset, *data, true)
	if err != nil {
		return err
	}
	test, err := mnist.Load(*dataset, *data, false)
	if err != nil {
		return err
	}
	b, err := openDevice(*device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "training the %s classifier (%s) on %s: %d images, %d epochs of batch %d, lr %g decaying ×%g per epoch, shifts ±%d px, seed %d\n",
		*dataset, eval.ClassifierArch, b.Name(), train.N, cfg.Epochs, cfg.Batch, cfg.LR, cfg.Decay, cfg.Shift, cfg.Seed)
	start := time.Now()
	c, err := eval.Train(b, train, test, *dataset, cfg, func(s eval.EpochStats) error {
		fmt.Fprintf(stdout, "epoch %2d/%d  lr %.2e  loss %.4f  train acc %.2f%%  test acc %.2f%%  (%.0f s)\n",
			s.Epoch, s.Epochs, s.LR, s.Loss, 100*s.TrainAcc, 100*s.TestAcc, time.Since(start).Seconds())
		return nil
	})
	if err != nil {
		return err
	}
	defer c.Free()
	meta := map[string]string{"command": "gan classifier train " + strings.Join(args, " ")}
	t, err := c.Tensors(meta)
	if err != nil {
		return err
	}
	for k, v := range c.Meta {
		t.Meta[k] = v
	}
	if err := t.WriteFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: test accuracy %.2f%% on %s images\n", *out, 100*c.TestAccuracy(), t.Meta["test_images"])
	return nil
}

func runClassifierTest(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("classifier test", stderr)
	dataset := fs.String("dataset", "mnist", "mnist or fashion")
	data := fs.String("data", "", "directory with the idx files (default: the built-in source of the dataset)")
	weights := fs.String("weights", "", "weights file (default: the shipped classifier of the dataset)")
	device := fs.String("device", "cpu", "cpu, cuda or auto")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dataset != "mnist" && *dataset != "fashion" {
		return usagef("--dataset %q: must be mnist or fashion", *dataset)
	}
	test, err := mnist.Load(*dataset, *data, false)
	if err != nil {
		return err
	}
	b, err := openDevice(*device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	c, err := eval.LoadClassifier(b, *dataset, *weights, 1000)
	if err != nil {
		return err
	}
	defer c.Free()
	o, err := c.Run(test.Float32())
	if err != nil {
		return err
	}
	acc := o.Accuracy(test.Labels)
	fmt.Fprintf(stdout, "%s classifier on %s: accuracy %.2f%% (%d images)", *dataset, test.Name, 100*acc, test.N)
	if rec := c.TestAccuracy(); !math.IsNaN(rec) {
		fmt.Fprintf(stdout, "; recorded at training: %.2f%%", 100*rec)
	}
	fmt.Fprintln(stdout)
	return nil
}
