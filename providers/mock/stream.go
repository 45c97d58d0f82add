package mock

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/semgate/semgate/providers"
)

// step is what a stream does next.
type step uint8

const (
	stepEvent step = iota // send the next event
	stepEnd               // the stream is over
	stepStall             // hang until the client gives up
)

type phase uint8

const (
	phaseRoles  phase = iota // chat: one role chunk per choice
	phaseTokens              // rounds of one token per unfinished choice
	phaseUsage               // the usage chunk
	phaseDone                // data: [DONE]
	phaseEnd
)

// streamChoice is one choice of a streamed answer.
type streamChoice struct {
	index    int
	text     textGen
	call     *toolCall // nil for a text answer
	off      int       // argument bytes sent
	finished bool
	finish   string
}

func (c *streamChoice) more() bool {
	if c.call != nil {
		return c.off < len(c.call.args)
	}
	return !c.text.done()
}

// stream produces a streamed answer event by event, in wire form. It is a
// pull-based state machine: no goroutine, no buffer of the whole answer.
// Tokens go out in rounds, one per unfinished choice; each round after the
// first waits the inter-token delay.
type stream struct {
	chat       bool
	head       []byte // "data: " and a chunk up to `"choices":[`
	tail       []byte // the rest of a chunk after its choices, and "\n\n"
	choices    []streamChoice
	open       int // unfinished choices
	phase      phase
	idx        int  // next choice in the phase
	round      int  // token round
	waited     bool // the round's delay is over
	itd        time.Duration
	fault      fault // truncate, stall, malformed or none
	faultRound int
	faulted    bool
	usage      bool
	prompt     int
	completion int
}

// newStream prepares the streamed answer to r. It copies what it keeps of
// the request body. f applies halfway through the tokens.
func (c *core) newStream(r *request, f fault) *stream {
	s := &stream{chat: r.endpoint == providers.EndpointChat, itd: c.itd, usage: r.includeUsage, prompt: r.promptTokens}
	switch f {
	case faultTruncate, faultStall, faultMalformed:
		s.fault = f
	}
	s.head = append(s.head, "data: "...)
	if s.chat {
		s.head = append(s.head, `{"id":"chatcmpl-mock-`...)
		s.head = appendHex(s.head, r.hash, 16)
		s.head = append(s.head, `","object":"chat.completion.chunk","created":`...)
	} else {
		s.head = append(s.head, `{"id":"cmpl-mock-`...)
		s.head = appendHex(s.head, r.hash, 16)
		s.head = append(s.head, `","object":"text_completion","created":`...)
	}
	s.head = strconv.AppendInt(s.head, Created, 10)
	s.head = append(s.head, `,"model":`...)
	s.head = appendJSONString(s.head, r.model)
	s.head = append(s.head, `,"system_fingerprint":"`+SystemFingerprint+`","choices":[`...)
	if s.usage {
		s.tail = []byte("],\"usage\":null}\n\n")
	} else {
		s.tail = []byte("]}\n\n")
	}

	longest := 0
	add := func(h uint64) {
		ch := streamChoice{index: len(s.choices)}
		if s.chat && r.callsTool() {
			tc := r.toolCall(h, nil)
			tc.name = strings.Clone(tc.name)
			ch.call, ch.finish = &tc, "tool_calls"
			s.completion += tc.tokens()
			longest = max(longest, tc.fragments())
		} else {
			ch.text = newTextGen(h, c.naturalLen(h), r.maxTokens)
			ch.finish = ch.text.finish()
			s.completion += ch.text.limit
			longest = max(longest, ch.text.limit)
		}
		s.choices = append(s.choices, ch)
	}
	if s.chat {
		s.choices = make([]streamChoice, 0, r.n)
		for i := range r.n {
			add(choiceHash(r.hash, i))
		}
	} else {
		s.choices = make([]streamChoice, 0, r.n*len(r.inputs))
		s.phase = phaseTokens
		for _, in := range r.inputs {
			for j := range r.n {
				add(choiceHash(in.hash, j))
			}
		}
	}
	s.open = len(s.choices)
	s.faultRound = max(1, longest/2)
	return s
}

