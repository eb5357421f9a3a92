// Command encrypt is a test helper for the node interop test: it reads a JSON array of
// {"jwk": <public JWK>, "plaintext": "<string>"} from stdin and writes a JSON array of
// {"jwe": "<compact JWE from revealjwe.Encrypt>"} or {"error": "invalid_key"} to stdout.
package main

import (
	"encoding/json"
	"log"
	"os"

	"github.com/opakit/opa/revealjwe"
)

type request struct {
	JWK       json.RawMessage `json:"jwk"`
	Plaintext string          `json:"plaintext"`
}

type response struct {
	JWE   string `json:"jwe,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	var reqs []request
	if err := json.NewDecoder(os.Stdin).Decode(&reqs); err != nil {
		log.Fatalf("encrypt: reading requests: %v", err)
	}
	out := make([]response, len(reqs))
	for i, r := range reqs {
		pub, err := revealjwe.ParsePublicKey(r.JWK)
		if err != nil {
			out[i].Error = "invalid_key"
			continue
		}
		jwe, err := revealjwe.Encrypt(pub, []byte(r.Plaintext))
		if err != nil {
			log.Fatalf("encrypt: %v", err)
		}
		out[i].JWE = jwe
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		log.Fatalf("encrypt: writing: %v", err)
	}
}
