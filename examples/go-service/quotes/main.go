// quotes serves a quote as JSON on /, and /healthz.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"runtime"
)

var quotes = []string{
	"Simplicity is prerequisite for reliability.",
	"Make it work, make it right, make it fast.",
	"The cheapest, fastest, and most reliable components are those that aren't there.",
}

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	n := 0
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"quote": quotes[n%len(quotes)],
			"go":    runtime.Version(),
			"uid":   os.Getuid(),
		})
		n++
	})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
