package fpgascore

import (
	"fmt"
	"sort"
)

// Prediction is one class of a top-k list: its ImageNet class id, its label and its score.
type Prediction struct {
	// ClassID is the ImageNet class id, 0-999.
	ClassID int
	// Label is the class name, e.g. "goldfish".
	Label string
	// Score is the softmax score of the class, in [0, 1].
	Score float32
}

// String formats the prediction as "label (id) score".
func (p Prediction) String() string {
	return fmt.Sprintf("%s (%d) %.5f", p.Label, p.ClassID, p.Score)
}

// Scores holds the class scores of a call: a row of scores per image, flattened row after
// row in Values, with Shape [rows, classes] (normally [N, 1000]).
type Scores struct {
	// Values holds the scores, row-major: Values[i*Shape[1]+c] is the score of class c for
	// image i.
	Values []float32
	// Shape is [rows, classes].
	Shape []int64
}

// Len returns the number of rows (images).
func (s *Scores) Len() int {
	if s == nil || len(s.Shape) == 0 {
		return 0
	}
	return int(s.Shape[0])
}

// Width returns the number of scores per row (classes).
func (s *Scores) Width() int {
	if s == nil || len(s.Shape) < 2 {
		if s != nil && len(s.Shape) == 1 {
			return len(s.Values)
		}
		return 0
	}
	return int(s.Shape[1])
}

// Row returns the scores of image i (a slice of Values, not a copy). It panics when i is
// out of range, like a slice index.
func (s *Scores) Row(i int) []float32 {
	if i < 0 || i >= s.Len() {
		panic(fmt.Sprintf("fpgascore: row %d out of range [0, %d)", i, s.Len()))
	}
	w := s.Width()
	return s.Values[i*w : (i+1)*w : (i+1)*w]
}

// DefaultTopK is the number of classes a top-k shows by default in every fpgascore client
// and command line (Go has no default arguments: pass it to TopK).
const DefaultTopK = 5

// TopK returns the k best classes of the first image, best first (ties: lower class id
// first). For a batch, use RowTopK.
func (s *Scores) TopK(k int) []Prediction {
	if s.Len() == 0 {
		return nil
	}
	return TopK(s.Row(0), k)
}

// RowTopK returns the k best classes of image i, best first.
func (s *Scores) RowTopK(i, k int) []Prediction {
	return TopK(s.Row(i), k)
}

// TopK returns the k best entries of one row of scores, best first (ties: lower class id
// first; NaN last), with their ImageNet labels. k larger than the row is the whole row;
// k <= 0 is none.
func TopK(row []float32, k int) []Prediction {
	if k <= 0 || len(row) == 0 {
		return nil
	}
	if k > len(row) {
		k = len(row)
	}
	ids := make([]int, len(row))
	for i := range ids {
		ids[i] = i
	}
	// Best first; NaN scores last, so the order stays a strict weak ordering.
	sort.SliceStable(ids, func(a, b int) bool {
		va, vb := row[ids[a]], row[ids[b]]
		if va != va || vb != vb { // NaN
			return vb != vb && va == va
		}
		return va > vb
	})
	out := make([]Prediction, k)
	for i := 0; i < k; i++ {
		id := ids[i]
		out[i] = Prediction{ClassID: id, Label: Label(id), Score: row[id]}
	}
	return out
}
