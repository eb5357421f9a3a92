//go:build !js

package revealjwe

import (
	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
)

// classInvalid reports whether err carries the module's invalid-input class, as native builds'
// errors do (so the engine answers 400).
func classInvalid(err error) bool { return errors.Is(err, errclass.Invalid) }
