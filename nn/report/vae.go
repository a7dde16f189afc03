package report

import (
	"bytes"
	"html/template"
	"image/png"
)

// Picture is one image of a section of the report, with its caption.
type Picture struct {
	Title   string
	Caption string
	PNG     []byte
	// Plot marks a chart drawn at its own resolution; other pictures are
	// grids of digits, shown with their pixels doubled.
	Plot bool
}

// URI is the picture as a data: URI for an <img> element.
func (p Picture) URI() template.URL { return dataURI(p.PNG) }

// DisplayWidth is the width the page shows the picture at, in CSS pixels:
// a grid's pixels doubled (as the sample grids), a chart at its own size,
// both at most 1200; 0 when the PNG cannot be read (the browser sizes it).
func (p Picture) DisplayWidth() int {
	cfg, err := png.DecodeConfig(bytes.NewReader(p.PNG))
	if err != nil {
		return 0
	}
	if p.Plot {
		return min(cfg.Width, 1200)
	}
	return min(2*cfg.Width, 1200)
}

// Figure is one row of a table of figures: a name, its value and a note.
type Figure struct {
	Name, Value, Note string
}

// VAE is the section of a variational autoencoder's run: its likelihood
// figures on the test set and its pictures (reconstructions, samples,
// interpolation, and for a 2-D latent the manifold and the latent codes).
type VAE struct {
	// Intro is a sentence on the model and the data of the figures.
	Intro string
	// Likelihood holds the −ELBO and importance-weighted figures; empty
	// when they were not measured (LikelihoodNote says why).
	Likelihood     []Figure
	LikelihoodNote string
	Pictures       []Picture
}

// vaeTemplate is the VAE section of the report's page, empty for other
// models.
var vaeTemplate = template.Must(pageTemplate.New("vae").Parse(`{{with .VAE}}
<h2>Variational autoencoder</h2>
<p class="sub">{{.Intro}}</p>
{{if .Likelihood}}<table class="eval" id="vae-likelihood">
<tr><th>figure (nats per image)</th><th>value</th><th>note</th></tr>
{{range .Likelihood}}<tr><td>{{.Name}}</td><td>{{.Value}}</td><td class="remark">{{.Note}}</td></tr>
{{end}}</table>{{end}}
{{with .LikelihoodNote}}<p class="sub">{{.}}</p>{{end}}
<div class="pictures">
{{range .Pictures}}<figure class="picture"><img class="{{if .Plot}}plot-img{{else}}pix-img{{end}}" src="{{.URI}}"{{with .DisplayWidth}} width="{{.}}"{{end}} alt="{{.Title}}">
<figcaption><b>{{.Title}}</b>: {{.Caption}}</figcaption></figure>
{{end}}</div>
{{end}}`))
