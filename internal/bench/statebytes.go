package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// The bytes one resource instance adds to terraform.tfstate, by field, as Terraform writes
// them: json.MarshalIndent with two spaces, the instance object at depth 4 (root, resources,
// resource, instances), so each of its fields is on lines indented by 10 spaces and each
// attribute by 12. Terraform rewrites the whole file after every resource with local state
// (and compares it, marshalled twice more, with the previous one), so every byte here is paid
// once per resource per resource.

type fieldBytes struct {
	Field string
	Bytes int
}

// instanceBytes breaks down the instance at index i of the first resource in a state file.
func instanceBytes(statePath string, i int) ([]fieldBytes, int, error) {
	data, err := os.ReadFile(statePath)
	if err != nil {
		return nil, 0, err
	}
	var st struct {
		Resources []struct {
			Instances []json.RawMessage `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, 0, err
	}
	if len(st.Resources) == 0 || len(st.Resources[0].Instances) <= i {
		return nil, 0, fmt.Errorf("%s: no instance %d", statePath, i)
	}
	raw := st.Resources[0].Instances[i]
	keys, vals, err := orderedObject(raw)
	if err != nil {
		return nil, 0, err
	}
	var out []fieldBytes
	total := len("        {\n") + len("        },\n")
	for j, k := range keys {
		if k == "attributes" {
			akeys, avals, err := orderedObject(vals[j])
			if err != nil {
				return nil, 0, err
			}
			opening := len(`          "attributes": {`+"\n") + len("          },\n")
			out = append(out, fieldBytes{"attributes: braces", opening})
			total += opening
			for n, ak := range akeys {
				b := fieldLen(ak, avals[n], 12)
				out = append(out, fieldBytes{"attributes." + ak, b})
				total += b
			}
			continue
		}
		b := fieldLen(k, vals[j], 10)
		out = append(out, fieldBytes{k, b})
		total += b
	}
	return out, total, nil
}

// fieldLen is the bytes of `"key": value,\n` at the given indentation, as MarshalIndent writes it.
func fieldLen(key string, val json.RawMessage, indent int) int {
	prefix := strings.Repeat(" ", indent)
	var buf bytes.Buffer
	if err := json.Indent(&buf, val, prefix, "  "); err != nil {
		return 0
	}
	return indent + len(fmt.Sprintf("%q: ", key)) + buf.Len() + len(",\n")
}

// orderedObject splits a JSON object into its keys and values, in order.
func orderedObject(raw json.RawMessage) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	var vals []json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, nil
}
