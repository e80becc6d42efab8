package main

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"os"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// What the two floors (nullprovider.go, sdkprovider.go) store for an attribute that only the
// provider can know (computed, and unknown in the plan). Both floors use these, so that their
// state entries hold the same bytes and the only difference left between them is the plugin
// library. The values are shaped like the real provider's on 6.x, so that the floors' state
// entries are as long as ours: Terraform core pays for every byte of state per resource.
func floorString(attribute string) string {
	switch {
	case attribute == "id" && os.Getenv(envFloorShape) == shapeCommunityLike:
		return floorUUID() // the community provider's id: the key itself
	case attribute == "id":
		return randomHex(32) // a 6.x id: the hex SHA-256 digest of the key
	default:
		return floorUUID() // a key, a 7.x name: UUID-shaped
	}
}

func floorUUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// floorValue is floorString's value for any primitive type: 0 and false for numbers and
// booleans, null for collections (a computed collection the floors cannot guess).
func floorValue(attribute string, typ tftypes.Type) tftypes.Value {
	switch {
	case typ.Is(tftypes.String):
		return tftypes.NewValue(typ, floorString(attribute))
	case typ.Is(tftypes.Number):
		return tftypes.NewValue(typ, big.NewFloat(0))
	case typ.Is(tftypes.Bool):
		return tftypes.NewValue(typ, false)
	default:
		return tftypes.NewValue(typ, nil)
	}
}

// fillUnknowns replaces every unknown value in v with floorValue, named by its attribute.
func fillUnknowns(v tftypes.Value) (tftypes.Value, error) {
	return tftypes.Transform(v, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if v.IsKnown() {
			return v, nil
		}
		name := ""
		if steps := p.Steps(); len(steps) > 0 {
			if a, ok := steps[len(steps)-1].(tftypes.AttributeName); ok {
				name = string(a)
			}
		}
		return floorValue(name, v.Type()), nil
	})
}