// settle moves past finished choices and rounds.
func (s *stream) settle() {
	for s.phase == phaseTokens {
		switch {
		case s.open == 0:
			s.phase = phaseDone
			if s.usage {
				s.phase = phaseUsage
			}
		case s.idx == len(s.choices):
			s.idx, s.round, s.waited = 0, s.round+1, false
		case s.choices[s.idx].finished:
			s.idx++
		default:
			return
		}
	}
}

// faultDue reports whether the stream's fault applies now.
func (s *stream) faultDue() bool {
	return s.fault != noFault && !s.faulted && s.round >= s.faultRound
}

// pending reports what comes next and, for an event, how long to wait
// before it.
func (s *stream) pending() (time.Duration, step) {
	s.settle()
	switch s.phase {
	case phaseEnd:
		return 0, stepEnd
	case phaseTokens:
		if s.faultDue() {
			switch s.fault {
			case faultTruncate:
				s.phase = phaseEnd
				return 0, stepEnd
			case faultStall:
				return 0, stepStall
			}
			return 0, stepEvent
		}
		if s.round > 0 && !s.waited && s.choices[s.idx].more() {
			return s.itd, stepEvent
		}
	}
	return 0, stepEvent
}

// emit appends the next event, whatever wait pending asked for.
func (s *stream) emit(dst []byte) []byte {
	s.settle()
	switch s.phase {
	case phaseRoles:
		dst = s.appendRole(dst, &s.choices[s.idx])
		if s.idx++; s.idx == len(s.choices) {
			s.phase, s.idx = phaseTokens, 0
		}
	case phaseTokens:
		if s.faultDue() { // malformed: a chunk cut inside its JSON
			s.faulted = true
			dst = append(dst, s.head...)
			if s.chat {
				return append(dst, "{\"index\":0,\"delta\":{\"content\":\n\n"...)
			}
			return append(dst, "{\"text\":\n\n"...)
		}
		c := &s.choices[s.idx]
		if c.more() {
			dst = s.appendToken(dst, c)
			s.waited = s.waited || s.round > 0
		} else {
			dst = s.appendFinish(dst, c)
			c.finished = true
			s.open--
		}
		s.idx++
	case phaseUsage:
		dst = append(dst, s.head...)
		dst = append(dst, `],"usage":`...)
		if s.chat {
			dst = appendChatUsage(dst, s.prompt, s.completion)
		} else {
			dst = appendUsage(dst, s.prompt, s.completion)
		}
		dst = append(dst, "}\n\n"...)
		s.phase = phaseDone
	case phaseDone:
		dst = append(dst, "data: [DONE]\n\n"...)
		s.phase = phaseEnd
	}
	return dst
}

func (s *stream) appendRole(dst []byte, c *streamChoice) []byte {
	dst = append(dst, s.head...)
	dst = append(dst, `{"index":`...)
	dst = appendInt(dst, c.index)
	if c.call == nil {
		dst = append(dst, `,"delta":{"role":"assistant","content":"","refusal":null}`...)
	} else {
		dst = append(dst, `,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_mock_`...)
		dst = appendHex(dst, c.call.id, 16)
		dst = append(dst, `","type":"function","function":{"name":`...)
		dst = appendJSONString(dst, c.call.name)
		dst = append(dst, `,"arguments":""}}],"refusal":null}`...)
	}
	dst = append(dst, `,"logprobs":null,"finish_reason":null}`...)
	return append(dst, s.tail...)
}

