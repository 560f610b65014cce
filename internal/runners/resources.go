package runners

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Resources are what each runner instance gets.
type Resources struct {
	CPU    int   // cores (limits.cpu)
	Memory int64 // bytes (limits.memory)
	Disk   int64 // bytes (root disk size)
}

// Size units, in bytes.
const (
	KiB int64 = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var sizeRe = regexp.MustCompile(`^([0-9]+)\s*([KMGT]?)(i?B)?$`)

// ErrInvalidSize is wrapped by every ParseSize error.
var ErrInvalidSize = errors.New("invalid size")

// ParseSize reads the charm's size syntax: a whole number and a unit, as
// `512MiB`, `7GiB`, `1TiB`, the decimal `MB`/`GB`/`TB` (taken as the binary
// units, as LXD does for its short forms) or LXD's short `M`/`G`/`T`. A plain
// number is refused: a size without a unit is almost always a mistake.
func ParseSize(s string) (int64, error) {
	m := sizeRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || m[2] == "" {
		return 0, fmt.Errorf("%w %q: want a number and a unit, such as 512MiB or 7GiB", ErrInvalidSize, s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %v", ErrInvalidSize, s, err)
	}
	unit := map[string]int64{"K": KiB, "M": MiB, "G": GiB, "T": TiB}[m[2]]
	if n > (1<<62)/unit {
		return 0, fmt.Errorf("%w %q: too large", ErrInvalidSize, s)
	}
	return n * unit, nil
}

// FormatSize writes bytes in LXD's binary form (`7GiB`, `512MiB`), exact.
func FormatSize(b int64) string {
	for _, u := range []struct {
		n    int64
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b >= u.n && b%u.n == 0 {
			return strconv.FormatInt(b/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(b, 10) + "B"
}

// Minimums per instance type.
const (
	MinMemoryVM        = 1 * GiB
	MinMemoryContainer = 64 * MiB
	MinDisk            = 64 * MiB
)

// Validate checks r for an instance type ("virtual-machine" or "container").
func (r Resources) Validate(instanceType string) error {
	var errs []error
	if r.CPU < 1 {
		errs = append(errs, fmt.Errorf("cpu %d: at least 1", r.CPU))
	}
	minMem := MinMemoryContainer
	if instanceType == "virtual-machine" {
		minMem = MinMemoryVM
	}
	if r.Memory < minMem {
		errs = append(errs, fmt.Errorf("memory %s: at least %s for a %s", FormatSize(r.Memory), FormatSize(minMem), instanceType))
	}
	if r.Disk < MinDisk {
		errs = append(errs, fmt.Errorf("disk %s: at least %s", FormatSize(r.Disk), FormatSize(MinDisk)))
	}
	return errors.Join(errs...)
}

var labelRe = regexp.MustCompile(`^[\w\-]+$`)

// ParseLabels splits a comma list of runner labels, trimming spaces and
// dropping empty items. Each label must be letters, digits, `_` or `-`.
func ParseLabels(s string) ([]string, error) {
	var labels []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, ",") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if !labelRe.MatchString(l) {
			return nil, fmt.Errorf("invalid label %q: use letters, digits, _ and -", l)
		}
		if !seen[strings.ToLower(l)] {
			seen[strings.ToLower(l)] = true
			labels = append(labels, l)
		}
	}
	return labels, nil
}
