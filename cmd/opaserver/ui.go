package main

import (
	"net/http"
	"os"

	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/webui"
)

// uiMount serves the browser reveal demo (package webui) under /ui/, with the WASM assets read from
// dir (normally "wasm" after wasm/build.sh; without them the page loads but reveal is unavailable).
func uiMount(dir string) []httpapi.Option {
	var assets = os.DirFS(dir)
	return []httpapi.Option{httpapi.WithMount("/ui/", http.StripPrefix("/ui", webui.Handler(assets)))}
}
