package main

import (
	"fmt"
	"syscall/js"
)

// Error codes carried by the code property of every rejection.
const (
	codeInvalidArgument = "invalid_argument"
	codeUnknownKey      = "unknown_key"
	codeDecryptFailed   = "decrypt_failed"
	codeInternal        = "internal"
)

// codedError is an error that becomes a JS Error with a code property.
type codedError struct {
	code string
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func invalidArg(format string, args ...any) error {
	return &codedError{code: codeInvalidArgument, msg: fmt.Sprintf(format, args...)}
}

// jsError converts err to a JS Error. Errors that are not codedErrors become "internal" with a
// generic message, so nothing unexpected leaks to the page.
func jsError(err error) js.Value {
	ce, ok := err.(*codedError)
	if !ok {
		ce = &codedError{code: codeInternal, msg: "opaReveal: internal error"}
	}
	e := js.Global().Get("Error").New(ce.msg)
	e.Set("code", ce.code)
	return e
}

// makePromise runs f on its own goroutine and returns a Promise settled with its result: resolved
// with the value, or rejected with a JS Error carrying a code. A panic in f becomes an "internal"
// rejection. The executor js.Func is released as soon as the Promise constructor has called it (the
// constructor calls it synchronously), so nothing is left behind.
func makePromise(f func() (any, error)) js.Value {
	executor := js.FuncOf(func(this js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject.Invoke(jsError(&codedError{code: codeInternal, msg: "opaReveal: internal error"}))
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
