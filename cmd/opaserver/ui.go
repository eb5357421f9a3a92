package main

import "github.com/opakit/opa/httpapi"

// uiMount returns the option that serves the browser reveal demo under /ui/, once the WASM UI
// handler package exists; until then the server has no /ui/.
func uiMount() []httpapi.Option { return nil }