func (s *stream) appendToken(dst []byte, c *streamChoice) []byte {
	dst = append(dst, s.head...)
	switch {
	case !s.chat:
		dst = append(dst, `{"text":"`...)
		dst = c.text.appendNext(dst)
		dst = append(dst, `","index":`...)
		dst = appendInt(dst, c.index)
	case c.call == nil:
		dst = append(dst, `{"index":`...)
		dst = appendInt(dst, c.index)
		dst = append(dst, `,"delta":{"content":"`...)
		dst = c.text.appendNext(dst)
		dst = append(dst, `"}`...)
	default:
		end := c.call.fragment(c.off)
		dst = append(dst, `{"index":`...)
		dst = appendInt(dst, c.index)
		dst = append(dst, `,"delta":{"tool_calls":[{"index":0,"function":{"arguments":`...)
		dst = appendJSONString(dst, unsafeString(c.call.args[c.off:end]))
		dst = append(dst, `}}]}`...)
		c.off = end
	}
	dst = append(dst, `,"logprobs":null,"finish_reason":null}`...)
	return append(dst, s.tail...)
}

func (s *stream) appendFinish(dst []byte, c *streamChoice) []byte {
	dst = append(dst, s.head...)
	if s.chat {
		dst = append(dst, `{"index":`...)
		dst = appendInt(dst, c.index)
		dst = append(dst, `,"delta":{}`...)
	} else {
		dst = append(dst, `{"text":"","index":`...)
		dst = appendInt(dst, c.index)
	}
	dst = append(dst, `,"logprobs":null,"finish_reason":"`...)
	dst = append(dst, c.finish...)
	dst = append(dst, `"}`...)
	return append(dst, s.tail...)
}

// sleeper waits on one reusable timer.
type sleeper struct{ t *time.Timer }

// sleep waits d, or forever when d is negative, unless ctx ends or stop
// is closed first.
func (sl *sleeper) sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	if d == 0 {
		return nil
	}
	var fired <-chan time.Time
	if d > 0 {
		if sl.t == nil {
			sl.t = time.NewTimer(d)
		} else {
			sl.t.Reset(d)
		}
		fired = sl.t.C
	}
	select {
	case <-fired:
		return nil
	case <-ctx.Done():
		sl.stop()
		return ctxError(ctx)
	case <-stop:
		sl.stop()
		return ErrClosed
	}
}

func (sl *sleeper) stop() {
	if sl.t != nil {
		sl.t.Stop()
	}
}

// streamBody is an in-process streamed response body. Each Read produces
// events on demand, as many as fit while no wait is due, and sleeps
// in-line for the inter-token delay: no goroutine is involved. It stops
// when ctx ends or the body is closed.
type streamBody struct {
	s      *stream
	ctx    context.Context
	closed chan struct{}
	once   sync.Once
	sl     sleeper
	buf    []byte
	off    int
	err    error
}

func newStreamBody(ctx context.Context, s *stream) *streamBody {
	return &streamBody{s: s, ctx: ctx, closed: make(chan struct{})}
}

func (b *streamBody) Read(p []byte) (int, error) {
	select {
	case <-b.closed:
		return 0, ErrClosed
	default:
	}
	if b.ctx.Err() != nil {
		return 0, ctxError(b.ctx)
	}
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		return n, nil
	}
	if len(p) == 0 || b.err != nil {
		return 0, b.err
	}
	if b.buf == nil {
		b.buf = make([]byte, 0, min(len(p), 64<<10)+1024) // room for one more event
	}
	b.buf, b.off = b.buf[:0], 0
	for len(b.buf) < len(p) {
		d, st := b.s.pending()
		if st == stepEnd {
			if len(b.buf) == 0 {
				b.err = io.EOF
			}
			break
		}
		if st == stepStall || d > 0 {
			if len(b.buf) > 0 {
				break // deliver what is ready first
			}
			if st == stepStall {
				d = -1
			}
			if err := b.sl.sleep(b.ctx, b.closed, d); err != nil {
				b.err = err
				break
			}
		}
		b.buf = b.s.emit(b.buf)
	}
	n := copy(p, b.buf)
	b.off = n
	if n == 0 {
		return 0, b.err
	}
	return n, nil
}

// Close ends the stream; a Read blocked in a wait returns ErrClosed.
func (b *streamBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}
