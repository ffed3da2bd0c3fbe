package fpgascore

import (
	_ "embed" // for the embedded ImageNet class names
	"strconv"
	"strings"
	"sync"
)

//go:embed imagenet_classes.txt
var imagenetClassesText string

var (
	labelsOnce sync.Once
	labelsList []string
)

func imagenetLabels() []string {
	labelsOnce.Do(func() {
		text := strings.TrimRight(strings.ReplaceAll(imagenetClassesText, "\r\n", "\n"), "\n")
		labelsList = strings.Split(text, "\n")
	})
	return labelsList
}

// NumClasses is the number of ImageNet classes the service scores (the width of a row).
const NumClasses = 1000

// Label returns the ImageNet class name of a class id (0-999), e.g. Label(1) == "goldfish",
// or "class N" when the id N is out of range (as in the Python and C# clients).
func Label(classID int) string {
	labels := imagenetLabels()
	if classID < 0 || classID >= len(labels) {
		return "class " + strconv.Itoa(classID)
	}
	return labels[classID]
}

// Labels returns a copy of the 1000 ImageNet class names, indexed by class id.
func Labels() []string {
	return append([]string(nil), imagenetLabels()...)
}
