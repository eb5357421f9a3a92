package main

import "syscall/js"

// Error codes carried by the code property of every rejection. They are stable: pages and the
// TypeScript types (opa-reveal.d.ts) switch on them.
const (
	codeInvalidArgument      = "invalid_argument"      // a bad option, handle or argument
	codeUnknownKey           = "unknown_key"           // a Go key id that was destroyed or never existed
	codeDecryptFailed        = "decrypt_failed"        // any failure to decrypt; never says why
	codeNotExtractable       = "not_extractable"       // exporting a key not generated extractable
	codeWebCryptoUnavailable = "webcrypto_unavailable" // no crypto.subtle (not a secure context)
	codeClosed               = "closed"                // the module was closed
	codeUnsupported          = "unsupported"           // keys held in Go, in a module built without them
	codeInternal             = "internal"              // a recovered panic or an unexpected failure
)

// codedError is an error that becomes a JS Error with a code property.
type codedError struct {
	code string
	msg  string
}

func (e *codedError) Error() string { return e.msg }

// coded returns a codedError (the js build avoids fmt: it would add 100 KB to the module).
func coded(code, msg string) error {
	return &codedError{code: code, msg: "opa-reveal: " + msg}
}

func invalidArg(msg string) error { return coded(codeInvalidArgument, msg) }

// jsError converts err to a JS Error. Errors that are not codedErrors become "internal" with a
// generic message, so nothing unexpected leaks to the page.
func jsError(err error) js.Value {
	ce, ok := err.(*codedError)
	if !ok {
		ce = &codedError{code: codeInternal, msg: "opa-reveal: internal error"}
	}
	e := js.Global().Get("Error").New(ce.msg)
	e.Set("code", ce.code)
	return e
}

// makePromise runs f on its own goroutine (so f may wait for WebCrypto's Promises) and returns a
// Promise settled with its result: resolved with the value, or rejected with a JS Error carrying a
// code. A panic in f becomes an "internal" rejection. The executor js.Func is released as soon as
// the Promise constructor has called it (synchronously), so nothing is left behind.
func makePromise(f func() (any, error)) js.Value {
	executor := js.FuncOf(func(this js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject.Invoke(jsError(&codedError{code: codeInternal, msg: "opa-reveal: internal error"}))
				}
			}()
			res, err := f()
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(res)
		}()
		return nil
	})
	defer executor.Release()
	return js.Global().Get("Promise").New(executor)
}
