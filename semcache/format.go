package semcache

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// AnswerFormat versions what cache entries hold, apart from the key
// layout (FormatVersion): 3 stores answers exactly as the upstream sent
// them (JSON bodies, or streams as their events). Entries written under an
// older answer format are dropped when the cache opens, so nothing stored
// lossily is ever served; other data (spend totals) is kept.
const AnswerFormat = 3

var answerFormatKey = []byte("\x00answers")

// checkAnswerFormat drops every entry when the store's entries were
// written under an older answer format (or before the record existed), and
// records the current one. It refuses a store written by a newer build. It
// returns how many entries were dropped.
func (s *Store) checkAnswerFormat() (int, error) {
	v, closer, err := s.db.Get(answerFormatKey)
	switch {
	case err == nil:
		n, perr := strconv.Atoi(string(v))
		closer.Close()
		if perr == nil && n == AnswerFormat {
			return 0, nil
		}
		if perr == nil && n > AnswerFormat {
			return 0, fmt.Errorf("%w: cache entries have answer format %d, this build reads %d", ErrFormat, n, AnswerFormat)
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return 0, fmt.Errorf("semcache: read answer format: %w", err)
	}
	n := 0
	if err := s.scanMetaKeys(func() { n++ }); err != nil {
		return 0, err
	}
	if err := s.deleteAll(); err != nil {
		return 0, fmt.Errorf("semcache: drop entries of an older answer format: %w", err)
	}
	if err := s.db.Set(answerFormatKey, []byte(strconv.Itoa(AnswerFormat)), pebble.Sync); err != nil {
		return 0, fmt.Errorf("semcache: write answer format: %w", err)
	}
	return n, nil
}

// scanMetaKeys calls fn once per entry metadata key, reading no values.
func (s *Store) scanMetaKeys(fn func()) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableMeta}, UpperBound: []byte{tableMeta + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		fn()
	}
	return it.Error()
}

// openAnswers runs the answer format check for Open and logs what it
// dropped.
func openAnswers(s *Store, log *slog.Logger) error {
	n, err := s.checkAnswerFormat()
	if err != nil {
		return err
	}
	if n > 0 {
		log.Warn("cache: dropped entries stored under an older answer format", "entries", n, "answer_format", AnswerFormat)
	}
	return nil
}
