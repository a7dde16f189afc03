package mnist

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The four original MNIST files; see data/README.md for their origin.
//
//go:embed data/*.gz
var embedded embed.FS

// fashionDir is where Debian's dataset-fashion-mnist package installs the
// Fashion-MNIST files. Tests point it elsewhere.
var fashionDir = "/usr/share/datasets/fashion-mnist"

// Dataset names accepted by [Load].
const (
	DatasetMNIST   = "mnist"
	DatasetFashion = "fashion"
)

// splitPrefix is the file name prefix of the training or the test split.
func splitPrefix(train bool) string {
	if train {
		return "train"
	}
	return "t10k"
}

// splitName is the human-readable name of a split.
func splitName(train bool) string {
	if train {
		return "train"
	}
	return "test"
}

// Embedded returns the MNIST training set (60000 images) or test set (10000
// images) embedded in the binary. Each call decompresses and checks the files
// afresh and returns a Set that the caller owns.
func Embedded(train bool) (*Set, error) {
	prefix := splitPrefix(train)
	imgName := prefix + "-images-idx3-ubyte.gz"
	lblName := prefix + "-labels-idx1-ubyte.gz"
	img, err := embedded.Open("data/" + imgName)
	if err != nil {
		return nil, fmt.Errorf("mnist: embedded %s: %w", imgName, err)
	}
	defer img.Close()
	lbl, err := embedded.Open("data/" + lblName)
	if err != nil {
		return nil, fmt.Errorf("mnist: embedded %s: %w", lblName, err)
	}
	defer lbl.Close()
	n, rows, cols, pix, err := ReadImages(imgName, img)
	if err != nil {
		return nil, err
	}
	labels, err := ReadLabels(lblName, lbl)
	if err != nil {
		return nil, err
	}
	return newSet("mnist-"+splitName(train)+" (embedded)", n, rows, cols, pix, labels, imgName, lblName)
}

// Load resolves the command line's --dataset and --data flags. dataset is
// "mnist" (also the meaning of "") or "fashion". dir == "" selects the
// built-in source: the embedded files for mnist, and the files installed by
// Debian's dataset-fashion-mnist package for fashion. Otherwise Load reads
// train-images-idx3-ubyte and train-labels-idx1-ubyte (t10k-* when train is
// false) from dir, each either gzip-compressed with a .gz suffix or raw
// without one; when both are present the .gz file is read.
func Load(dataset, dir string, train bool) (*Set, error) {
	switch dataset {
	case "", DatasetMNIST:
		if dir == "" {
			return Embedded(train)
		}
		return loadDir(dir, train)
	case DatasetFashion:
		if dir != "" {
			return loadDir(dir, train)
		}
		s, err := loadDir(fashionDir, train)
		var nf *notFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("fashion-mnist not found in %s: install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or pass --data DIR", fashionDir)
		}
		return s, err
	default:
		return nil, fmt.Errorf("mnist: unknown dataset %q: want %q or %q", dataset, DatasetMNIST, DatasetFashion)
	}
}

// notFoundError reports an idx file that is in neither of its two forms in
// a directory. It matches [fs.ErrNotExist] under [errors.Is].
type notFoundError struct {
	dir, base string
}

// Error names the directory and both file names that were looked for.
func (e *notFoundError) Error() string {
	return fmt.Sprintf("mnist: %s not found in %s: looked for %s.gz and %s", e.base, e.dir, e.base, e.base)
}

// Unwrap returns fs.ErrNotExist.
func (e *notFoundError) Unwrap() error { return fs.ErrNotExist }

// loadDir reads one split from the idx files in dir.
func loadDir(dir string, train bool) (*Set, error) {
	prefix := splitPrefix(train)
	imgPath, err := findIdx(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lblPath, err := findIdx(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	return LoadFiles(imgPath, lblPath)
}

// findIdx returns the path of base in dir, as base.gz or as base (tried in
// that order), or a *notFoundError that names both.
func findIdx(dir, base string) (string, error) {
	for _, name := range []string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("mnist: %w", err)
		}
	}
	return "", &notFoundError{dir: dir, base: base}
}
