package period

import (
	"errors"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	tests := []struct {
		in         string
		start, end string // end exclusive
		canonical  string
	}{
		{"2025-01-01/2025-03-31", "2025-01-01", "2025-04-01", "2025-01-01/2025-03-31"},
		{"2025-W10", "2025-03-03", "2025-03-10", "2025-03-03/2025-03-09"},
		{"2025-03", "2025-03-01", "2025-04-01", "2025-03-01/2025-03-31"},
		{"2015-08-20", "2015-08-20", "2015-08-21", "2015-08-20/2015-08-20"},
		{"2024-02", "2024-02-01", "2024-03-01", "2024-02-01/2024-02-29"},
		// ISO week edges: week 1 starting in the previous year, week 53.
		{"2025-W01", "2024-12-30", "2025-01-06", "2024-12-30/2025-01-05"},
		{"2020-W53", "2020-12-28", "2021-01-04", "2020-12-28/2021-01-03"},
		{"2026-W53", "2026-12-28", "2027-01-04", "2026-12-28/2027-01-03"},
		{" 2025-W10 ", "2025-03-03", "2025-03-10", "2025-03-03/2025-03-09"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Start.Equal(day(tt.start)) || !p.End.Equal(day(tt.end)) {
				t.Fatalf("got [%s, %s), want [%s, %s)", p.Start, p.End, tt.start, tt.end)
			}
			if p.String() != tt.canonical {
				t.Fatalf("String() = %q, want %q", p.String(), tt.canonical)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "2025", "2025-13", "2025-W00", "2025-W53", "2021-W53", "2025-02-30",
		"2025-03-31/2025-01-01", "2025-1-1", "yesterday", "2025-01-01/", "/2025-01-01", "2025-W1"} {
		t.Run(in, func(t *testing.T) {
			if _, err := Parse(in); !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error = %v, want ErrSyntax", in, err)
			}
		})
	}
}

func TestLastCompleteWeek(t *testing.T) {
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2025, 3, 12, 15, 0, 0, 0, time.UTC), "2025-W10"},
		// Monday 00:00 UTC: the week that just ended is complete.
		{time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), "2025-W10"},
		{time.Date(2025, 3, 9, 23, 59, 59, 0, time.UTC), "2025-W09"},
		// Sunday late evening in UTC-5 is already Monday in UTC.
		{time.Date(2025, 3, 9, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2025-W10"},
		// Monday morning in UTC+7 (Myanmar is +6:30) is still Sunday in UTC.
		{time.Date(2025, 3, 10, 5, 0, 0, 0, time.FixedZone("ICT", 7*3600)), "2025-W09"},
		// Year boundaries, week 53.
		{time.Date(2021, 1, 5, 0, 0, 0, 0, time.UTC), "2020-W53"},
		{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "2024-W52"},
		{time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC), "2025-W01"},
	}
	for _, tt := range tests {
		t.Run(tt.now.String(), func(t *testing.T) {
			got, ok := LastCompleteWeek(tt.now).ISOWeek()
			if !ok || got != tt.want {
				t.Fatalf("LastCompleteWeek(%s) = %q, want %q", tt.now, got, tt.want)
			}
		})
	}
}

func TestNextAndContains(t *testing.T) {
	w, _ := Parse("2020-W53")
	n := w.Next()
	if s, _ := n.ISOWeek(); s != "2021-W01" {
		t.Fatalf("Next(2020-W53) = %s", s)
	}
	m, _ := Parse("2025-01")
	if m.Next().String() != "2025-02-01/2025-02-28" {
		t.Fatalf("Next(2025-01) = %s", m.Next())
	}
	if !w.Contains(w.Start) || w.Contains(w.End) {
		t.Fatal("Contains is not half-open")
	}
	if got := m.STACDatetime(); got != "2025-01-01T00:00:00Z/2025-01-31T23:59:59.999Z" {
		t.Fatalf("STACDatetime = %s", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"2025-01-01/2025-03-31", "2025-W10", "2025-03", "2015-08-20", "2020-W53", "x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error does not wrap ErrSyntax: %v", err)
			}
			return
		}
		if !p.End.After(p.Start) {
			t.Fatalf("%q: empty period %v", s, p)
		}
		// The canonical form parses back to the same period.
		q, err := Parse(p.String())
		if err != nil || !q.Start.Equal(p.Start) || !q.End.Equal(p.End) {
			t.Fatalf("%q: round trip via %q gave %v, %v", s, p.String(), q, err)
		}
	})
}

func TestRangeAndNames(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	cases := []struct {
		from, to, every string
		first, last     string
		n               int
	}{
		{"2025-01-01", "2025-03-31", "week", "2025-W01", "2025-W14", 14},
		{"2020-12-25", "2021-01-06", "week", "2020-W52", "2021-W01", 3}, // through week 53
		{"2025-01-15", "2025-03-01", "month", "2025-01", "2025-03", 3},
		{"2019-01-01", "2025-12-31", "week", "2019-W01", "2026-W01", 366},
	}
	for _, tc := range cases {
		ps, err := Range(day(tc.from), day(tc.to), tc.every)
		if err != nil {
			t.Fatal(err)
		}
		first, _ := ps[0].Name()
		last, _ := ps[len(ps)-1].Name()
		if first != tc.first || last != tc.last || len(ps) != tc.n {
			t.Errorf("%s..%s by %s: %s..%s, %d periods; want %s..%s, %d", tc.from, tc.to, tc.every, first, last, len(ps), tc.first, tc.last, tc.n)
		}
		for i := 1; i < len(ps); i++ {
			if !ps[i].Start.Equal(ps[i-1].End) {
				t.Fatalf("gap between %s and %s", ps[i-1], ps[i])
			}
		}
	}
	if _, err := Range(day("2025-02-01"), day("2025-01-01"), "week"); err == nil {
		t.Error("a reversed range was accepted")
	}
	if _, err := Range(day("2025-01-01"), day("2025-02-01"), "day"); err == nil {
		t.Error("an unknown cadence was accepted")
	}
	if p, _ := Parse("2025-01-01/2025-01-10"); func() bool { _, ok := p.Name(); return ok }() {
		t.Error("an arbitrary interval has a short name")
	}
}
