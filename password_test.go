package opa_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"

	"github.com/opakit/opa"
)

// passwordPolicy returns a policy of lengths min..max with the character classes co.
func passwordPolicy(min, max int, co opa.PasswordCharacterOptions) opa.ProjectPasswordPolicy {
	return opa.ProjectPasswordPolicy{MinLengthInBytes: min, MaxLengthInBytes: max, CharacterOptions: co}
}

func TestGeneratePasswordRejectsBadPolicies(t *testing.T) {
	lower := opa.PasswordCharacterOptions{LowerCase: true}
	tests := []struct {
		name string
		pol  opa.ProjectPasswordPolicy
	}{
		{"no class", passwordPolicy(10, 10, opa.PasswordCharacterOptions{})},
		{"too short", passwordPolicy(4, 10, lower)},
		{"min above max", passwordPolicy(20, 10, lower)},
		{"too long", passwordPolicy(10, 1000, lower)},
		{"all digits excluded", passwordPolicy(10, 10, opa.PasswordCharacterOptions{Digits: true,
			ExcludeCertainSymbols: strings.Split("0123456789", "")})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := opa.GeneratePassword(rand.Reader, tc.pol); !errors.Is(err, opa.ErrInvalid) {
				t.Fatalf("got %v, want invalid", err)
			}
		})
	}
	if _, err := opa.GeneratePassword(bytes.NewReader(nil), opa.DefaultPasswordPolicy()); err == nil {
		t.Fatal("an exhausted random source gave a password")
	}
}

// TestGeneratePasswordProperty: every generated password has a length in [min, max], only
// characters of enabled classes, at least one of each enabled class, and no excluded symbol.
func TestGeneratePasswordProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pol := opa.PasswordCharacterOptions{
			UpperCase: rapid.Bool().Draw(t, "upper"), LowerCase: rapid.Bool().Draw(t, "lower"),
			Digits: rapid.Bool().Draw(t, "digits"), Punctuation: rapid.Bool().Draw(t, "punct"),
		}
		if !pol.UpperCase && !pol.LowerCase && !pol.Digits && !pol.Punctuation {
			pol.LowerCase = true
		}
		pol.ExcludeCertainSymbols = rapid.SliceOfDistinct(rapid.SampledFrom(strings.Split("!@#$%^&*0O1lI", "")), rapid.ID[string]).Draw(t, "exclude")
		minLen := rapid.IntRange(opa.MinPasswordLength, 64).Draw(t, "min")
		maxLen := rapid.IntRange(minLen, 80).Draw(t, "max")
		pw, err := opa.GeneratePassword(rand.Reader, passwordPolicy(minLen, maxLen, pol))
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) < minLen || len(pw) > maxLen {
			t.Fatalf("length %d outside [%d, %d]", len(pw), minLen, maxLen)
		}
		classes := map[string]bool{
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ":         pol.UpperCase,
			"abcdefghijklmnopqrstuvwxyz":         pol.LowerCase,
			"0123456789":                         pol.Digits,
			"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~": pol.Punctuation,
		}
		for set, on := range classes {
			has := strings.ContainsAny(pw, set)
			if has && !on {
				t.Fatalf("contains characters of a disabled class %q", set)
			}
			avail := strings.Map(func(r rune) rune {
				for _, x := range pol.ExcludeCertainSymbols {
					if string(r) == x {
						return -1
					}
				}
				return r
			}, set)
			if on && avail != "" && !has {
				t.Fatalf("no character of the enabled class %q", set)
			}
		}
		for _, x := range pol.ExcludeCertainSymbols {
			if strings.Contains(pw, x) {
				t.Fatalf("contains the excluded symbol %q", x)
			}
		}
	})
}
