package quality

import (
	"fmt"
	"io"
	"strings"
)

// WriteCSV writes rows as CSV.
func WriteCSV(w io.Writer, rows []Row) error {
	if _, err := fmt.Fprintln(w, "threshold,positives,negatives,correct_hits,false_hits,false_on_negatives,identical_question_hits,exact_hits,recall,false_hit_rate,precision"); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%.3f,%d,%d,%d,%d,%d,%d,%d,%.5f,%.5f,%.5f\n", r.Threshold, r.Positives, r.Negatives,
			r.CorrectHits, r.FalseHits, r.FalseOnNegatives, r.Identical, r.Exact, r.Recall, r.FalseHitRate, r.Precision); err != nil {
			return err
		}
	}
	return nil
}

// WriteMarkdown writes rows as a Markdown table.
func WriteMarkdown(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| threshold | lookups | recall (correct/positives) | false-hit rate (false/negatives) | precision (correct/hits) | identical-question hits | exact hits |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %.3f | %d | %.2f%% (%d/%d) | %.2f%% (%d/%d) | %.3f (%d/%d) | %d | %d |\n", r.Threshold, r.Positives+r.Negatives,
			100*r.Recall, r.CorrectHits, r.Positives, 100*r.FalseHitRate, r.FalseOnNegatives, r.Negatives,
			r.Precision, r.CorrectHits, r.CorrectHits+r.FalseHits, r.Identical, r.Exact)
	}
}

// Curve is one line of the chart.
type Curve struct {
	Name  string
	Color string
	Rows  []Row
}

// WriteSVG draws recall and false-hit rate against the threshold for each
// curve: solid lines are recall, dashed lines the false-hit rate (right
// axis, scaled to 0-5%).
func WriteSVG(w io.Writer, title string, curves []Curve) error {
	const W, H, L, R, T, B = 760, 420, 60, 70, 40, 50
	pw, ph := float64(W-L-R), float64(H-T-B)
	lo, hi := 1.0, 0.0
	for _, c := range curves {
		for _, r := range c.Rows {
			lo, hi = min(lo, r.Threshold), max(hi, r.Threshold)
		}
	}
	if hi <= lo {
		hi = lo + 0.01
	}
	x := func(t float64) float64 { return L + (t-lo)/(hi-lo)*pw }
	yRecall := func(v float64) float64 { return T + ph - v*ph }
	yFHR := func(v float64) float64 { return T + ph - min(v/0.05, 1)*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="22" font-size="15">%s</text>`+"\n", L, escape(title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", L, T, pw, ph)
	for i := 0; i <= 5; i++ {
		v := float64(i) / 5
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`, L-6, yRecall(v)+4, 100*v)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f">%.0f%%</text>`+"\n", W-R+6, yRecall(v)+4, 5*v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", L, W-R, yRecall(v), yRecall(v))
	}
	for t := lo; t <= hi+1e-9; t += (hi - lo) / 6 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.2f</text>`+"\n", x(t), H-B+18, t)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">similarity threshold</text>`+"\n", L+int(pw/2), H-12)
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">recall (solid)</text>`+"\n", T+int(ph/2), T+int(ph/2))
	fmt.Fprintf(&b, `<text x="%d" y="%d" transform="rotate(90 %d %d)" text-anchor="middle">false-hit rate (dashed)</text>`+"\n", W-12, T+int(ph/2), W-12, T+int(ph/2))
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#c00" stroke-dasharray="2 3"/><text x="%d" y="%.1f" fill="#c00">0.5%%</text>`+"\n",
		L, W-R, yFHR(0.005), yFHR(0.005), L+4, yFHR(0.005)-3)
	for i, c := range curves {
		var rec, fhr strings.Builder
		for j, r := range c.Rows {
			sep := " "
			if j == 0 {
				sep = ""
			}
			fmt.Fprintf(&rec, "%s%.1f,%.1f", sep, x(r.Threshold), yRecall(r.Recall))
			fmt.Fprintf(&fhr, "%s%.1f,%.1f", sep, x(r.Threshold), yFHR(r.FalseHitRate))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c.Color, rec.String())
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="6 4" points="%s"/>`+"\n", c.Color, fhr.String())
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", L+10, T+12+16*i, c.Color, L+28, T+16+16*i, escape(c.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
