package opa

import _ "embed"

// DemoFixture is the demo fixture document (testdata/fixtures/demo.json; format in
// docs/fixtures.md) that cmd/opaserver loads when started without -fixtures. Load it with package
// fixture. It holds well-known demo credentials: never use it for anything but a local fake.
//
//go:embed testdata/fixtures/demo.json
var DemoFixture []byte
