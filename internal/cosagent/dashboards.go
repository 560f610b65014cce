package cosagent

import (
	"bytes"
	"crypto/sha3"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ulikunitz/xz"
)

// maxDashboardBytes bounds what DecompressDashboard inflates.
const maxDashboardBytes = 64 << 20

// CompressDashboard is cos-lib's LZMABase64.compress: xz (the .xz
// container Python's lzma.compress writes by default, CRC64 check) then
// standard base64.
func CompressDashboard(raw []byte) (string, error) {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		return "", fmt.Errorf("cannot compress dashboard: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return "", fmt.Errorf("cannot compress dashboard: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("cannot compress dashboard: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// DecompressDashboard is LZMABase64.decompress, as the requirer reads a
// dashboard.
func DecompressDashboard(encoded string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("cannot decompress dashboard: %w", err)
	}
	r, err := xz.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("cannot decompress dashboard: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDashboardBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot decompress dashboard: %w", err)
	}
	if len(out) > maxDashboardBytes {
		return nil, fmt.Errorf("cannot decompress dashboard: larger than %d bytes", maxDashboardBytes)
	}
	return out, nil
}

// DashboardUID is cos-lib's DashboardPath40UID.generate: the hex of 20
// bytes of SHAKE-256 of "<charm name>-<path relative to the charm folder>".
func DashboardUID(charmName, relPath string) string {
	return hex.EncodeToString(sha3.SumSHAKE256([]byte(charmName+"-"+relPath), 20))
}

// dashboards reads every file of each folder (relative to charmDir) as the
// cos_agent library's _dashboards does, sorted by name for a stable
// databag.
func dashboards(charmDir string, dirs []string, charmName string) ([]string, error) {
	var out []string
	for _, d := range dirs {
		entries, err := os.ReadDir(filepath.Join(charmDir, d))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read dashboards: %w", err)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			rel := filepath.ToSlash(filepath.Join(filepath.Clean(d), e.Name()))
			raw, err := os.ReadFile(filepath.Join(charmDir, rel))
			if err != nil {
				return nil, fmt.Errorf("cannot read dashboard %s: %w", rel, err)
			}
			doc, err := prepareDashboard(raw, charmName, rel)
			if err != nil {
				return nil, fmt.Errorf("cannot read dashboard %s: %w", rel, err)
			}
			enc, err := CompressDashboard(doc)
			if err != nil {
				return nil, err
			}
			out = append(out, enc)
		}
	}
	return out, nil
}

// prepareDashboard sets the uid and the charm tag, keeping the order of
// the top-level keys.
func prepareDashboard(raw []byte, charmName, rel string) ([]byte, error) {
	fields, err := orderedObject(raw)
	if err != nil {
		return nil, err
	}
	uid, _ := json.Marshal(DashboardUID(charmName, rel))
	fields = setField(fields, "uid", uid)
	var tags []string
	for _, f := range fields {
		if f.key == "tags" {
			if err := json.Unmarshal(f.value, &tags); err != nil {
				return nil, fmt.Errorf("tags: %w", err)
			}
		}
	}
	tagged := false
	for _, t := range tags {
		if strings.HasPrefix(t, "charm: ") {
			tagged = true
		}
	}
	if !tagged {
		tags = append(tags, "charm: "+charmName)
	}
	if tags == nil {
		tags = []string{}
	}
	tj, err := marshal(tags)
	if err != nil {
		return nil, err
	}
	fields = setField(fields, "tags", tj)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		k, err := marshal(f.key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteString(": ")
		if err := json.Compact(&b, f.value); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type field struct {
	key   string
	value json.RawMessage
}

func orderedObject(raw []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("a dashboard is a JSON object")
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = setField(out, key, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

// setField replaces key's value, or appends it.
func setField(fields []field, key string, v json.RawMessage) []field {
	for i := range fields {
		if fields[i].key == key {
			fields[i].value = v
			return fields
		}
	}
	return append(fields, field{key, v})
}

// marshal is json.Marshal without HTML escaping, as Python writes JSON.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
