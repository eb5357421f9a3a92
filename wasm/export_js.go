package main

import "unsafe"

// The decryption's Go step is a WebAssembly export, not a js.Func: opa-reveal.js calls
// opaRevealPrepare directly on the instance. A js.Func call goes through the Go runtime's event
// handling (a switch to the event goroutine and back, 50–100 µs in Chromium and node), a
// WebAssembly export call is a plain function call (well under a microsecond); and every Go wait
// for a WebCrypto Promise would cost a return to the event loop and a re-entry into the scheduler
// (about 0.25 ms). So Go parses and checks synchronously, and the JS side chains WebCrypto's
// Promises itself (BENCHMARKS.md, "Browser reveal helper").
//
// The exchange buffer carries the input (desc then the JWE, as bytes) in and the result out. Go's
// garbage collector does not move objects, so its address stays valid while the slice is
// referenced from this variable. JS is single-threaded and each call runs to completion, so no
// two calls overlap.
var exchange []byte //nolint:unused // used by the WebAssembly exports below, which the linter cannot see called

// opaRevealBuffer makes the exchange buffer at least n bytes long and returns its address in
// linear memory, for JS to write the input into.
//
//go:wasmexport opaRevealBuffer
func opaRevealBuffer(n int32) int32 { //nolint:unused // a WebAssembly export, called by opa-reveal.js
	if n < 1 {
		n = 1
	}
	if cap(exchange) < int(n) {
		exchange = make([]byte, n)
	}
	exchange = exchange[:n]
	return int32(uintptr(unsafe.Pointer(&exchange[0])))
}

// opaRevealPrepare runs prepare on the input JS wrote into the exchange buffer — descLen bytes of
// desc followed by jweLen bytes of the JWE — and leaves its result there: it returns the result's
// length (read it at opaRevealResult), or -1 for decrypt_failed, -2 for invalid_argument.
//
//go:wasmexport opaRevealPrepare
func opaRevealPrepare(descLen, jweLen int32) int32 { //nolint:unused // a WebAssembly export, called by opa-reveal.js
	if descLen < 0 || jweLen < 0 || int(descLen)+int(jweLen) > len(exchange) {
		return -2
	}
	desc := string(exchange[:descLen])
	jwe := string(exchange[descLen : descLen+jweLen])
	out, code := prepare(desc, jwe)
	switch code {
	case "":
	case codeDecryptFailed:
		return -1
	default:
		return -2
	}
	exchange = out
	return int32(len(out))
}

// opaRevealResult returns the address of opaRevealPrepare's result.
//
//go:wasmexport opaRevealResult
func opaRevealResult() int32 { //nolint:unused // a WebAssembly export, called by opa-reveal.js
	if len(exchange) == 0 {
		return 0
	}
	return int32(uintptr(unsafe.Pointer(&exchange[0])))
}
