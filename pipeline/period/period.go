// Package period owns the time intervals compoundwatch composites over: it
// parses the forms people type (an interval of dates, an ISO week, a month, a
// single day), formats them back as ISO 8601 intervals, and steps through
// weeks and months. Every period is a half-open UTC interval [Start, End).
package period

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("period: bad syntax")

// Period is the half-open UTC interval [Start, End).
type Period struct {
	Start, End time.Time
}

var (
	weekPattern  = regexp.MustCompile(`^(\d{4})-W(\d{2})$`)
	monthPattern = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
)

const dateLayout = "2006-01-02"

// Parse reads one of:
//
//	2025-01-01/2025-03-31  both dates inclusive
//	2025-W10               an ISO 8601 week, Monday to Sunday
//	2025-03                a calendar month
//	2015-08-20             one UTC day
func Parse(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "/"); ok {
		start, err := parseDate(a)
		if err != nil {
			return Period{}, fmt.Errorf("%w: %q: start: %w", ErrSyntax, s, err)
		}
		end, err := parseDate(b)
		if err != nil {
			return Period{}, fmt.Errorf("%w: %q: end: %w", ErrSyntax, s, err)
		}
		if end.Before(start) {
			return Period{}, fmt.Errorf("%w: %q: end is before start", ErrSyntax, s)
		}
		return Period{start, end.AddDate(0, 0, 1)}, nil
	}
	if m := weekPattern.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		w, _ := strconv.Atoi(m[2])
		p, err := Week(y, w)
		if err != nil {
			return Period{}, fmt.Errorf("%w: %q: %w", ErrSyntax, s, err)
		}
		return p, nil
	}
	if m := monthPattern.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		if mo < 1 || mo > 12 {
			return Period{}, fmt.Errorf("%w: %q: month %d", ErrSyntax, s, mo)
		}
		return Month(y, time.Month(mo)), nil
	}
	d, err := parseDate(s)
	if err != nil {
		return Period{}, fmt.Errorf("%w: %q: want YYYY-MM-DD/YYYY-MM-DD, YYYY-Www, YYYY-MM or YYYY-MM-DD", ErrSyntax, s)
	}
	return Period{d, d.AddDate(0, 0, 1)}, nil
}

func parseDate(s string) (time.Time, error) {
	if len(s) != len(dateLayout) {
		return time.Time{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return time.ParseInLocation(dateLayout, s, time.UTC)
}

// Week is ISO week w of ISO year y.
func Week(y, w int) (Period, error) {
	if y < 1 || y > 9999 {
		return Period{}, fmt.Errorf("year %d out of range", y)
	}
	// Monday of week 1 is the Monday on or before 4 January.
	jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	start := monday.AddDate(0, 0, 7*(w-1))
	if w < 1 || w > WeeksInYear(y) {
		return Period{}, fmt.Errorf("week %d: year %d has %d ISO weeks", w, y, WeeksInYear(y))
	}
	return Period{start, start.AddDate(0, 0, 7)}, nil
}

// WeeksInYear is 52 or 53.
func WeeksInYear(y int) int {
	_, w := time.Date(y, 12, 28, 0, 0, 0, 0, time.UTC).ISOWeek()
	return w
}

// Month is the calendar month.
func Month(y int, m time.Month) Period {
	s := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return Period{s, s.AddDate(0, 1, 0)}
}

// WeekOf is the ISO week holding t (in UTC).
func WeekOf(t time.Time) Period {
	y, w := t.UTC().ISOWeek()
	p, _ := Week(y, w)
	return p
}

// LastCompleteWeek is the latest ISO week that ended at or before now (UTC).
func LastCompleteWeek(now time.Time) Period {
	cur := WeekOf(now)
	return Period{cur.Start.AddDate(0, 0, -7), cur.Start}
}

// String is the ISO 8601 interval of dates, both inclusive: 2025-03-03/2025-03-09.
func (p Period) String() string {
	return p.Start.Format(dateLayout) + "/" + p.End.AddDate(0, 0, -1).Format(dateLayout)
}

// ISOWeek names the period as YYYY-Www when it is exactly one ISO week.
func (p Period) ISOWeek() (string, bool) {
	y, w := p.Start.ISOWeek()
	if q, err := Week(y, w); err != nil || !q.Start.Equal(p.Start) || !q.End.Equal(p.End) {
		return "", false
	}
	return fmt.Sprintf("%04d-W%02d", y, w), true
}

// STACDatetime is the closed datetime interval a STAC API expects.
func (p Period) STACDatetime() string {
	return p.Start.Format(time.RFC3339) + "/" + p.End.Add(-time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
}

// Contains reports whether t falls within [Start, End).
func (p Period) Contains(t time.Time) bool {
	return !t.Before(p.Start) && t.Before(p.End)
}

// Next is the period of the same length (or the next week or month, for
// those) immediately after p.
func (p Period) Next() Period {
	if _, ok := p.ISOWeek(); ok {
		return Period{p.End, p.End.AddDate(0, 0, 7)}
	}
	if p.Start.Day() == 1 && p.End.Equal(p.Start.AddDate(0, 1, 0)) {
		return Period{p.End, p.End.AddDate(0, 1, 0)}
	}
	return Period{p.End, p.End.Add(p.End.Sub(p.Start))}
}

// Name is the period's short name when it is one ISO week (2025-W10) or one
// calendar month (2025-03); object keys and plans use it.
func (p Period) Name() (string, bool) {
	if w, ok := p.ISOWeek(); ok {
		return w, true
	}
	if p.Start.Day() == 1 && p.Start.Hour() == 0 && p.End.Equal(p.Start.AddDate(0, 1, 0)) {
		return p.Start.Format("2006-01"), true
	}
	return "", false
}

// Cadences a range can be split by.
const (
	EveryWeek  = "week"
	EveryMonth = "month"
)

// Range lists, in time order, the ISO weeks or calendar months that overlap
// the days from..to (both inclusive).
func Range(from, to time.Time, every string) ([]Period, error) {
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC)
	if to.Before(from) {
		return nil, fmt.Errorf("%w: %s is before %s", ErrSyntax, to.Format(dateLayout), from.Format(dateLayout))
	}
	var p Period
	switch every {
	case EveryWeek:
		p = WeekOf(from)
	case EveryMonth:
		p = Month(from.Year(), from.Month())
	default:
		return nil, fmt.Errorf("%w: every %q: want week or month", ErrSyntax, every)
	}
	var out []Period
	for !p.Start.After(to) {
		out = append(out, p)
		p = p.Next()
	}
	return out, nil
}
