package serve

import (
	_ "embed"
	"net/http"
)

// page is the explorer at /: one HTML file with its script and style
// inline, no external assets.
//
//go:embed page.html
var page []byte

// pageCSP forbids the page anything but itself and the API.
const pageCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'"

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(page)
}
